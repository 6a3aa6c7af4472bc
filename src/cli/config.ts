/**
 * The config module of `tickwork serve`: `tickwork.config.js` (or `.mjs`, `.ts`, `.mts`) in the working
 * directory, or `--config PATH`, exporting (as default, or as named exports) the tasks the server may run,
 * and optionally the jobs to add at start and the store URL.
 *
 * @example
 * ```js
 * // tickwork.config.js
 * export default {
 *   tasks: {
 *     'send-report': async ({ signal }) => { ... },
 *   },
 *   jobs: [{ id: 'report', taskId: 'send-report', trigger: { type: 'cron', expression: '0 9 * * mon-fri' } }],
 *   store: 'sqlite:./data/tickwork.db',
 * };
 * ```
 * @module
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { z } from 'zod';
import type { TaskFunction } from '../core/scheduler.js';
import { checkTimeZone } from '../core/timezone.js';
import { closest } from '../core/validate.js';
import type { CreateJobBody } from '../http/schemas.js';
import { CliError, EXIT_USAGE } from './program.js';

/** A job of the config: the body of `POST /jobs` (`taskId`, `trigger` in the short or JSON form, options). */
export type ConfigJob = z.input<typeof CreateJobBody>;

/** What a config module exports. */
export interface TickworkConfig {
  /** The tasks, by id: the only code the server (and its API) can run. */
  tasks: Record<string, TaskFunction>;
  /** Jobs added at start (an unchanged job keeps its next run time; a changed one is replaced). */
  jobs?: ConfigJob[];
  /** Store URL (`sqlite:PATH`, `postgres://…`, `redis://…`, `memory:`), below `--store` and `TICKWORK_STORE`. */
  store?: string;
  /** IANA zone of the scheduler (cron and date triggers without their own). @defaultValue the host's */
  timezone?: string;
  /**
   * Whether `jobs` is the whole schedule: at start, before anything fires, every stored job whose id `jobs`
   * does not list is removed (its run history stays, as with `removeJob`), jobs added through the API or the
   * CLI included. Without it, a job removed from the config stays in a persistent store and keeps firing.
   * Leave it off when several servers with different configs share one store. @defaultValue false
   */
  removeUnlistedJobs?: boolean;
}

/** Names looked for in the working directory, in this order. */
export const CONFIG_FILES = [
  'tickwork.config.js',
  'tickwork.config.mjs',
  'tickwork.config.ts',
  'tickwork.config.mts',
] as const;

const CONFIG_KEYS = ['tasks', 'jobs', 'store', 'timezone', 'removeUnlistedJobs'];

/**
 * A config error: `invalid config PATH: FIELD: message`, where `field` is the path of the offending value
 * in the config (`jobs[0].trigger.seconds`, `store`); it is left out when the message names it already.
 */
export function configError(path: string, message: string, field?: string): CliError {
  const named = field === undefined || message.includes(`\`${field}\``);
  return new CliError(`invalid config ${path}: ${named ? '' : `${field}: `}${message}`, EXIT_USAGE);
}

/**
 * The config file to load: `given` (relative to `cwd`), or the first of {@link CONFIG_FILES} in `cwd`.
 * @throws CliError (exit 2) when there is none.
 */
export function findConfig(cwd: string, given?: string): string {
  if (given !== undefined) {
    const path = resolve(cwd, given);
    if (!existsSync(path)) throw new CliError(`config file not found: ${path}`, EXIT_USAGE);
    return path;
  }
  for (const name of CONFIG_FILES) {
    const path = resolve(cwd, name);
    if (existsSync(path)) return path;
  }
  throw new CliError(
    `no config found: create ${CONFIG_FILES[0]} (or .mjs, .ts, .mts) in ${cwd} exporting ` +
      '{ tasks: { id: fn } } (.mjs is an ES module whatever package.json says), or pass --config PATH',
    EXIT_USAGE,
  );
}

/** Imports a module; a TypeScript file under a Node without type stripping goes through `tsx` when installed. */
async function importModule(path: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(path).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (!/\.[cm]?ts$/.test(path) || code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
  }
  let tsx: { tsImport(specifier: string, parent: string): Promise<unknown> };
  try {
    tsx = (await import('tsx/esm/api' as string)) as typeof tsx;
  } catch {
    throw new CliError(
      `cannot load ${path}: this Node cannot import TypeScript; install tsx (npm i -D tsx) or use a .js config`,
      EXIT_USAGE,
    );
  }
  return (await tsx.tsImport(url, import.meta.url)) as Record<string, unknown>;
}

/**
 * Loads and checks a config module: `tasks` must map ids to functions; `jobs` must be an array of job
 * objects (each is validated when added); unknown keys are rejected.
 * @throws CliError (exit 2) naming the problem.
 */
export async function loadConfig(path: string): Promise<TickworkConfig> {
  let mod: Record<string, unknown>;
  try {
    mod = await importModule(path);
  } catch (err) {
    if (err instanceof CliError) throw err;
    const message = (err as Error)?.message ?? String(err);
    // `export default` in a .js file of a package without "type": "module" (Node reads it as CommonJS).
    const hint =
      err instanceof SyntaxError && /\bexport\b|\bimport\b/.test(message) && /\.js$/.test(path)
        ? ': this .js file is read as CommonJS; name it tickwork.config.mjs, or add "type": "module" to package.json'
        : '';
    throw new CliError(`cannot load ${path}: ${message}${hint}`, EXIT_USAGE);
  }
  let value = (mod.default ?? mod) as unknown;
  // A TypeScript module compiled as CommonJS (no `"type": "module"`) nests its default export once more.
  const nested = value as { default?: unknown } | null;
  if (nested && typeof nested === 'object' && Object.keys(nested).join() === 'default')
    value = nested.default;
  const bad = (message: string): never => {
    throw configError(path, message);
  };
  if (value === null || typeof value !== 'object')
    bad('expected an object { tasks, jobs?, store?, timezone?, removeUnlistedJobs? }');
  const config = value as Record<string, unknown>;
  for (const key of Object.keys(config)) {
    if (key !== 'default' && !CONFIG_KEYS.includes(key)) {
      const near = closest(key, CONFIG_KEYS);
      const hint = near === null ? '' : `; did you mean \`${near}\`?`;
      bad(`Unknown option \`${key}\`${hint} (expected ${CONFIG_KEYS.join(', ')})`);
    }
  }
  const tasks = config.tasks;
  if (tasks === null || typeof tasks !== 'object' || Array.isArray(tasks)) {
    bad('expected `tasks` to be an object { id: function }');
  }
  for (const [id, fn] of Object.entries(tasks as object)) {
    if (typeof fn !== 'function') bad(`expected \`tasks.${id}\` to be a function`);
  }
  if (config.jobs !== undefined) {
    if (!Array.isArray(config.jobs)) bad('expected `jobs` to be an array');
    (config.jobs as unknown[]).forEach((job, i) => {
      if (job === null || typeof job !== 'object' || Array.isArray(job))
        bad(`expected \`jobs[${i}]\` to be an object`);
    });
  }
  if (config.store !== undefined && typeof config.store !== 'string')
    bad('expected `store` to be a URL string');
  if (config.removeUnlistedJobs !== undefined && typeof config.removeUnlistedJobs !== 'boolean')
    bad(
      `expected \`removeUnlistedJobs\` to be true or false, got ${JSON.stringify(config.removeUnlistedJobs)}`,
    );
  if (config.timezone !== undefined) {
    try {
      checkTimeZone(config.timezone, 'timezone');
    } catch (err) {
      bad((err as Error).message);
    }
  }
  return config as unknown as TickworkConfig;
}

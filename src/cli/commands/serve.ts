/**
 * `tickwork serve`: a standalone scheduler server (Fastify, the HTTP API and the dashboard under
 * `/scheduler`) running the tasks of a config module (`tickwork.config.js|mjs|ts|mts`, or `--config PATH`).
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { isTickworkError } from '../../core/errors.js';
import { ensureDirectory } from '../../stores/common.js';
import { logSerializers } from '../../core/logger.js';
import type { Scheduler } from '../../core/scheduler.js';
import type { ApiAuthOptions, ApiToken } from '../../http/auth.js';
import { tokenProblem } from '../../http/auth.js';
import { keysAt, triggerFromInput } from '../../http/api.js';
import { ApiError, validationError } from '../../http/errors.js';
import { closest } from '../../core/validate.js';
import { CreateJobBody } from '../../http/schemas.js';
import type { Store } from '../../stores/store.js';
import { configError, findConfig, loadConfig, type TickworkConfig } from '../config.js';
import { CliError, EXIT_ERROR, EXIT_USAGE, type CliContext } from '../program.js';

/** Options of `tickwork serve` (after parsing). */
export interface ServeOptions {
  /** Config module path, relative to the working directory. @defaultValue `tickwork.config.js` (or `.mjs`, `.ts`, `.mts`) */
  config?: string;
  /** Store URL. @defaultValue `TICKWORK_STORE`, the config's `store`, then `sqlite:./data/tickwork-serve.db` */
  store?: string;
  /** Address to listen on. @defaultValue `127.0.0.1` */
  host: string;
  /** Port to listen on (0 for any free one). @defaultValue 8000 */
  port: number;
  /** Admin token. @defaultValue `TICKWORK_TOKEN`, else a random one printed at start */
  token?: string;
  /** `false` (from `--no-auth`) serves the API without authentication. @defaultValue true */
  auth: boolean;
}

/** A running `tickwork serve`. */
export interface RunningServer {
  app: FastifyInstance;
  scheduler: Scheduler;
  /** `http://host:port` */
  url: string;
  /** The admin token (given or generated), or `null` with `--no-auth`. */
  token: string | null;
}

/**
 * The default store: `data/tickwork-serve.db` under the working directory. Not `npm start`'s
 * `data/tickwork.db`: a server on that file would inherit the demo's `tick` job without its task.
 */
export const DEFAULT_STORE = 'sqlite:./data/tickwork-serve.db';

/**
 * The packages `tickwork serve` needs for the store URL `url` that `resolvable` does not find, with how to
 * install them: Fastify, and the store's driver (`better-sqlite3`, `pg` or `ioredis`). Each missing one is
 * named at once, not one per attempt.
 */
export function missingPackages(
  url: string,
  resolvable: (pkg: string) => boolean = (pkg) => {
    try {
      import.meta.resolve(pkg);
      return true;
    } catch {
      return false;
    }
  },
): { pkg: string; install: string }[] {
  const value = url.trim();
  const needed = [{ pkg: 'fastify', install: 'fastify' }];
  if (/^sqlite:/i.test(value) || /\.(?:db|sqlite3?)(?:\?.*)?$/is.test(value))
    needed.push({ pkg: 'better-sqlite3', install: 'better-sqlite3@12' });
  else if (/^postgres(?:ql)?:\/\//i.test(value)) needed.push({ pkg: 'pg', install: 'pg' });
  else if (/^rediss?:\/\//i.test(value)) needed.push({ pkg: 'ioredis', install: 'ioredis@6' });
  return needed.filter((n) => !resolvable(n.pkg));
}

/** The error (exit 1) naming the missing packages and the command that installs them. */
export function missingPackagesError(missing: { pkg: string; install: string }[]): CliError {
  const names = missing.map((m) => m.pkg);
  return new CliError(
    `this needs the ${names.join(' and ')} package${names.length > 1 ? 's' : ''}, which ${
      names.length > 1 ? 'are' : 'is'
    } not installed: npm install ${missing.map((m) => m.install).join(' ')}`,
    EXIT_ERROR,
  );
}

function port(value: string): number {
  if (!/^[0-9]+$/.test(value) || Number(value) > 65_535) {
    throw new InvalidArgumentError('expected a port number from 0 to 65535');
  }
  return Number(value);
}

/**
 * Opens the store; a relative SQLite path is read from `cwd`, and its directory is created. `configPath` is
 * the config file when the URL is its `store`: errors then name the file and the field.
 */
async function openStoreAt(url: string, cwd: string, configPath: string | null): Promise<Store> {
  const usage = (message: string): CliError =>
    configPath === null ? new CliError(message, EXIT_USAGE) : configError(configPath, message, 'store');
  const { openStore, redactUrl, sqliteUrl, sqliteUrlParts } = await import('../../stores/url.js');
  let value = url.trim();
  let directory: string | null = null;
  try {
    // The path ends at the first `?` (the store's options follow) and is percent-decoded; its directory is
    // created once the options were accepted (a refused one creates nothing).
    const sqlite = /^sqlite:/i.test(value) ? sqliteUrlParts(value) : null;
    if (sqlite && sqlite.path !== ':memory:') {
      const path = isAbsolute(sqlite.path) ? sqlite.path : resolve(cwd, sqlite.path);
      directory = dirname(path);
      value = sqliteUrl(path, sqlite.params);
    }
    const store = await openStore(value);
    if (directory !== null) {
      try {
        ensureDirectory(directory);
      } catch (err) {
        throw usage(`store ${redactUrl(url)}: cannot create its directory: ${(err as Error).message}`);
      }
    }
    return store;
  } catch (err) {
    if (err instanceof CliError) throw err;
    // The message repeats the URL: hide its password.
    if (isTickworkError(err)) throw usage(redactUrl(err.message));
    throw err;
  }
}

/** The API's tokens: `--token`/`TICKWORK_TOKEN` (admin, generated when absent) and `TICKWORK_READ_TOKEN`. */
function tokensFor(
  options: ServeOptions,
  env: Record<string, string | undefined>,
): { auth: ApiAuthOptions; token: string | null; generated: boolean } {
  if (!options.auth) return { auth: false, token: null, generated: false };
  const given = options.token ?? (env.TICKWORK_TOKEN || undefined);
  const read = env.TICKWORK_READ_TOKEN || undefined;
  for (const [name, value] of [
    ['--token / TICKWORK_TOKEN', given],
    ['TICKWORK_READ_TOKEN', read],
  ] as const) {
    const problem = value === undefined ? null : tokenProblem(value);
    if (problem) throw new CliError(`${name} ${problem}`, EXIT_USAGE);
  }
  if (read !== undefined && read === given) {
    throw new CliError(
      `TICKWORK_READ_TOKEN is the same as ${options.token === undefined ? 'TICKWORK_TOKEN' : '--token'}: ` +
        'a token has one role; give the read-only token its own value',
      EXIT_USAGE,
    );
  }
  const token = given ?? randomBytes(24).toString('base64url');
  const tokens: ApiToken[] = [{ token, role: 'admin' }];
  if (read !== undefined) tokens.push({ token: read, role: 'read' });
  return { auth: { tokens }, token, generated: given === undefined };
}

/** Defines the config's tasks and adds its jobs (replacing changed ones; unchanged ones keep their times). */
async function applyConfig(scheduler: Scheduler, config: TickworkConfig, path: string): Promise<void> {
  for (const [id, fn] of Object.entries(config.tasks)) scheduler.defineTask(id, fn);
  const seen = new Map<string, number>();
  for (const [i, raw] of (config.jobs ?? []).entries()) {
    const at = `jobs[${i}]`;
    const { trigger: triggerInput, ...rest } = raw as Record<string, unknown>;
    const parsed = CreateJobBody.omit({ trigger: true }).safeParse(rest, { reportInput: true });
    if (!parsed.success) {
      // Named by its path in the config (`jobs[0].maxInstances`), with the key meant for an unknown one.
      const err = validationError(parsed.error, at, null, (p) => keysAt(CreateJobBody, p, raw));
      throw configError(path, err.message, err.details.field);
    }
    const { taskId, ...jobOptions } = parsed.data;
    if (!(taskId in config.tasks)) {
      const near = closest(taskId, Object.keys(config.tasks));
      const hint = near === null ? '' : `; did you mean "${near}"?`;
      throw configError(path, `task "${taskId}" is not in \`tasks\`${hint}`, `${at}.taskId`);
    }
    // Each start adds the config's jobs again (replaceExisting): a job without an id would get a new random
    // one, and another copy in the store, at every start; two with one id would silently be one.
    if (jobOptions.id === undefined) {
      throw configError(
        path,
        'a config job needs an id (without one, every start would add another copy of it to the store)',
        `${at}.id`,
      );
    }
    const first = seen.get(jobOptions.id);
    if (first !== undefined) {
      throw configError(path, `"${jobOptions.id}" is the id of jobs[${first}] already`, `${at}.id`);
    }
    seen.set(jobOptions.id, i);
    try {
      // Trigger errors name their field under `jobs[i].trigger`; the scheduler's under the job.
      const trigger = triggerFromInput(triggerInput, `${at}.trigger`, scheduler.timezone);
      await scheduler.addJob(taskId, trigger, { replaceExisting: true, ...jobOptions });
    } catch (err) {
      if (isTickworkError(err) || err instanceof ApiError) {
        const field = err.details.field;
        const full = field === undefined ? at : field.startsWith(`${at}.`) ? field : `${at}.${field}`;
        throw configError(path, err.message, full);
      }
      throw err;
    }
  }
}

/**
 * Starts the server `tickwork serve` runs (and returns once it listens): the config's tasks and jobs, the
 * store, Fastify with `tickwork/fastify`, the API and the dashboard under `/scheduler`.
 * @throws CliError exit 2 for a bad config, store URL or token; exit 1 when the server cannot listen.
 */
/**
 * `removeUnlistedJobs`: removes every stored job whose id the config's `jobs` do not list (their run
 * history stays), logging each.
 */
async function removeUnlisted(
  scheduler: Scheduler,
  config: TickworkConfig,
  path: string,
  log: (line: string) => void,
): Promise<void> {
  const listed = new Set((config.jobs ?? []).map((j) => j.id));
  for (const job of await scheduler.getJobs()) {
    if (listed.has(job.id)) continue;
    await scheduler.removeJob(job.id);
    log(`Removed job ${JSON.stringify(job.id)}: ${path} does not list it (removeUnlistedJobs)`);
  }
}

export async function startServe(options: ServeOptions, context: CliContext): Promise<RunningServer> {
  const { io, env, cwd } = context;
  const configPath = findConfig(cwd, options.config);
  const config = await loadConfig(configPath);
  const { auth, token, generated } = tokensFor(options, env);
  const level = env.LOG_LEVEL || 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(level)) {
    throw new CliError(
      `LOG_LEVEL must be fatal, error, warn, info, debug, trace or silent, got ${JSON.stringify(level)}`,
      EXIT_USAGE,
    );
  }
  const given = options.store ?? (env.TICKWORK_STORE || undefined);
  const storeUrl = given ?? config.store ?? DEFAULT_STORE;
  const fromConfig = given === undefined && config.store !== undefined;
  const missing = missingPackages(storeUrl);
  if (missing.length > 0) throw missingPackagesError(missing);
  const store = await openStoreAt(storeUrl, cwd, fromConfig ? configPath : null);
  const { importDriver } = await import('../../stores/url.js');
  const { default: Fastify } = await importDriver(() => import('fastify'), 'fastify', 'npm install fastify');
  const { tickwork, tickworkFrameworkErrors } = await import('../../plugins/fastify.js');
  // JSON log lines, as Fastify writes them, through the CLI's output.
  const app = Fastify({
    frameworkErrors: tickworkFrameworkErrors,
    logger: {
      level,
      serializers: logSerializers,
      stream: { write: (line: string) => io.out(line.replace(/\n$/, '')) },
    },
  });
  try {
    await app.register(tickwork, {
      store,
      ...(config.timezone ? { timezone: config.timezone } : {}),
      api: { auth },
      // Started below, once the server listens: a server that cannot listen must not fire jobs or
      // replace the config's jobs in a store other servers share.
      autoStart: false,
      setup: (scheduler) => applyConfig(scheduler, config, configPath),
    });
    app.get('/', async (_request, reply) => reply.redirect('/scheduler/'));
    await app.listen({ host: options.host, port: options.port });
    if (config.removeUnlistedJobs) {
      // Started paused: a job the config no longer lists must not fire once before it is removed.
      await app.scheduler.start({ paused: true });
      await removeUnlisted(app.scheduler, config, configPath, (line) => app.log.info(line));
      app.scheduler.resume();
    } else await app.scheduler.start();
  } catch (err) {
    await app.close().catch(() => {});
    if (err instanceof CliError) throw err;
    // A store that fails (unreachable, refused) is a server error; other TickworkErrors are bad input.
    if (isTickworkError(err))
      throw new CliError(err.message, err.code === 'STORE_ERROR' ? EXIT_ERROR : EXIT_USAGE);
    const code = (err as { code?: string }).code;
    // (ENOTFOUND, EAI_AGAIN: a --host that does not resolve, such as 256.0.0.1)
    if (['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN'].includes(code ?? '')) {
      throw new CliError(
        `cannot listen on ${options.host}:${options.port}: ${(err as Error).message}`,
        EXIT_ERROR,
      );
    }
    throw err;
  }
  const address = app.server.address() as AddressInfo;
  const host = ['0.0.0.0', '::'].includes(options.host)
    ? 'localhost'
    : options.host.includes(':')
      ? `[${options.host}]`
      : options.host;
  const url = `http://${host}:${address.port}`;
  io.err(`tickwork: ${Object.keys(config.tasks).length} task(s) from ${configPath}`);
  io.err(`tickwork: job store ${(await import('../../stores/url.js')).redactUrl(storeUrl)}`);
  io.err(
    `Dashboard: ${url}/scheduler/  token: ${token === null ? '(none: --no-auth)' : generated ? token : '(given)'}`,
  );
  return { app, scheduler: app.scheduler, url, token };
}

/** Resolves when `signal` aborts, or on SIGINT/SIGTERM when there is no signal. */
function stopRequested(signal: AbortSignal | null): Promise<string> {
  if (signal) {
    return new Promise((resolve) =>
      signal.aborted
        ? resolve('abort')
        : signal.addEventListener('abort', () => resolve('abort'), { once: true }),
    );
  }
  return new Promise((resolve) => {
    const on = (name: string) => () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(name);
    };
    const onInt = on('SIGINT');
    const onTerm = on('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
  });
}

/** Registers `serve` on the program. */
export function registerServe(program: Command, context: CliContext): void {
  program
    .command('serve')
    .description('run a scheduler server: the tasks of a config module, the HTTP API and the dashboard')
    .option(
      '-c, --config <path>',
      'config module exporting { tasks, jobs?, store?, timezone?, removeUnlistedJobs? } (default: ./tickwork.config.js|mjs|ts|mts)',
    )
    .option(
      '--store <url>',
      `job store: sqlite:PATH, postgres://..., redis://..., memory: (default: TICKWORK_STORE, the config's, ${DEFAULT_STORE})`,
    )
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('-p, --port <port>', 'port to listen on (0: any free port)', port, 8000)
    .option('--token <token>', 'admin bearer token (default: TICKWORK_TOKEN, else a random one, printed)')
    .option('--no-auth', 'serve the API WITHOUT authentication (only behind something that authenticates)')
    .addHelpText(
      'after',
      [
        '',
        'Environment: TICKWORK_STORE, TICKWORK_TOKEN (admin), TICKWORK_READ_TOKEN (read-only), LOG_LEVEL.',
        'The dashboard is at http://HOST:PORT/scheduler/; stop with Ctrl-C (running jobs are awaited, 30 s at most).',
        '',
        'Example:',
        '  TICKWORK_TOKEN=$(openssl rand -hex 32) tickwork serve --config ./tickwork.config.js --port 8000',
      ].join('\n'),
    )
    .action(async (opts: ServeOptions) => {
      const server = await startServe(opts, context);
      const why = await stopRequested(context.signal);
      server.app.log.info(
        `${why === 'abort' ? 'Stop requested' : `${why} received`}; waiting for running jobs, then closing`,
      );
      await server.app.close();
    });
}

/**
 * `tickwork jobs list|show|add|pause|resume|run|remove`: manage the jobs of a running server through its HTTP
 * API (`--url` / `TICKWORK_URL`, `--token` / `TICKWORK_TOKEN`).
 *
 * Exit codes: 0 ok; 1 server or API error (unreachable, 5xx, a refused token, a conflict such as
 * `MAX_INSTANCES_REACHED`); 2 invalid input (options, a bad URL, a 400 answer, a URL that is not the API);
 * 3 the job does not exist.
 * @module
 */
import { redactUrl } from '../../stores/url.js';
import { InvalidArgumentError, type Command } from 'commander';
import { tokenProblem } from '../../http/auth.js';
import type { JobDetail, JobView as JobViewSchema } from '../../http/schemas.js';
import type { z } from 'zod';
import { CliError, EXIT_ERROR, EXIT_NOT_FOUND, EXIT_USAGE, type CliContext } from '../program.js';

/** Where the API is when neither `--url` nor `TICKWORK_URL` says. */
export const DEFAULT_URL = 'http://127.0.0.1:8000/scheduler';

/** Options shared by the `jobs` subcommands. */
interface ClientOptions {
  url?: string;
  token?: string;
}

/** A small client of the HTTP API for the CLI. */
export class ApiClient {
  private readonly base: string;

  /**
   * @param url the API's base URL, prefix included (`http://127.0.0.1:8000/scheduler`)
   * @param token a bearer token, or none
   * @throws CliError (exit 2) for a URL that is not http(s)
   */
  constructor(
    url: string,
    private readonly token: string | undefined,
  ) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new CliError(`invalid --url ${JSON.stringify(url)}: expected e.g. ${DEFAULT_URL}`, EXIT_USAGE);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new CliError(
        `invalid --url ${JSON.stringify(redactUrl(url))}: expected an http(s) URL`,
        EXIT_USAGE,
      );
    }
    // The base is joined with paths (`/jobs?limit=500`): a query or fragment would end up in the middle, and
    // credentials in the URL would be printed with every error (the token goes in --token / TICKWORK_TOKEN).
    // (A bare `?` or `#` leaves `search` and `hash` empty: the text is checked too.)
    if (/[?#]/.test(url) || parsed.username !== '' || parsed.password !== '') {
      throw new CliError(
        `invalid --url ${JSON.stringify(redactUrl(url))}: expected the API's base URL without user, query or fragment, e.g. ${DEFAULT_URL}`,
        EXIT_USAGE,
      );
    }
    this.base = parsed.href.replace(/\/+$/, '');
  }

  /** The API's base URL, without a trailing slash. */
  get url(): string {
    return this.base;
  }

  /**
   * Calls the API (with `payload` as a JSON body, when given) and returns the parsed body.
   * @throws CliError with the exit code for the failure (see the module's documentation).
   */
  async request<T = unknown>(method: string, path: string, payload?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (payload !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers,
        body: payload === undefined ? undefined : JSON.stringify(payload),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(
        `cannot reach ${this.base}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
        EXIT_ERROR,
      );
    }
    const text = await res.text();
    let body: unknown = undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      throw new CliError(
        `${method} ${this.base}${path} answered ${res.status} with something other than JSON: is --url the ` +
          `tickwork API (e.g. ${DEFAULT_URL})?`,
        res.ok ? EXIT_USAGE : EXIT_ERROR,
      );
    }
    if (res.ok) return body as T;
    const error = (body ?? {}) as { code?: string; message?: string };
    const code = error.code ?? `HTTP_${res.status}`;
    const message = `${clean(error.message ?? res.statusText)} (${code})`;
    if (code === 'JOB_NOT_FOUND' || code === 'RUN_NOT_FOUND') throw new CliError(message, EXIT_NOT_FOUND);
    if (res.status === 404) {
      throw new CliError(`${message}: is --url the API's base (e.g. ${DEFAULT_URL})?`, EXIT_USAGE);
    }
    if (res.status === 401) {
      throw new CliError(`${message}: pass an API token with --token or TICKWORK_TOKEN`, EXIT_ERROR);
    }
    if (res.status === 403) throw new CliError(`${message}: this needs an admin token`, EXIT_ERROR);
    if (res.status === 400 || res.status === 413 || res.status === 415)
      throw new CliError(message, EXIT_USAGE);
    throw new CliError(message, EXIT_ERROR);
  }
}

/** Control characters from the server could drive the terminal: show them escaped. */
export function clean(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex -- the point is to find them
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A job as the API answers it (`GET /jobs`): the API's own schema, as a type only (nothing is loaded). */
type JobView = z.infer<typeof JobViewSchema>;

/** `GET /jobs/{id}`. */
type JobDetailView = z.infer<typeof JobDetail>;

/** Lines of an aligned table. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

function limit(value: string): number {
  if (!/^[0-9]+$/.test(value) || Number(value) < 1)
    throw new InvalidArgumentError('expected an integer >= 1');
  return Number(value);
}

/** `-n` of `jobs show`: how many next fire times, 0 to 100 (the API's `n`). */
function previewCount(value: string): number {
  if (!/^[0-9]+$/.test(value) || Number(value) > 100)
    throw new InvalidArgumentError('expected an integer from 0 to 100');
  return Number(value);
}

/** A duration in milliseconds: decimal digits, with a fraction or not. */
function millis(value: string): number {
  if (!/^[0-9]+(\.[0-9]+)?$/.test(value))
    throw new InvalidArgumentError('expected a number of milliseconds >= 0, e.g. 30000');
  return Number(value);
}

/** A duration in milliseconds, or `none` (no limit; sent as null: commander turns a parsed null into ''). */
function millisOrNone(value: string): number | 'none' {
  return value === 'none' ? value : millis(value);
}

/** The JSON value of an option. @throws CliError (exit 2) when it is not JSON. */
function jsonOption(value: string, option: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch (err) {
    throw new CliError(`${option} is not JSON: ${(err as Error).message}`, EXIT_USAGE);
  }
}

/** The options of `jobs add`. */
interface AddOptions extends ClientOptions {
  task: string;
  cron?: string;
  every?: number;
  at?: string;
  trigger?: string;
  timezone?: string;
  id?: string;
  name?: string;
  args?: string;
  maxInstances?: number;
  misfireGraceTime?: number | 'none';
  coalesce?: boolean;
  jitter?: number;
  timeout?: number | 'none';
  retry?: number;
  paused?: boolean;
  replace?: boolean;
  json?: boolean;
}

/**
 * The `POST /jobs` body of `jobs add`: the trigger from exactly one of `--cron`, `--every`, `--at` and
 * `--trigger` (`--timezone` goes with the first three), the rest as given. Values are checked by the server.
 * @throws CliError (exit 2) for no trigger or more than one, and for `--args` or `--trigger` that are not
 * what they should be.
 */
export function addJobBody(opts: AddOptions): Record<string, unknown> {
  const given = (['cron', 'every', 'at', 'trigger'] as const).filter((k) => opts[k] !== undefined);
  if (given.length !== 1) {
    throw new CliError(
      given.length === 0
        ? 'expected a trigger: --cron <expression>, --every <ms>, --at <date> or --trigger <json>'
        : `${given.map((k) => `--${k}`).join(' and ')} exclude each other: give one trigger`,
      EXIT_USAGE,
    );
  }
  const zone = opts.timezone === undefined ? {} : { timezone: opts.timezone };
  let trigger: unknown;
  if (opts.cron !== undefined) trigger = { type: 'cron', expression: opts.cron, ...zone };
  else if (opts.every !== undefined) trigger = { type: 'interval', milliseconds: opts.every, ...zone };
  else if (opts.at !== undefined) trigger = { type: 'date', runDate: opts.at, ...zone };
  else {
    trigger = jsonOption(opts.trigger!, '--trigger');
    if (trigger === null || typeof trigger !== 'object' || Array.isArray(trigger))
      throw new CliError(
        '--trigger must be a JSON object, e.g. {"type":"interval","seconds":30}',
        EXIT_USAGE,
      );
    if (opts.timezone !== undefined)
      throw new CliError('--timezone goes inside --trigger\'s JSON ("timezone": "...")', EXIT_USAGE);
  }
  const body: Record<string, unknown> = { taskId: opts.task, trigger };
  if (opts.args !== undefined) {
    const args = jsonOption(opts.args, '--args');
    if (!Array.isArray(args)) throw new CliError('--args must be a JSON array, e.g. ["a", 1]', EXIT_USAGE);
    body.args = args;
  }
  const fields = {
    id: opts.id,
    name: opts.name,
    maxInstances: opts.maxInstances,
    misfireGraceTime: opts.misfireGraceTime === 'none' ? null : opts.misfireGraceTime,
    coalesce: opts.coalesce,
    jitter: opts.jitter,
    timeout: opts.timeout === 'none' ? null : opts.timeout,
    retry: opts.retry,
    paused: opts.paused,
    replaceExisting: opts.replace,
  };
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) body[k] = v;
  return body;
}

/** Milliseconds as shown by `jobs show`: `none` for no value. */
const showMs = (v: number | null) => (v === null ? 'none' : `${v} ms`);

/** The lines `jobs show` prints for a job. */
export function showJob(job: JobDetailView): string[] {
  const state = job.paused
    ? job.quarantine !== null
      ? `paused by the scheduler: ${clean(job.quarantine)}`
      : 'paused'
    : job.pending
      ? 'pending (the scheduler has not started)'
      : 'active';
  const retry =
    job.retry === null
      ? 'none'
      : `${job.retry.attempts} attempts, ${job.retry.backoff} backoff from ${job.retry.delay} ms up to ${job.retry.maxDelay} ms${job.retry.jitter ? ' with jitter' : ''}`;
  const lines = table(
    ['id', clean(job.id)],
    [
      ['name', clean(job.name)],
      ['task', clean(job.taskId)],
      ['schedule', `${clean(job.description)} (${clean(job.triggerText)})`],
      ['state', state],
      ['next run', job.paused ? '-' : (job.nextRunTime ?? '-')],
      ['args', clean(JSON.stringify(job.args))],
      ['maxInstances', String(job.maxInstances)],
      ['misfireGraceTime', showMs(job.misfireGraceTime)],
      ['coalesce', String(job.coalesce)],
      ['jitter', showMs(job.jitter)],
      ['timeout', showMs(job.timeout)],
      ['retry', retry],
    ],
  );
  if (job.nextFireTimes.length > 0) {
    lines.push('', job.paused ? 'next fire times (after a resume now):' : 'next fire times:');
    for (const t of job.nextFireTimes) lines.push(`  ${t}`);
  }
  const counts = Object.entries(job.recentRunCounts)
    .map(([status, n]) => `${clean(status)} ${n}`)
    .join(', ');
  lines.push('', job.recentRuns.length === 0 ? 'no runs yet' : `recent runs (the newest 100: ${counts}):`);
  if (job.recentRuns.length > 0) {
    const rows = job.recentRuns.map((r) => [
      r.scheduledFireTime,
      clean(r.status) + (r.manual ? ' (manual)' : ''),
      r.startedAt ?? '-',
      r.duration === null ? '-' : `${r.duration} ms`,
      clean(r.id),
    ]);
    for (const line of table(['SCHEDULED', 'STATUS', 'STARTED', 'DURATION', 'RUN'], rows))
      lines.push(`  ${line}`);
  }
  return lines;
}

function client(opts: ClientOptions, context: CliContext): ApiClient {
  const url = opts.url ?? (context.env.TICKWORK_URL || undefined) ?? DEFAULT_URL;
  const token = opts.token ?? (context.env.TICKWORK_TOKEN || undefined);
  // The same rule (and message) as `tickwork serve`: such a token can never be accepted.
  const problem = token === undefined ? null : tokenProblem(token);
  if (problem) throw new CliError(`--token / TICKWORK_TOKEN ${problem}`, EXIT_USAGE);
  return new ApiClient(url, token);
}

/** The error for an answer that is JSON but not the tickwork API's (`--url` names another server or path). */
function notTheApi(api: ApiClient, path: string): CliError {
  return new CliError(
    `GET ${api.url}${path} did not answer like the tickwork API: is --url the API's base (e.g. ${DEFAULT_URL})?`,
    EXIT_USAGE,
  );
}

/**
 * The path of a job's resource.
 * @throws CliError (exit 2) for an empty id (it named no job: `/jobs//pause` is no route), and for `.` and `..`
 * (a URL resolves `/jobs/..` to `/`, `/jobs/./run` to `/jobs/run`; the server refuses such ids).
 */
const jobPath = (id: string) => {
  if (id === '') throw new CliError('expected a job id, got an empty one', EXIT_USAGE);
  if (id === '.' || id === '..')
    throw new CliError(`a job id is never "." or "..", got ${JSON.stringify(id)}`, EXIT_USAGE);
  return `/jobs/${encodeURIComponent(id)}`;
};

/** Adds `--url` and `--token` to a subcommand. */
function withClient(command: Command): Command {
  return command
    .option('--url <url>', `the API's base URL (default: TICKWORK_URL, else ${DEFAULT_URL})`)
    .option('--token <token>', 'bearer token (default: TICKWORK_TOKEN)');
}

/** Registers `jobs` and its subcommands on the program. */
export function registerJobs(program: Command, context: CliContext): void {
  const { io } = context;
  const jobs = program
    .command('jobs')
    .description("manage a running server's jobs through its HTTP API (see `tickwork serve`)")
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 server or API error, 2 invalid input, 3 job not found.\n' +
        'Example:\n  TICKWORK_URL=http://127.0.0.1:8000/scheduler TICKWORK_TOKEN=... tickwork jobs list',
    );

  withClient(jobs.command('list'))
    .description('list jobs: id, name, schedule, next run, last run, state')
    .option('--paused', 'only paused jobs')
    .option('--active', 'only jobs that are not paused')
    .option('--task <id>', 'only jobs of this task')
    .option('-n, --limit <n>', 'at most this many jobs (default: all)', limit)
    .option('--json', 'print the jobs as JSON (one array)')
    .action(
      async (
        opts: ClientOptions & {
          paused?: boolean;
          active?: boolean;
          task?: string;
          limit?: number;
          json?: boolean;
        },
      ) => {
        if (opts.paused && opts.active)
          throw new CliError('--paused and --active exclude each other', EXIT_USAGE);
        const api = client(opts, context);
        const items: JobView[] = [];
        let cursor: string | null = null;
        const max = opts.limit ?? Infinity;
        do {
          const q = new URLSearchParams({ limit: String(Math.min(500, max - items.length)) });
          if (opts.paused) q.set('paused', 'true');
          if (opts.active) q.set('paused', 'false');
          if (opts.task) q.set('taskId', opts.task);
          if (cursor) q.set('cursor', cursor);
          const path = `/jobs?${q}`;
          const page = await api.request<{ items?: unknown; nextCursor?: unknown } | null>('GET', path);
          if (
            typeof page !== 'object' ||
            page === null ||
            !Array.isArray(page.items) ||
            (page.nextCursor !== null && typeof page.nextCursor !== 'string')
          ) {
            throw notTheApi(api, path);
          }
          items.push(...(page.items as JobView[]));
          cursor = page.nextCursor;
        } while (cursor && items.length < max);
        if (opts.json) {
          io.out(JSON.stringify(items, null, 2));
          return;
        }
        if (items.length === 0) {
          io.out('no jobs');
          return;
        }
        const rows = items.map((j) => [
          clean(j.id),
          clean(j.name),
          clean(j.description),
          j.paused ? '-' : (j.nextRunTime ?? '-'),
          j.lastRun ? `${j.lastRun.status} ${j.lastRun.startedAt ?? j.lastRun.scheduledFireTime}` : 'never',
          j.paused ? 'paused' : j.pending ? 'pending' : 'active',
        ]);
        for (const line of table(['ID', 'NAME', 'SCHEDULE', 'NEXT RUN', 'LAST RUN', 'STATE'], rows))
          io.out(line);
      },
    );

  withClient(jobs.command('show'))
    .description('show a job: schedule, state, policy, next fire times and recent runs')
    .argument('<id>', 'job id')
    .option('-n, --next <count>', 'how many next fire times to show, 0 to 100 (default: 5)', previewCount)
    .option('--json', "print the API's answer as JSON")
    .action(async (id: string, opts: ClientOptions & { next?: number; json?: boolean }) => {
      const api = client(opts, context);
      const path = `${jobPath(id)}${opts.next === undefined ? '' : `?n=${opts.next}`}`;
      const job = await api.request<JobDetailView | null>('GET', path);
      if (
        typeof job !== 'object' ||
        job === null ||
        !Array.isArray(job.nextFireTimes) ||
        !Array.isArray(job.recentRuns)
      ) {
        throw notTheApi(api, path);
      }
      if (opts.json) {
        io.out(JSON.stringify(job, null, 2));
        return;
      }
      for (const line of showJob(job)) io.out(line);
    });

  withClient(jobs.command('add'))
    .description('add a job running a task the server defines (see `GET /status` for its tasks)')
    .requiredOption('--task <id>', 'the task the job runs')
    .option('--cron <expression>', 'a crontab expression (5, 6 or 7 fields, or a nickname like @daily)')
    .option('--every <ms>', 'an interval, in milliseconds', millis)
    .option('--at <date>', 'once, at this ISO 8601 date-time (without an offset: read in --timezone)')
    .option('--trigger <json>', "any trigger in the HTTP API's forms, as JSON")
    .option('--timezone <zone>', "IANA time zone of --cron, --every or --at (default: the server's)")
    .option('--id <id>', 'the job id (default: a random UUID)')
    .option('--name <name>', 'the name shown in logs and the API (default: the task id)')
    .option('--args <json>', "the task's arguments, as a JSON array")
    .option('--max-instances <n>', 'runs going at once (default: 1)', limit)
    .option(
      '--misfire-grace-time <ms>',
      "how late a run may start, in ms, or none (default: the server's)",
      millisOrNone,
    )
    .option('--coalesce', 'collapse a backlog of fire times into one run (the default)')
    .option('--no-coalesce', 'run every fire time of a backlog')
    .option('--jitter <ms>', 'random delay added to each run start, at most this many ms', millis)
    .option('--timeout <ms>', 'abort a run after this many ms, or none', millisOrNone)
    .option('--retry <attempts>', 'attempts in all for a failing run (1 s apart)', limit)
    .option('--paused', 'add the job paused')
    .option(
      '--replace',
      'replace a job with the same --id (its next run time is kept when the trigger is the same)',
    )
    .option('--json', 'print the added job as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        "  tickwork jobs add --task send-report --cron '0 9 * * 1-5' --timezone Europe/Paris --id report\n" +
        '  tickwork jobs add --task tick --every 1000 --max-instances 2\n' +
        '  tickwork jobs add --task cleanup --trigger \'{"type":"calendarInterval","days":1,"hour":3}\'',
    )
    .action(async (opts: AddOptions) => {
      const body = addJobBody(opts);
      const job = await client(opts, context).request<JobView | null>('POST', '/jobs', body);
      if (typeof job !== 'object' || job === null || typeof job.id !== 'string') {
        throw notTheApi(client(opts, context), '/jobs');
      }
      if (opts.json) {
        io.out(JSON.stringify(job, null, 2));
        return;
      }
      io.out(
        `added ${clean(job.id)}: ${clean(job.description)}` +
          (job.paused ? ', paused' : `, next run at ${job.nextRunTime ?? '-'}`),
      );
    });

  withClient(jobs.command('pause'))
    .description('pause a job (it keeps its schedule but does not fire)')
    .argument('<id>', 'job id')
    .action(async (id: string, opts: ClientOptions) => {
      await client(opts, context).request('POST', `${jobPath(id)}/pause`);
      io.out(`paused ${clean(id)}`);
    });

  withClient(jobs.command('resume'))
    .description('resume a paused job from now')
    .argument('<id>', 'job id')
    .action(async (id: string, opts: ClientOptions) => {
      const job: { removed?: boolean; nextRunTime?: string | null } = await client(opts, context).request(
        'POST',
        `${jobPath(id)}/resume`,
      );
      io.out(
        job.removed
          ? `resumed ${clean(id)}: its trigger has no fire time left, so it was removed`
          : `resumed ${clean(id)}, next run at ${job.nextRunTime ?? '-'}`,
      );
    });

  withClient(jobs.command('run'))
    .description('run a job now, outside its schedule (counts against its maxInstances)')
    .argument('<id>', 'job id')
    .action(async (id: string, opts: ClientOptions) => {
      const run: { id: string } = await client(opts, context).request('POST', `${jobPath(id)}/run`);
      io.out(`started run ${clean(run.id)} of ${clean(id)}`);
    });

  withClient(jobs.command('remove'))
    .alias('rm')
    .description('remove a job (pending runs are cancelled; its run history is kept)')
    .argument('<id>', 'job id')
    .action(async (id: string, opts: ClientOptions) => {
      await client(opts, context).request('DELETE', jobPath(id));
      io.out(`removed ${clean(id)}`);
    });
}

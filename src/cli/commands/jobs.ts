/**
 * `tickwork jobs list|pause|resume|run|remove`: manage the jobs of a running server through its HTTP API
 * (`--url` / `TICKWORK_URL`, `--token` / `TICKWORK_TOKEN`).
 *
 * Exit codes: 0 ok; 1 server or API error (unreachable, 5xx, a refused token, a conflict such as
 * `MAX_INSTANCES_REACHED`); 2 invalid input (options, a bad URL, a 400 answer, a URL that is not the API);
 * 3 the job does not exist.
 * @module
 */
import { redactUrl } from '../../stores/url.js';
import { InvalidArgumentError, type Command } from 'commander';
import { tokenProblem } from '../../http/auth.js';
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
   * Calls the API and returns the parsed body.
   * @throws CliError with the exit code for the failure (see the module's documentation).
   */
  async request<T = unknown>(method: string, path: string): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await fetch(this.base + path, { method, headers, signal: AbortSignal.timeout(30_000) });
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

interface JobView {
  id: string;
  name: string;
  description: string;
  triggerText: string;
  paused: boolean;
  pending: boolean;
  nextRunTime: string | null;
  lastRun: { status: string; startedAt: string | null; scheduledFireTime: string } | null;
}

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
 * @throws CliError (exit 2) for an empty id (it named no job: `/jobs//pause` is no route).
 */
const jobPath = (id: string) => {
  if (id === '') throw new CliError('expected a job id, got an empty one', EXIT_USAGE);
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

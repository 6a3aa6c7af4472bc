/**
 * The HTTP API, written once on Web-standard `Request`/`Response`: every framework plugin (`tickwork/fastify`,
 * `tickwork/express`, `tickwork/hono`) mounts the same handler under a prefix.
 *
 * @example
 * ```ts
 * const api = createApi(scheduler, { auth: { tokens: [{ token: process.env.TICKWORK_TOKEN!, role: 'admin' }] } });
 * const response = await api.handle(new Request('http://localhost/scheduler/jobs'));
 * ```
 * @module
 */
import { performance } from 'node:perf_hooks';
import { z, type ZodType } from 'zod';
import type { Clock } from '../core/clock.js';
import { TickworkError, invalidOption } from '../core/errors.js';
import { EVENT_NAMES } from '../core/events.js';
import type { Job } from '../core/job.js';
import type { Logger } from '../core/logger.js';
import { checkScheduler, nextFireTime, type Scheduler } from '../core/scheduler.js';
import { runToJSON, type RunRecord } from '../core/structures.js';
import { dashboardAssets } from '../dashboard/index.js';
import { duration, integer, optionsObject, rejectUnknownKeys } from '../core/validate.js';
import type { JobFilter, RunFilter } from '../stores/store.js';
import { compareCodePoints } from '../stores/common.js';
import { createTrigger, triggerFromJSON, type Trigger } from '../triggers/index.js';
import { TokenAuth, allows, type ApiAuthOptions, type ApiRole } from './auth.js';
import { ApiError, errorResponse, json, validationError } from './errors.js';
import { createMetrics, type MetricsOptions, type SchedulerMetrics } from './metrics.js';
import { buildOpenApi, type OpenApiDocument } from './openapi.js';
import { matchRoute, type Route, type RouteContext } from './router.js';
import {
  CreateJobBody,
  EmptyQuery,
  EventsQuery,
  GetJobQuery,
  IdParams,
  JobDetail,
  JobList,
  JobView,
  ListJobsQuery,
  ListRunsQuery,
  PatchJobBody,
  RemovedJob,
  RunList,
  RunView,
  NodesView,
  StatusView,
  TriggerJson,
  TriggerShorthand,
} from './schemas.js';
import { EventStreams } from './sse.js';

/** Cross-origin requests from browsers. */
export interface CorsOptions {
  /** Origins allowed to call the API (`https://ops.example.com`), or `['*']` for any. */
  origins: string[];
  /** How long browsers may cache a preflight answer, in seconds. @defaultValue 600 */
  maxAge?: number;
}

/**
 * Serves static files under the prefix (the dashboard's hook): called for `GET`/`HEAD` requests that match
 * no API route, with the path below the prefix (`/`, `/app.js`). Return `null` for "not found". Assets
 * are served WITHOUT authentication (a static page holds no data; it calls the API with a token).
 */
export type AssetHandler = (path: string, request: Request) => Response | null | Promise<Response | null>;

/** Options of {@link createApi}. Durations are milliseconds. */
export interface ApiOptions {
  /**
   * Path prefix the API answers under; `''` for the root. Requests outside it get 404.
   * @defaultValue `"/scheduler"`
   */
  prefix?: string;
  /**
   * Bearer tokens and their roles, or `false` for no authentication at all (a warning is logged once).
   * Required: there is no unauthenticated default.
   */
  auth: ApiAuthOptions;
  /** Cross-origin access; off unless given. @defaultValue false */
  cors?: CorsOptions | false;
  /** Largest request body in bytes; a larger one is answered 413 `PAYLOAD_TOO_LARGE`. @defaultValue 65,536 */
  bodyLimit?: number;
  /** Milliseconds between heartbeat comments on `GET /events`. @defaultValue 15,000 */
  heartbeatInterval?: number;
  /** Most `GET /events` streams open at once; more get 503 `TOO_MANY_STREAMS`. @defaultValue 100 */
  maxEventStreams?: number;
  /** Prometheus metrics at `GET /metrics`, or `false` to leave the route out. @defaultValue `{}` */
  metrics?: MetricsOptions | false;
  /** Static files under the prefix (see {@link AssetHandler}); asked before the dashboard. @defaultValue none */
  assets?: AssetHandler;
  /**
   * Serve the dashboard (`src/dashboard`) at `GET <prefix>/`: a static page that calls this API with the
   * token the user types in. Its files are public; the data is not. @defaultValue true
   */
  dashboard?: boolean;
  /** Logger for unexpected errors and warnings. @defaultValue the scheduler's */
  logger?: Logger;
  /** Clock for the event-stream heartbeat. @defaultValue the scheduler's */
  clock?: Clock;
}

/** Options of {@link TickworkApi.handle}. */
export interface HandleOptions {
  /** The prefix for this request, when the framework mounted the API elsewhere than `options.prefix`. */
  prefix?: string;
}

/** The API: a `Request` → `Response` function, its route table and resources. */
export interface TickworkApi {
  /** Answers one request. Never rejects: every error becomes an error response. */
  handle(request: Request, options?: HandleOptions): Promise<Response>;
  /** Ends open event streams and stops updating metrics. Idempotent. */
  close(): void;
  /** The configured prefix (`/scheduler`). */
  readonly prefix: string;
  /** The route table (paths below the prefix). */
  readonly routes: readonly Route[];
  /** The metrics, or `null` when disabled. */
  readonly metrics: SchedulerMetrics | null;
  /** The OpenAPI 3.1 document, for `prefix` (default: the configured one). */
  openapi(prefix?: string): OpenApiDocument;
}

const API_OPTION_KEYS = [
  'prefix',
  'auth',
  'cors',
  'bodyLimit',
  'heartbeatInterval',
  'maxEventStreams',
  'metrics',
  'assets',
  'dashboard',
  'logger',
  'clock',
];

/** The bodies as validated at run time: the trigger is checked by {@link triggerFromInput}, field by field. */
const CreateJobRuntime = CreateJobBody.extend({ trigger: z.unknown() });
const PatchJobRuntime = PatchJobBody.extend({ trigger: z.unknown().optional() });

/** Keys of a PATCH /jobs/{id} body that mean pausing or resuming, which have endpoints of their own. */
const PAUSE_KEYS = new Set([
  'paused',
  'pause',
  'resume',
  'resumed',
  'active',
  'enabled',
  'disabled',
  'state',
  'status',
]);

/** Trigger kinds whose short form takes the scheduler's zone when it gives none. */
const ZONED_KINDS = new Set(['date', 'cron', 'calendarInterval']);

/** Validates a prefix: `''` or `/a/b` (a trailing slash is dropped). */
function checkPrefix(value: unknown): string {
  if (value === undefined) return '/scheduler';
  if (typeof value !== 'string' || (value !== '' && !/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(value))) {
    throw invalidOption('prefix', 'a path starting with "/" (or "" for the root)', value);
  }
  return value.replace(/\/+$/, '');
}

/** Validates {@link ApiOptions}; used by the framework plugins too. */
function resolveOptions(options: ApiOptions) {
  const opts = optionsObject(options, 'options');
  rejectUnknownKeys(opts, API_OPTION_KEYS);
  if (opts.auth === undefined) {
    throw new TickworkError(
      'INVALID_OPTION',
      'Expected `auth` to be `{ tokens: [{ token, role }] }`, or `false` to serve the API without ' +
        'authentication; there is no unauthenticated default',
      { field: 'auth' },
    );
  }
  let cors: Required<CorsOptions> | null = null;
  if (opts.cors !== undefined && opts.cors !== false) {
    const c = optionsObject(opts.cors, 'cors');
    rejectUnknownKeys(c, ['origins', 'maxAge'], 'cors.');
    if (!Array.isArray(c.origins) || !c.origins.every((o) => typeof o === 'string' && o.length > 0)) {
      throw invalidOption('cors.origins', 'an array of origins (or ["*"])', c.origins);
    }
    cors = {
      origins: c.origins as string[],
      maxAge: c.maxAge === undefined ? 600 : integer(c.maxAge, 'cors.maxAge', 0),
    };
  }
  if (opts.assets !== undefined && typeof opts.assets !== 'function') {
    throw invalidOption('assets', 'a function (path, request) => Response | null', opts.assets);
  }
  if (opts.dashboard !== undefined && typeof opts.dashboard !== 'boolean') {
    throw invalidOption('dashboard', 'a boolean', opts.dashboard);
  }
  const own = (opts.assets as AssetHandler | undefined) ?? null;
  const dashboard = opts.dashboard === false ? null : dashboardAssets();
  const assets: AssetHandler | null =
    own && dashboard
      ? async (path, request) => (await own(path, request)) ?? dashboard(path, request)
      : (own ?? dashboard);
  return {
    prefix: checkPrefix(opts.prefix),
    auth: opts.auth === false ? null : new TokenAuth(opts.auth as { tokens: [] }),
    cors,
    bodyLimit: opts.bodyLimit === undefined ? 65_536 : integer(opts.bodyLimit, 'bodyLimit', 1),
    heartbeatInterval:
      opts.heartbeatInterval === undefined
        ? 15_000
        : duration(opts.heartbeatInterval, 'heartbeatInterval', 1),
    maxEventStreams:
      opts.maxEventStreams === undefined ? 100 : integer(opts.maxEventStreams, 'maxEventStreams', 1),
    metrics: opts.metrics === false ? null : metricsOptions(opts.metrics),
    assets,
  };
}

/** A metric name prefix: Prometheus metric names are `[a-zA-Z_:][a-zA-Z0-9_:]*`. */
const METRIC_PREFIX = /^(?:[a-zA-Z_:][a-zA-Z0-9_:]*)?$/;

/**
 * The `metrics` option, checked: a prefix that would make invalid metric names, or a registry that is not a
 * prom-client `Registry`, is refused here, naming the field, rather than by prom-client's bare `Error`.
 */
function metricsOptions(value: unknown): MetricsOptions {
  const m = optionsObject(value, 'metrics');
  rejectUnknownKeys(m, ['registry', 'prefix'], 'metrics.');
  if (m.prefix !== undefined && (typeof m.prefix !== 'string' || !METRIC_PREFIX.test(m.prefix))) {
    throw invalidOption(
      'metrics.prefix',
      'a metric name prefix of ASCII letters, digits, `_` and `:`, not starting with a digit',
      m.prefix,
    );
  }
  if (
    m.registry !== undefined &&
    (m.registry === null ||
      typeof m.registry !== 'object' ||
      typeof (m.registry as { registerMetric?: unknown }).registerMetric !== 'function')
  ) {
    throw invalidOption('metrics.registry', 'a prom-client `Registry`', m.registry);
  }
  return m as MetricsOptions;
}

/** Parses `value` with `schema`, turning the first problem into a 400 naming the field. */
function parse<S extends ZodType>(
  schema: S,
  value: unknown,
  prefix = '',
  query: Record<string, string> | null = null,
): z.output<S> {
  const r = schema.safeParse(value, { reportInput: true });
  if (!r.success) throw validationError(r.error, prefix, query, (path) => keysAt(schema, path, value));
  return r.data;
}

/**
 * The keys of the object schema at `path` within `schema` (through optional, nullable, default and pipe
 * wrappers, and through a discriminated union to the option that `input`'s discriminator picks: a short
 * trigger's `type`, or through a union with one object option: `retry`), for a "did you mean" on an
 * unknown key; `undefined` where it cannot tell (another union).
 */
export function keysAt(
  schema: ZodType,
  path: readonly PropertyKey[],
  input?: unknown,
): readonly string[] | undefined {
  let s: unknown = schema;
  let value: unknown = input;
  let i = 0;
  for (;;) {
    const def = (s as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (!def) return undefined;
    const type = def.type;
    if (type === 'object') {
      const shape = def.shape as Record<string, unknown>;
      if (i === path.length) return Object.keys(shape);
      const key = String(path[i++]);
      s = shape[key];
      value =
        value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
    } else if (type === 'union' && typeof def.discriminator === 'string') {
      const field = def.discriminator;
      const tag =
        value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[field] : undefined;
      // The option whose discriminator is a literal of that value.
      s = (def.options as ZodType[]).find((option) => {
        const literal = (option as { _zod?: { def?: { shape?: Record<string, ZodType> } } })._zod?.def
          ?.shape?.[field];
        const values = (literal as { _zod?: { def?: { values?: unknown[] } } } | undefined)?._zod?.def
          ?.values;
        return values?.includes(tag) === true;
      });
      if (s === undefined) return undefined;
    } else if (type === 'union') {
      // A union with one object option (`retry`: a number, an object or null): that option.
      const objects = (def.options as ZodType[]).filter(
        (option) => (option as { _zod?: { def?: { type?: string } } })._zod?.def?.type === 'object',
      );
      if (objects.length !== 1) return undefined;
      s = objects[0];
    } else if (['optional', 'nullable', 'default', 'prefault', 'readonly'].includes(String(type))) {
      s = def.innerType;
    } else if (type === 'pipe') {
      s = def.in;
    } else return undefined;
  }
}

/**
 * The query string as one value per parameter.
 * @throws ApiError 400 `INVALID_OPTION` for a parameter given more than once (`?limit=1&limit=2`): which
 *   one was meant is not known (lists are comma-separated: `status=failed,missed`); and for one without a
 *   value (`?limit=`).
 */
function queryOf(params: URLSearchParams): Record<string, string> {
  // No prototype: a parameter named `__proto__` is a key like any other (and refused as unknown).
  const query: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, value] of params) {
    if (Object.hasOwn(query, key)) {
      const values = params.getAll(key);
      throw new ApiError(
        'INVALID_OPTION',
        `Expected \`${key}\` to be given once, got ${values.length} values`,
        { field: key, value: values },
        400,
      );
    }
    if (value === '') {
      // `?limit=` would read as 0 (a number) or pass unseen: say that a value is missing.
      throw new ApiError('INVALID_OPTION', `Expected \`${key}\` to have a value`, { field: key, value }, 400);
    }
    query[key] = value;
  }
  return query;
}

/** Re-prefixes the field of a trigger error (`seconds` → `trigger.seconds`). */
function prefixField(err: unknown, path: string): unknown {
  if (!(err instanceof TickworkError)) return err;
  const field = err.details.field;
  const full =
    field === undefined || field === 'trigger' ? path : field.startsWith(path) ? field : `${path}.${field}`;
  return new TickworkError(err.code, err.message, { ...err.details, field: full }, { cause: err });
}

/**
 * Builds a trigger from either input form: its JSON (recognised by `version`) or the short form
 * `{ type, ...options }`; short forms of zoned kinds take `timezone` when they give none.
 * @throws ApiError/TickworkError 400 naming the field under `path`.
 */
export function triggerFromInput(value: unknown, path: string, timezone: string): Trigger {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ApiError('INVALID_OPTION', `Expected \`${path}\` to be a trigger object`, { field: path }, 400);
  }
  try {
    if ('version' in value) return triggerFromJSON(parse(TriggerJson, value, path));
    const { type, ...options } = parse(TriggerShorthand, value, path) as { type: string } & Record<
      string,
      unknown
    >;
    if (ZONED_KINDS.has(type) && options.timezone === undefined) options.timezone = timezone;
    if (type === 'and' || type === 'or') {
      const children = options.triggers as unknown[];
      options.triggers = children.map((c, i) => triggerFromInput(c, `${path}.triggers.${i}`, timezone));
    }
    return createTrigger(type, options);
  } catch (err) {
    throw prefixField(err, path);
  }
}

/** A run in summary. */
function runSummary(run: RunRecord) {
  return {
    id: run.id,
    status: run.status,
    manual: run.manual,
    scheduledFireTime: run.scheduledFireTime.toISOString(),
    startedAt: run.startedAt?.toISOString() ?? null,
    finishedAt: run.finishedAt?.toISOString() ?? null,
    duration: runDuration(run),
  };
}

/**
 * How long a run took, in ms: `finishedAt − startedAt`; `null` before it finished, for an `abandoned` run,
 * whose `finishedAt` is when its expired lease was found, not when it stopped, and for a run cancelled while
 * it waited for a retry (`notBefore`, the retry's time, after its last start): its attempt had ended before.
 */
function runDuration(run: RunRecord): number | null {
  if (!run.startedAt || !run.finishedAt || run.status === 'abandoned') return null;
  if (run.status === 'cancelled' && run.notBefore.getTime() > run.startedAt.getTime()) return null;
  return run.finishedAt.getTime() - run.startedAt.getTime();
}

/**
 * A run in full, with its duration and lateness: how long after it was due its (last) attempt started: the
 * scheduled fire time for a first attempt, the retry's time (`notBefore`) for a later one.
 */
function runView(run: RunRecord) {
  const due = run.attempt > 1 ? run.notBefore : run.scheduledFireTime;
  return {
    ...runToJSON(run),
    duration: runDuration(run),
    lateness: run.startedAt ? run.startedAt.getTime() - due.getTime() : null,
  };
}

function jobView(job: Job, lastRun: RunRecord | null | undefined) {
  return { ...job.toJSON(), pending: job.pending, lastRun: lastRun ? runSummary(lastRun) : null };
}

function jobNotFound(id: string): TickworkError {
  return new TickworkError('JOB_NOT_FOUND', `No job with id "${id}"`, { field: 'id', value: id });
}

function encodeCursor(value: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string, sort: string): { after?: string; offset?: number } {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (v.s === sort && typeof v.a === 'string') return { after: v.a };
    if (v.s === sort && typeof v.o === 'number' && Number.isInteger(v.o) && v.o >= 0) return { offset: v.o };
  } catch {
    // fall through
  }
  throw new ApiError(
    'INVALID_OPTION',
    'Expected `cursor` to be the `nextCursor` of a previous page with the same `sort`',
    { field: 'cursor' },
    400,
  );
}

function decodeRunCursor(cursor: string): { time: number; skip: number; last?: string } {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>;
    // `t` is a fire time in epoch ms: within the Date range (the bound `t + 1` must be a valid Date too).
    const inRange = Number.isSafeInteger(v.t) && Math.abs(v.t as number) < MAX_DATE_MS;
    if (inRange && Number.isSafeInteger(v.k) && (v.k as number) >= 0) {
      // `l`: the id of the page's last run (cursors made before it was added have none).
      if (typeof v.l === 'string' && (v.k as number) >= 1) {
        return { time: v.t as number, skip: v.k as number, last: v.l };
      }
      if (v.l === undefined) return { time: v.t as number, skip: v.k as number };
    }
  } catch {
    // fall through
  }
  throw new ApiError(
    'INVALID_OPTION',
    'Expected `cursor` to be the `nextCursor` of a previous page of runs',
    { field: 'cursor' },
    400,
  );
}

/** `encodeURIComponent`, or `null` for a string it cannot encode (a lone surrogate). */
function encodePathSegment(value: string): string | null {
  try {
    return encodeURIComponent(value);
  } catch {
    return null;
  }
}

/** The largest epoch milliseconds a `Date` holds (±8.64e15). */
const MAX_DATE_MS = 8.64e15;

/** Deepest nesting of arrays and objects accepted in a request body. */
const MAX_BODY_DEPTH = 64;

/**
 * The top-level field of `value` (a parsed JSON body) under which arrays and objects nest deeper than
 * `max`, `"body"` when the body itself is, or `null`. Iterative: any depth is measured without recursion.
 */
function tooDeep(value: unknown, max: number): string | null {
  const stack: { v: unknown; depth: number; field: string }[] = [{ v: value, depth: 0, field: 'body' }];
  while (stack.length > 0) {
    const { v, depth, field } = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= max) return field;
    const top = depth === 0 && !Array.isArray(v);
    for (const [k, child] of Object.entries(v))
      stack.push({ v: child, depth: depth + 1, field: top ? k : field });
  }
  return null;
}

/** Calls `fn` over `items`, at most `limit` at a time. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Creates the API for `scheduler`. Routes (below `prefix`): `GET /jobs`, `POST /jobs`, `GET|PATCH|DELETE
 * /jobs/:id`, `POST /jobs/:id/pause|resume|run`, `GET /runs`, `GET /runs/:id`, `GET /status`,
 * `GET /events`, `GET /metrics`, `GET /openapi.json`; see `docs/http.md`.
 *
 * @throws TickworkError `INVALID_OPTION` (naming the option; `auth` when it is missing), `UNKNOWN_OPTION`.
 */
export function createApi(scheduler: Scheduler, options: ApiOptions): TickworkApi {
  checkScheduler(scheduler);
  const o = resolveOptions(options);
  const logger = options.logger ?? scheduler.logger;
  const clock = options.clock ?? scheduler.clock;
  if (!o.auth) {
    logger.warn(
      { prefix: o.prefix },
      'The tickwork HTTP API is served WITHOUT authentication (auth: false): anyone who can reach it can ' +
        'create, run and remove jobs',
    );
  }
  let metrics: SchedulerMetrics | null = null;
  if (o.metrics) {
    try {
      metrics = createMetrics(scheduler, o.metrics);
    } catch (err) {
      // prom-client refuses a name registered already: a `metrics.registry` shared with another API.
      throw new TickworkError(
        'INVALID_OPTION',
        `Expected \`metrics.registry\` to hold no tickwork metrics with the prefix ` +
          `"${o.metrics.prefix ?? 'tickwork_'}" already: ${(err as Error).message}; give each API its own ` +
          `registry or prefix`,
        { field: 'metrics.registry' },
      );
    }
  }
  const streams = new EventStreams(scheduler, clock, {
    heartbeatInterval: o.heartbeatInterval,
    maxStreams: o.maxEventStreams,
    maxQueued: 1000,
  });
  let closed = false;

  const getJob = async (id: string): Promise<Job> => {
    const job = await scheduler.getJob(id);
    if (!job) throw jobNotFound(id);
    return job;
  };
  // The newest run of the job, counting only runs created at or after the job itself: runs of an earlier,
  // removed job with the same id are history, not this job's last run.
  const lastRunOf = async (jobId: string): Promise<RunRecord | null> => {
    if (!scheduler.running) return null;
    // From the store: a stored id the API would not accept (written by hand: empty, too long, a control
    // character) must not fail the whole listing.
    const runs = await scheduler.store.getRuns({ jobId, limit: 10 });
    if (runs.length === 0) return null; // no run at all: no need to read the job's creation time
    const since = (await scheduler.store.getJob(jobId))?.createdAt.getTime() ?? -Infinity;
    return runs.find((r) => r.createdAt.getTime() >= since) ?? null;
  };
  /**
   * How many runs matching `filter` at fire time `time` come up to run `id` in the stores' order (ties by id,
   * descending, by code point: see `RunFilter`): those with an id from `id` on. The run itself need not exist
   * any more (retention deleted it): the runs after it are still found where they stand. `null` when `filter`
   * leaves out `time`.
   */
  const positionAtTime = async (filter: RunFilter, time: number, id: string): Promise<number | null> => {
    const atTime: RunFilter = { ...filter, from: new Date(time), to: new Date(time + 1), limit: 500 };
    if (filter.from !== undefined && filter.from.getTime() > time) return null;
    let seen = 0;
    for (let offset = 0; ; offset += 500) {
      const runs = await scheduler.getRuns({ ...atTime, offset });
      for (const r of runs) {
        if (compareCodePoints(r.id, id) < 0) return seen;
        seen++;
      }
      if (runs.length < 500) return seen;
    }
  };
  // Never throws (it runs after the job was created): an id that no URL can address ("." and "..", which
  // URL parsers resolve away, or a lone surrogate, which cannot be percent-encoded) gets no `Location`.
  const jobLocation = (prefix: string, id: string): Record<string, string> => {
    const path = id === '.' || id === '..' ? null : encodePathSegment(id);
    return path === null ? {} : { location: `${prefix}/jobs/${path}` };
  };

  const errors = {
    notFound: { description: 'No job with this id (`JOB_NOT_FOUND`)' },
    notRunning: { description: 'The scheduler is not running (`SCHEDULER_NOT_RUNNING`)' },
  };

  const routes: Route[] = [
    {
      method: 'GET',
      path: '/jobs',
      operationId: 'listJobs',
      summary: 'List jobs',
      tag: 'jobs',
      role: 'read',
      query: ListJobsQuery,
      responses: { 200: { description: 'A page of jobs', schema: JobList } },
      async handler({ query: q }: RouteContext<z.output<typeof ListJobsQuery>>) {
        // The store filters, sorts and pages (one row more than the page tells whether another follows). By
        // id, pages are keyset (`afterId`: page 200 costs what page 1 does); by next run time or name, they
        // are offsets into the store's order.
        const filter: JobFilter = { sort: q.sort, limit: q.limit + 1 };
        if (q.taskId !== undefined) filter.taskId = q.taskId;
        if (q.paused !== undefined) filter.paused = q.paused;
        const cursor = q.cursor !== undefined ? decodeCursor(q.cursor, q.sort) : {};
        const keyset = q.sort === 'id' && q.offset === undefined && cursor.offset === undefined;
        const offset = keyset ? 0 : (cursor.offset ?? q.offset ?? 0);
        if (keyset && cursor.after !== undefined) filter.afterId = cursor.after;
        if (offset > 0) filter.offset = offset;
        const jobs = await scheduler.getJobs(filter);
        const page = jobs.slice(0, q.limit);
        const more = jobs.length > q.limit;
        const last = page[page.length - 1];
        const nextCursor =
          more && last
            ? encodeCursor(keyset ? { s: q.sort, a: last.id } : { s: q.sort, o: offset + q.limit })
            : null;
        const runs = await mapLimit(page, 16, (j) => lastRunOf(j.id));
        return json({ items: page.map((j, i) => jobView(j, runs[i])), nextCursor });
      },
    },
    {
      method: 'POST',
      path: '/jobs',
      operationId: 'createJob',
      summary: 'Create a job for a registered task',
      tag: 'jobs',
      role: 'admin',
      body: CreateJobBody,
      responses: {
        201: { description: 'The job', schema: JobView },
        400: { description: 'Invalid input, or a task that is not registered (`TASK_NOT_FOUND`)' },
        409: { description: 'A job with this id exists (`JOB_CONFLICT`)' },
      },
      async handler({ body, prefix }: RouteContext) {
        const raw = await body();
        const { trigger: triggerInput, taskId, ...jobOptions } = parse(CreateJobRuntime, raw);
        if (triggerInput === undefined) {
          throw new ApiError('INVALID_OPTION', 'Expected `trigger` to be given', { field: 'trigger' }, 400);
        }
        if (!scheduler.getTaskIds().includes(taskId)) {
          throw new ApiError(
            'TASK_NOT_FOUND',
            `No task "${taskId}" is registered; a job can only run a task the server defined`,
            { field: 'taskId', value: taskId },
            400,
          );
        }
        const trigger = triggerFromInput(triggerInput, 'trigger', scheduler.timezone);
        const job = await scheduler.addJob(taskId, trigger, jobOptions);
        return json(jobView(job, null), 201, jobLocation(prefix, job.id));
      },
    },
    {
      method: 'GET',
      path: '/jobs/:id',
      operationId: 'getJob',
      summary: 'A job with its next fire times and recent runs',
      tag: 'jobs',
      role: 'read',
      query: GetJobQuery,
      responses: { 200: { description: 'The job', schema: JobDetail }, 404: errors.notFound },
      async handler({ params, query }: RouteContext<z.output<typeof GetJobQuery>>) {
        const job = await getJob(params.id!);
        const now = new Date(clock.now());
        const nextFireTimes: string[] = [];
        let t = job.nextRunTime ?? (job.paused ? nextFireTime(job.trigger, null, now) : null);
        while (t && nextFireTimes.length < query.n) {
          nextFireTimes.push(t.toISOString());
          t = nextFireTime(job.trigger, t, now);
        }
        let runs = scheduler.running ? await scheduler.getRuns({ jobId: job.id, limit: 100 }) : [];
        // Only this job's runs: not those of an earlier, removed job that had the same id.
        const since =
          runs.length > 0 ? (await scheduler.store.getJob(job.id))?.createdAt.getTime() : undefined;
        if (since !== undefined) runs = runs.filter((r) => r.createdAt.getTime() >= since);
        const recentRunCounts: Record<string, number> = {};
        for (const r of runs) recentRunCounts[r.status] = (recentRunCounts[r.status] ?? 0) + 1;
        return json({
          ...jobView(job, runs[0]),
          nextFireTimes,
          recentRuns: runs.slice(0, 10).map(runSummary),
          recentRunCounts,
        });
      },
    },
    {
      method: 'PATCH',
      path: '/jobs/:id',
      operationId: 'modifyJob',
      summary: 'Change a job (name, args, policy) and/or its trigger',
      tag: 'jobs',
      role: 'admin',
      body: PatchJobBody,
      responses: {
        200: { description: 'The job', schema: JobView },
        404: errors.notFound,
        409: {
          description:
            'A new `trigger` was not written: the job kept changing meanwhile (`JOB_VERSION_CONFLICT`); nothing changed, send it again',
        },
      },
      async handler({ params, body, prefix }: RouteContext) {
        const id = params.id!;
        const raw = await body();
        let parsed: z.output<typeof PatchJobRuntime>;
        try {
          // No body at all reads as no change; a JSON `null` is a body of the wrong type, as for POST.
          parsed = parse(PatchJobRuntime, raw === undefined ? {} : raw);
        } catch (err) {
          // Pausing is not a field to patch: point to the endpoints that do it.
          if (
            err instanceof ApiError &&
            err.code === 'UNKNOWN_OPTION' &&
            PAUSE_KEYS.has(String(err.details.field))
          ) {
            const path = `${prefix}/jobs/${encodeURIComponent(id)}`;
            throw new ApiError(
              'UNKNOWN_OPTION',
              `${err.message}; to pause or resume a job, send POST ${path}/pause or POST ${path}/resume`,
              err.details,
              400,
            );
          }
          throw err;
        }
        const { trigger: triggerInput, ...changes } = parsed;
        if (triggerInput === undefined && Object.keys(changes).length === 0) {
          throw new ApiError(
            'INVALID_OPTION',
            `Expected at least one of ${Object.keys(PatchJobBody.shape).join(', ')}`,
            { field: 'body' },
            400,
          );
        }
        // The trigger is built before anything changes (a bad one changes nothing), then written with the other
        // fields in one update (modifyJob): all or nothing, even when its only fire time passes during the
        // write. A given nextRunTime wins over the new trigger's; a paused job stays paused.
        const trigger =
          triggerInput === undefined ? null : triggerFromInput(triggerInput, 'trigger', scheduler.timezone);
        await getJob(id);
        const job = await scheduler.modifyJob(id, trigger ? { ...changes, trigger } : changes);
        return json(jobView(job, await lastRunOf(id)));
      },
    },
    {
      method: 'DELETE',
      path: '/jobs/:id',
      operationId: 'removeJob',
      summary: 'Remove a job (its pending runs are cancelled; history stays)',
      tag: 'jobs',
      role: 'admin',
      responses: { 204: { description: 'Removed' }, 404: errors.notFound },
      async handler({ params }: RouteContext) {
        await scheduler.removeJob(params.id!);
        return new Response(null, { status: 204 });
      },
    },
    {
      method: 'POST',
      path: '/jobs/:id/pause',
      operationId: 'pauseJob',
      summary: 'Pause a job',
      tag: 'jobs',
      role: 'admin',
      responses: { 200: { description: 'The job', schema: JobView }, 404: errors.notFound },
      async handler({ params }: RouteContext) {
        const job = await scheduler.pauseJob(params.id!);
        return json(jobView(job, await lastRunOf(job.id)));
      },
    },
    {
      method: 'POST',
      path: '/jobs/:id/resume',
      operationId: 'resumeJob',
      summary: 'Resume a job from now (fire times missed while paused are not owed)',
      tag: 'jobs',
      role: 'admin',
      responses: {
        200: {
          description: 'The job, or `{ id, removed: true }` when its trigger has no fire time left',
          schema: JobView.or(RemovedJob),
        },
        404: errors.notFound,
      },
      async handler({ params }: RouteContext) {
        const id = params.id!;
        const job = await scheduler.resumeJob(id);
        return json(job ? jobView(job, await lastRunOf(id)) : { id, removed: true });
      },
    },
    {
      method: 'POST',
      path: '/jobs/:id/run',
      operationId: 'runJob',
      summary: 'Run a job now, outside its schedule (counts against maxInstances)',
      tag: 'jobs',
      role: 'admin',
      responses: {
        202: { description: 'The run, created pending', schema: RunView },
        404: errors.notFound,
        409: {
          description:
            'Skipped: `maxInstances` runs are going (`MAX_INSTANCES_REACHED`), or the scheduler is not running',
        },
      },
      async handler({ params, prefix }: RouteContext) {
        const run = await scheduler.runJob(params.id!);
        if (run.status === 'skipped') {
          throw new ApiError(
            'MAX_INSTANCES_REACHED',
            `Job "${run.jobId}" has reached its maximum number of running instances; the run was skipped`,
            { field: 'id', value: run.jobId, run: runView(run) },
            409,
          );
        }
        const runPath = encodePathSegment(run.id);
        return json(runView(run), 202, runPath === null ? {} : { location: `${prefix}/runs/${runPath}` });
      },
    },
    {
      method: 'GET',
      path: '/runs',
      operationId: 'listRuns',
      summary: 'Run history, newest scheduled fire time first',
      tag: 'runs',
      role: 'read',
      query: ListRunsQuery,
      responses: { 200: { description: 'A page of runs', schema: RunList }, 409: errors.notRunning },
      async handler({ query: q }: RouteContext<z.output<typeof ListRunsQuery>>) {
        // A cursor is keyset paging: "fire time <= t, skipping the `skip` first runs at t" (runs are ordered by
        // fire time, newest first, then by a fixed tie order), so a deep page costs what the first one does.
        const cursor = q.cursor === undefined ? null : decodeRunCursor(q.cursor);
        if (cursor && q.offset !== 0) {
          throw new ApiError(
            'INVALID_OPTION',
            'Give either `cursor` or `offset`, not both',
            { field: 'offset' },
            400,
          );
        }
        const filter: RunFilter = { limit: q.limit + 1, offset: cursor ? cursor.skip : q.offset };
        if (q.jobId !== undefined) filter.jobId = q.jobId;
        if (q.status !== undefined) filter.status = q.status;
        if (q.from !== undefined) filter.from = new Date(q.from);
        let to = q.to === undefined ? null : new Date(q.to).getTime();
        if (cursor) to = to === null ? cursor.time + 1 : Math.min(to, cursor.time + 1);
        if (to !== null) filter.to = new Date(to);
        // Runs at the cursor's fire time `t` before the ones already seen: `skip` of them. A run recorded since
        // with the same fire time (a late fire of another job) sorts before them (newest created first) and
        // shifts them, and one deleted since (retention) shifts the others back: the page then goes on after
        // the last run seen, where it stands among the runs at `t` by its id (or would stand, once deleted).
        let base = cursor ? cursor.skip : 0;
        let runs: RunRecord[];
        if (cursor?.last === undefined) {
          runs = await scheduler.getRuns(filter);
        } else {
          const probe = await scheduler.getRuns({ ...filter, offset: base - 1, limit: q.limit + 2 });
          if (probe[0]?.id === cursor.last) {
            runs = probe.slice(1);
          } else {
            const at = await positionAtTime(filter, cursor.time, cursor.last);
            if (at !== null) base = at;
            runs = await scheduler.getRuns({ ...filter, offset: base });
          }
        }
        const more = runs.length > q.limit;
        const page = runs.slice(0, q.limit);
        let nextCursor: string | null = null;
        const last = page[page.length - 1];
        if (more && last) {
          const time = last.scheduledFireTime.getTime();
          let skip = page.filter((r) => r.scheduledFireTime.getTime() === time).length;
          if (cursor && cursor.time === time) skip += base;
          nextCursor = encodeCursor({ t: time, k: skip, l: last.id });
        }
        return json({
          items: page.map(runView),
          nextOffset: more && !cursor ? q.offset + q.limit : null,
          nextCursor,
        });
      },
    },
    {
      method: 'GET',
      path: '/runs/:id',
      operationId: 'getRun',
      summary: 'A run, with its error',
      tag: 'runs',
      role: 'read',
      responses: {
        200: { description: 'The run', schema: RunView },
        404: { description: 'No run with this id (`RUN_NOT_FOUND`)' },
        409: errors.notRunning,
      },
      async handler({ params }: RouteContext) {
        const run = await scheduler.getRun(params.id!);
        if (!run) {
          throw new ApiError('RUN_NOT_FOUND', `No run with id "${params.id}"`, {
            field: 'id',
            value: params.id,
          });
        }
        return json(runView(run));
      },
    },
    {
      method: 'GET',
      path: '/status',
      operationId: 'getStatus',
      summary: 'Scheduler state and store health (503 when the store does not answer)',
      tag: 'status',
      role: 'read',
      query: EmptyQuery,
      responses: {
        200: { description: 'Status', schema: StatusView },
        503: { description: 'The store failed its health check', schema: StatusView },
      },
      async handler() {
        let health: { ok: boolean; latency: number; error?: string } | null = null;
        let reads = false;
        if (scheduler.running) {
          const t0 = performance.now();
          try {
            await scheduler.store.getNextWakeTime();
            reads = true;
            // A read can succeed while the loop's writes fail (a full disk): report the loop's failure too.
            const failing = scheduler.storeError;
            health = failing
              ? {
                  ok: false,
                  latency: performance.now() - t0,
                  error: `${failing.message} (failing since ${failing.since})`,
                }
              : { ok: true, latency: performance.now() - t0 };
          } catch (err) {
            health = {
              ok: false,
              latency: performance.now() - t0,
              error: String((err as Error)?.message ?? err),
            };
          }
        }
        let jobs = 0;
        // Stopped: the store is closed; only the jobs waiting for start() can be counted. A store that reads
        // but cannot write (a full disk) still counts its jobs: 0 would say they were lost. One that does not
        // answer at all is not asked again.
        if (scheduler.state === 'stopped') jobs = scheduler.queuedJobCount();
        else if (health === null || reads) jobs = await scheduler.countJobs();
        const body = {
          state: scheduler.state,
          nodeId: scheduler.nodeId,
          timezone: scheduler.timezone,
          time: new Date(scheduler.clock.now()).toISOString(),
          store: { kind: scheduler.store.kind, persistent: scheduler.store.persistent, health },
          jobs,
          tasks: scheduler.getTaskIds(),
          runningRuns: scheduler.getRunningRuns().map((r) => ({ jobId: r.jobId, ...runSummary(r) })),
        };
        return json(body, health?.ok === false ? 503 : 200);
      },
    },
    {
      method: 'GET',
      path: '/nodes',
      operationId: 'listNodes',
      summary:
        'The scheduler processes sharing the store, by id (a killed one stays listed, its lastSeenAt old, for an hour)',
      tag: 'status',
      role: 'read',
      query: EmptyQuery,
      responses: { 200: { description: 'The processes', schema: NodesView } },
      async handler() {
        const nodes = await scheduler.getNodes();
        return json({
          items: nodes.map((n) => ({
            id: n.id,
            host: n.host,
            pid: n.pid,
            startedAt: n.startedAt.toISOString(),
            lastSeenAt: n.lastSeenAt.toISOString(),
            clockOffset: n.clockOffset,
            runningRuns: n.runningRuns,
            self: n.id === scheduler.nodeId,
          })),
        });
      },
    },
    {
      method: 'GET',
      path: '/events',
      operationId: 'streamEvents',
      summary: 'Server-sent events of the scheduler (`event: job:executed`, `data: {...}`)',
      tag: 'status',
      role: 'read',
      query: EventsQuery,
      responses: {
        200: {
          description: 'An endless event stream with heartbeat comments',
          contentType: 'text/event-stream',
        },
        503: { description: 'Too many streams are open (`TOO_MANY_STREAMS`)' },
      },
      async handler({ request, query }: RouteContext<z.output<typeof EventsQuery>>) {
        if (closed || streams.full) {
          throw new ApiError('TOO_MANY_STREAMS', 'Too many event streams are open', {}, undefined, {
            'retry-after': '10',
          });
        }
        const names = query.events ? new Set(query.events.split(',').map((s) => s.trim())) : null;
        for (const name of names ?? []) {
          if (!Object.hasOwn(EVENT_NAMES, name)) {
            throw new ApiError(
              'INVALID_OPTION',
              `Unknown event ${JSON.stringify(name)} in \`events\`; known: ${Object.keys(EVENT_NAMES).join(', ')}`,
              { field: 'events', value: name },
              400,
            );
          }
        }
        return streams.response(request.signal, names);
      },
    },
    ...(metrics
      ? [
          {
            method: 'GET',
            path: '/metrics',
            operationId: 'getMetrics',
            summary: 'Prometheus metrics (text exposition format)',
            tag: 'status',
            role: 'read',
            query: EmptyQuery,
            responses: { 200: { description: 'Metrics', contentType: 'text/plain' } },
            async handler() {
              return new Response(await metrics.render(), {
                headers: { 'content-type': metrics.registry.contentType },
              });
            },
          } satisfies Route,
        ]
      : []),
    {
      method: 'GET',
      path: '/openapi.json',
      operationId: 'getOpenApi',
      summary: 'This OpenAPI 3.1 document',
      tag: 'status',
      role: 'read',
      query: EmptyQuery,
      responses: { 200: { description: 'The document' } },
      async handler({ prefix }: RouteContext) {
        return json(openapi(prefix));
      },
    },
  ];

  const docs = new Map<string, OpenApiDocument>();
  const openapi = (prefix = o.prefix): OpenApiDocument => {
    let doc = docs.get(prefix);
    if (!doc) docs.set(prefix, (doc = buildOpenApi(routes, { prefix, auth: o.auth !== null })));
    return doc;
  };

  const corsHeaders = (request: Request): Record<string, string> => {
    const origin = request.headers.get('origin');
    if (!o.cors || !origin) return {};
    const any = o.cors.origins.includes('*');
    if (!any && !o.cors.origins.includes(origin)) return {};
    return {
      'access-control-allow-origin': any ? '*' : origin,
      'access-control-expose-headers': 'Location',
      vary: 'Origin',
    };
  };

  const readBody = async (request: Request): Promise<unknown> => {
    const declared = request.headers.get('content-length');
    // The rest of the body is not read: the connection closes after the answer (`Connection: close`), or a
    // keep-alive client would send its next request on a connection that no longer serves it.
    const tooLarge = () =>
      new ApiError(
        'PAYLOAD_TOO_LARGE',
        `The request body is larger than ${o.bodyLimit} bytes`,
        { limit: o.bodyLimit },
        413,
        { connection: 'close' },
      );
    if (declared !== null && Number(declared) > o.bodyLimit) {
      await request.body?.cancel().catch(() => {});
      throw tooLarge();
    }
    if (!request.body) return undefined;
    const reader = request.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > o.bodyLimit) {
        await reader.cancel().catch(() => {});
        throw tooLarge();
      }
      chunks.push(value);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    if (text.trim() === '') return undefined;
    const type = request.headers.get('content-type') ?? '';
    if (!/^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i.test(type)) {
      throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'Expected a request body of type application/json', {
        field: 'content-type',
        value: type,
      });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text) as unknown;
    } catch (err) {
      throw new ApiError('INVALID_JSON', `The request body is not valid JSON: ${(err as Error).message}`, {
        field: 'body',
      });
    }
    const deep = tooDeep(parsed, MAX_BODY_DEPTH);
    if (deep !== null) {
      throw new ApiError(
        'INVALID_OPTION',
        `Expected \`${deep}\` to nest arrays and objects at most ${MAX_BODY_DEPTH} levels deep`,
        { field: deep },
        400,
      );
    }
    return parsed;
  };

  const dispatch = async (request: Request, prefix: string): Promise<Response> => {
    const url = new URL(request.url);
    const pathname = url.pathname;
    if (!(pathname === prefix || pathname.startsWith(prefix + '/') || prefix === '')) {
      throw new ApiError('ROUTE_NOT_FOUND', `No route ${request.method} ${pathname}`);
    }
    const rest = pathname.slice(prefix.length) || '/';
    const path = rest.length > 1 ? rest.replace(/\/+$/, '') : rest;
    let method = request.method.toUpperCase();
    if (method === 'OPTIONS' && o.cors && request.headers.get('access-control-request-method')) {
      const allow = corsHeaders(request);
      if (!allow['access-control-allow-origin']) return new Response(null, { status: 403 });
      return new Response(null, {
        status: 204,
        headers: {
          ...allow,
          'access-control-allow-methods': 'GET, POST, PATCH, DELETE',
          'access-control-allow-headers': 'authorization, content-type, last-event-id',
          'access-control-max-age': String(o.cors.maxAge),
        },
      });
    }
    const head = method === 'HEAD';
    if (head) method = 'GET';
    const match = matchRoute(routes, method, path);
    if (!match.route) {
      if (method === 'GET' && o.assets) {
        const asset = await o.assets(path, request);
        if (asset) return asset;
      }
      if (match.allowed.length > 0) {
        const allow = match.allowed.flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m]));
        throw new ApiError('METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${pathname}`, {}, 405, {
          allow: allow.join(', '),
        });
      }
      throw new ApiError('ROUTE_NOT_FOUND', `No route ${request.method} ${pathname}`);
    }
    const route = match.route;
    if (o.auth) {
      const role: ApiRole | null = o.auth.authenticate(request.headers.get('authorization'));
      if (!role) {
        throw new ApiError('UNAUTHORIZED', 'A valid bearer token is required', {}, 401, {
          'www-authenticate': 'Bearer realm="tickwork"',
        });
      }
      if (!allows(role, route.role)) {
        throw new ApiError('FORBIDDEN', `This needs a token with role "${route.role}"`, { role });
      }
    }
    const malformed = match.malformed[0];
    if (malformed !== undefined) {
      throw new ApiError(
        'INVALID_OPTION',
        `Expected \`${malformed}\` in the path to be percent-encoded UTF-8`,
        { field: malformed, value: match.params[malformed] },
        400,
      );
    }
    parse(IdParams.partial(), match.params);
    if (route.method === 'POST' && route.body === undefined) {
      // An action (pause, resume, run now) takes no body: a field sent anyway (`{"until": ...}`) would be
      // silently ignored, so it is refused. No body, an empty one, or `{}` is accepted.
      const raw = await readBody(request);
      if (raw !== undefined) {
        const isObject = raw !== null && typeof raw === 'object' && !Array.isArray(raw);
        const first = isObject ? Object.keys(raw)[0] : undefined;
        if (first !== undefined) {
          throw new ApiError(
            'UNKNOWN_OPTION',
            `Unknown option \`${first}\`: POST ${route.path.replace(':id', '{id}')} takes no body`,
            { field: first },
            400,
          );
        }
        if (!isObject) {
          throw new ApiError(
            'INVALID_OPTION',
            `Expected no body (or \`{}\`): POST ${route.path.replace(':id', '{id}')} takes none`,
            { field: 'body' },
            400,
          );
        }
      }
    }
    const sent = queryOf(url.searchParams);
    const query: unknown = route.query ? parse(route.query, sent, '', sent) : {};
    const context: RouteContext = {
      request,
      url,
      params: match.params,
      query: query as Record<string, unknown>,
      body: () => readBody(request),
      prefix,
    };
    const response = await route.handler(context as RouteContext<never>);
    if (head) {
      await response.body?.cancel().catch(() => {});
      return new Response(null, { status: response.status, headers: response.headers });
    }
    return response;
  };

  return {
    prefix: o.prefix,
    routes,
    metrics,
    openapi,
    async handle(request: Request, handleOptions: HandleOptions = {}): Promise<Response> {
      const prefix = handleOptions.prefix === undefined ? o.prefix : checkPrefix(handleOptions.prefix);
      let response: Response;
      try {
        response = await dispatch(request, prefix);
      } catch (err) {
        response = errorResponse(err, (e) =>
          logger.error(
            { err: e, method: request.method, url: request.url },
            'Unexpected error in the HTTP API',
          ),
        );
      }
      const cors = corsHeaders(request);
      for (const [k, v] of Object.entries(cors)) {
        if (k !== 'vary') response.headers.set(k, v);
        else if (!/(^|,)\s*origin\s*(,|$)/i.test(response.headers.get('vary') ?? '')) {
          response.headers.append('vary', v);
        }
      }
      return response;
    },
    close(): void {
      if (closed) return;
      closed = true;
      streams.closeAll();
      metrics?.close();
    },
  };
}

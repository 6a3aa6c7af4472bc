/**
 * A store in Redis (`tickwork/stores/redis`), shared by any number of processes on any number of machines.
 *
 * Needs the optional peer dependency `ioredis` (6 or later); only this module imports it. One Redis server
 * (7 or later; not Redis Cluster: the scripts reach keys they compute from the prefix).
 *
 * - **The Redis clock.** Every due check, lease and timestamp the store decides uses the server's time
 *   (`TIME`, read inside the scripts), never the `now` arguments of {@link Store} methods, which this store
 *   ignores: machines with skewed clocks still agree on what is due. The planner receives the server's time as
 *   `context.now`, and {@link FireResult.now} reports it. Values the caller computes (`nextRunTime`, a retry's
 *   `retryAt`, a run's `notBefore`) are stored as given. Times are kept in milliseconds.
 * - **Firing** is two Lua scripts per batch, with the planner in this process between them: the claim takes up
 *   to `limit` due jobs (next run time <= the server's time, not paused, earliest first) that no other claimer
 *   holds, marking each with a claim token that expires after `claimTimeout`, and returns them with their
 *   active-run counts and the server's time; the apply checks, per job, that the claim is still this one's and
 *   that the job's `version` is still the one claimed (compare-and-set), inserts the runs unique on (job,
 *   scheduled fire time, manual), stores a pending run that no longer fits `maxInstances` (counting the active
 *   runs again, inside the script) as `skipped`, advances, pauses or removes the job, releases the claim and
 *   `PUBLISH`es a change. A process that dies between the two loses nothing: its claims expire and another
 *   process claims the jobs; a late apply fails the token check and stores nothing.
 * - **Notifications.** {@link RedisStore.subscribe} opens one dedicated connection (a duplicate of the
 *   client) subscribed to a channel named after the prefix; writes `PUBLISH` to it. A dropped subscriber
 *   reconnects (the client's retry strategy) and announces a resync. Correctness never depends on a
 *   notification.
 * - **Connections**: the client (own or the caller's) plus one subscriber connection while subscribed.
 * - **Durability** is Redis's: see `docs/stores.md` (without AOF or snapshots, a restart of Redis loses
 *   every job and run).
 * - JSON (trigger, args, retry, error, result) is stored as text in the job and run hashes, so a hash written
 *   badly by hand is still read (and quarantined by the scheduler) instead of failing a whole call.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { Redis, type RedisOptions } from 'ioredis';
import { TickworkError, invalidOption, show } from '../../core/errors.js';
import type { JobRecord, RunRecord, RunStatus } from '../../core/structures.js';
import type { TriggerJSON } from '../../triggers/trigger.js';
import {
  boolean,
  duration,
  integer,
  nonEmptyString,
  optionsObject,
  rejectUnknownKeys,
} from '../../core/validate.js';
import {
  emitChange,
  checkJobPage,
  conflictError,
  copyJob,
  decodeJob,
  decodeRun,
  invalidTrigger,
  isInvalidTrigger,
  jobComparator,
  newRunRecord,
  notFound,
  replacementOf,
  resultToJson,
  unchangedByReplace,
  uuidv7,
  versionConflict,
  type JobColumns,
  type RunColumns,
} from '../common.js';
import type {
  AcquiredRun,
  AddJobResult,
  ClockSample,
  ConflictPolicy,
  FiredJob,
  FirePlanner,
  FireResult,
  JobChanges,
  JobCountFilter,
  JobFilter,
  NodeInfo,
  ReapRetry,
  RunFilter,
  RunOutcome,
  Store,
  StoreChange,
  StoreStartContext,
} from '../store.js';
import { optionValue, redactUrl, splitQuery, storeOptionsOf } from '../url.js';
import * as S from './scripts.js';

/**
 * Where the store connects: a `redis://` or `rediss://` URL (the store opens and closes its own client) or your
 * ioredis `client` (never closed by the store).
 */
export type RedisConnection = { url: string } | { client: Redis };

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /**
   * Prefix of every key of the store (and of its pub/sub channel), ending with `:`. Stores with different
   * prefixes share nothing on one server, unless one prefix begins with the other (`app:` and `app:job:`):
   * the shorter one's keys then include the longer one's. Give each store a prefix that no other begins with.
   * @defaultValue 'tickwork:'
   */
  prefix?: string;
  /**
   * How long a claim of the firing step holds a job, in milliseconds: a process that dies between the claim and
   * the apply delays the job's firing by at most this much. Longer than the slowest planning of a batch.
   * @defaultValue 10000
   */
  claimTimeout?: number;
  /**
   * How many finished runs to keep per job (the newest, by scheduled fire time).
   * @defaultValue 100
   */
  maxRunsPerJob?: number;
  /**
   * Finished runs older than this, in milliseconds, are deleted by {@link RedisStore.prune} (up to 10,000 per
   * call, oldest first): runs whose `finishedAt` and scheduled fire time are both older. `null` keeps them
   * (subject to `maxRunsPerJob`).
   * @defaultValue null
   */
  maxRunAge?: number | null;
  /**
   * After how many finished runs (in this process) the store applies retention ({@link RedisStore.prune}).
   * @defaultValue 500
   */
  pruneEvery?: number;
  /**
   * Longest the scheduler sleeps between checks, in milliseconds.
   * @defaultValue 5000
   */
  maxWakeInterval?: number;
  /**
   * Whether {@link RedisStore.subscribe} opens a subscriber connection (false: listeners only hear this
   * process's own changes).
   * @defaultValue true
   */
  listen?: boolean;
}

const OPTION_KEYS = [
  'prefix',
  'claimTimeout',
  'maxRunsPerJob',
  'maxRunAge',
  'pruneEvery',
  'maxWakeInterval',
  'listen',
] as const;

/** The version of the key layout; a key space marked with a newer one is refused. */
const FORMAT = 1;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Hash = Record<string, string>;

/** A job's summary in `JOB_INDEX`'s reply: id, name, next run time, paused, task id (`''`: no such field). */
type Summary = [string, string, string, string, string];

/**
 * How many times {@link RedisStore.getJobs} reads a page sorted in the process again when one of its jobs
 * changed between the two reads (after that, it returns what it read last).
 */
const LIST_ATTEMPTS = 5;

/** A flat `HGETALL` reply as an object. */
function toHash(flat: unknown): Hash {
  const list = flat as string[];
  const out: Hash = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[list[i]!] = list[i + 1]!;
  return out;
}

/**
 * A numeric field: decimal text as the store writes it; anything else (`''`, which `Number()` reads as 0;
 * `'0x10'`) is NaN, so the record is undecodable rather than read with a stand-in.
 */
const num = (v: string | undefined): number | null =>
  v === undefined ? null : /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(v) ? Number(v) : Number.NaN;
const flag = (v: string | undefined): number | string => (v === '1' ? 1 : v === '0' ? 0 : (v ?? ''));

/** ioredis options whose values stay text in a URL's query (the others are read as numbers or booleans). */
const TEXT_DRIVER_OPTIONS = new Set(['password', 'username', 'connectionName', 'name', 'host', 'path']);

/**
 * The URL without its query, and the query's parameters (what is left after the store's options) as ioredis
 * options: ioredis takes them from a URL as text, and a URL's value wins over an options object's, so
 * `connectTimeout=1000` crashed the process (a string where a number of milliseconds belongs). Numbers and
 * `true`/`false` are read as such, except for options that are text.
 * @throws TickworkError `INVALID_OPTION` for `keyPrefix` or `stringNumbers`, which the store cannot work
 *   with (as for a caller's client).
 */
function driverOptionsOf(text: string): { url: string; driver: Record<string, unknown>; db: number | null } {
  const { base, params } = splitQuery(text);
  // The database, from the path (`/2`) or a `db` parameter: an integer >= 0 (a bad one crashed the process
  // in the driver's SELECT, or was dropped and the keys went to database 0).
  let path = '';
  try {
    path = new URL(base).pathname;
  } catch {
    // not parsed here: the driver reports it
  }
  const fromPath = path === '' || path === '/' ? null : path.slice(1);
  if (fromPath !== null && !/^\d{1,9}$/.test(fromPath))
    throw invalidOption('db', 'a database number (an integer >= 0) as the URL path', fromPath);
  const driver: Record<string, unknown> = {};
  for (const [key, value] of params) {
    if (key === 'keyPrefix' || key === 'stringNumbers')
      throw new TickworkError(
        'INVALID_OPTION',
        `Expected no \`${key}\` in the URL (give the store a \`prefix\`)`,
        {
          field: key,
        },
      );
    driver[key] = TEXT_DRIVER_OPTIONS.has(key) ? value : optionValue(value);
  }
  if (driver.db !== undefined) {
    if (!Number.isSafeInteger(driver.db) || (driver.db as number) < 0)
      throw invalidOption('db', 'a database number (an integer >= 0)', driver.db);
    if (fromPath !== null && Number(fromPath) !== driver.db)
      throw invalidOption('db', `the database of the URL path (${fromPath}) or none`, driver.db);
  }
  const db = driver.db !== undefined ? (driver.db as number) : fromPath === null ? null : Number(fromPath);
  return { url: base, driver, db };
}

/** A job hash as the columns {@link decodeJob} reads (anything not written by the store makes it undecodable). */
function jobColumns(h: Hash): JobColumns {
  return {
    id: h.id ?? '',
    name: h.name as string,
    task_id: h.task_id as string,
    trigger: h.trigger ?? '',
    args: h.args ?? '',
    max_instances: num(h.max_instances) as number,
    misfire_grace_time: num(h.misfire_grace_time),
    coalesce: flag(h.coalesce) as number,
    jitter: num(h.jitter),
    timeout: num(h.timeout),
    retry: h.retry ?? null,
    paused: flag(h.paused) as number,
    next_run_time: num(h.next_run_time),
    quarantine: h.quarantine ?? null,
    version: num(h.version) as number,
    created_at: num(h.created_at) ?? NaN,
    updated_at: num(h.updated_at) ?? NaN,
  };
}

/**
 * Decodes the job hash stored under the key of job `id` (`parsedTrigger`: its trigger text parsed already).
 * The key names the job (its indexes, claims and runs use that id): a hash whose `id` field is missing or
 * another id (edited by hand) is read with the key's id and as undecodable (field `id`), like a row with an
 * unreadable column, so firing quarantines it instead of passing over it (or listing it with the id `""`).
 */
function decodeJobAt(h: Hash, id: string, parsedTrigger?: TriggerJSON): JobRecord {
  const row = jobColumns(h);
  if (h.id === id) return decodeJob(row, parsedTrigger);
  const job = decodeJob({ ...row, id }, parsedTrigger);
  if (isInvalidTrigger(job.trigger)) return job;
  const error = h.id === undefined ? 'missing' : `not the id of its key: ${show(h.id)}`;
  return { ...job, trigger: invalidTrigger(row.trigger, 'id', error), args: [], retry: null };
}

/** Job hashes as a script returns them (flat), each with the id of its key. */
function decodeJobHashes(flats: unknown[], ids: string[]): JobRecord[] {
  return flats.map((flat, i) => decodeJobAt(toHash(flat), ids[i]!));
}

function decodeRunHash(flat: unknown): RunRecord {
  return decodeRunFields(toHash(flat));
}

function decodeRunFields(h: Hash): RunRecord {
  const row: RunColumns = {
    id: h.id ?? '',
    job_id: h.job_id ?? '',
    task_id: h.task_id ?? '',
    scheduled_fire_time: num(h.scheduled_fire_time) ?? NaN,
    not_before: num(h.not_before) ?? NaN,
    status: h.status ?? '',
    manual: h.manual === '1',
    attempt: Number(h.attempt ?? 0),
    owner: h.owner ?? null,
    lease_expires_at: num(h.lease_expires_at),
    started_at: num(h.started_at),
    finished_at: num(h.finished_at),
    error: h.error ?? null,
    result: h.result ?? null,
    created_at: num(h.created_at) ?? NaN,
  };
  return decodeRun(row);
}

/** The fields of a job hash for a record; `false` deletes a field (a null value). */
function jobFields(job: JobRecord, version: number): Record<string, string | false> {
  const n = (v: number | null) => (v === null ? false : String(v));
  return {
    id: job.id,
    name: job.name,
    task_id: job.taskId,
    trigger: JSON.stringify(job.trigger),
    args: JSON.stringify(job.args),
    max_instances: String(job.maxInstances),
    misfire_grace_time: n(job.misfireGraceTime),
    coalesce: job.coalesce ? '1' : '0',
    jitter: n(job.jitter),
    timeout: n(job.timeout),
    retry: job.retry ? JSON.stringify(job.retry) : false,
    paused: job.paused ? '1' : '0',
    next_run_time: job.nextRunTime === null ? false : String(job.nextRunTime.getTime()),
    quarantine: job.quarantine ?? false,
    version: String(version),
    created_at: String(job.createdAt.getTime()),
    updated_at: String(job.updatedAt.getTime()),
  };
}

/** The hash field of each field {@link Store.updateJob} may change, with its encoding. */
function changeFields(changes: JobChanges): Record<string, string | false> {
  const out: Record<string, string | false> = {};
  const n = (v: number | null) => (v === null ? false : String(v));
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) continue;
    switch (key as keyof JobChanges) {
      case 'name':
        out.name = value as string;
        break;
      case 'taskId':
        out.task_id = value as string;
        break;
      case 'trigger':
        out.trigger = JSON.stringify(value);
        break;
      case 'args':
        out.args = JSON.stringify(value);
        break;
      case 'maxInstances':
        out.max_instances = String(value);
        break;
      case 'misfireGraceTime':
        out.misfire_grace_time = n(value as number | null);
        break;
      case 'coalesce':
        out.coalesce = value ? '1' : '0';
        break;
      case 'jitter':
        out.jitter = n(value as number | null);
        break;
      case 'timeout':
        out.timeout = n(value as number | null);
        break;
      case 'retry':
        out.retry = value === null ? false : JSON.stringify(value);
        break;
      case 'paused':
        out.paused = value ? '1' : '0';
        break;
      case 'nextRunTime':
        out.next_run_time = value === null ? false : String((value as Date).getTime());
        break;
    }
  }
  return out;
}

/** Maps a client error to `STORE_ERROR`, keeping it as `cause`. */
function mapError(err: unknown): Error {
  if (err instanceof TickworkError) return err;
  const e = err as { message?: string };
  return new TickworkError(
    'STORE_ERROR',
    `Redis store failed: ${e.message ?? String(err)}`,
    {},
    { cause: err },
  );
}

/** A planned run in the apply script's JSON (see {@link S.APPLY}). */
interface ApplyRun {
  /** run id */
  r: string;
  /** scheduled fire time (ms) */
  s: string;
  /** not before (ms) */
  b: string;
  /** planned status */
  st: RunStatus;
  /** its position among the job's pending runs of this plan (0: not pending) */
  k: number;
  /** the active runs the planner was told of */
  e: number;
  /** queued (`PlannedRun.queued`: never stored as skipped); absent: not */
  w?: true;
}

/** A claimed job's plan in the apply script's JSON (see {@link S.APPLY}). */
interface ApplyJob {
  i: string;
  /** the version claimed */
  v: string;
  /** new next run time (ms); absent: none */
  n?: string;
  /** `q` quarantine (reason `q`), `r` remove; absent: advance */
  a?: 'q' | 'r';
  q?: string;
  runs: ApplyRun[];
}

/**
 * A persistent store in Redis. See the module documentation for the clock, the firing scripts and the
 * connection budget.
 *
 * ```ts
 * const store = new RedisStore({ url: 'redis://127.0.0.1:6379' }, { prefix: 'jobs:' });
 * const scheduler = new Scheduler({ store });
 * ```
 *
 * Methods reject with `TickworkError` `STORE_ERROR` (the client's error as `cause`) when Redis fails or
 * cannot be reached; the store works again once the client has reconnected.
 */
export class RedisStore implements Store {
  readonly kind = 'redis';

  /**
   * What the store shows of itself to `JSON.stringify` and `console.log`: its kind and key prefix, never
   * the URL (which may hold a password) or the client.
   */
  toJSON(): { kind: 'redis'; prefix: string } {
    return { kind: this.kind, prefix: this.prefix };
  }

  [inspect.custom](): string {
    return `RedisStore ${JSON.stringify(this.toJSON())}`;
  }
  readonly persistent = true;
  /**
   * Jobs per firing call when the scheduler is not told otherwise: fewer than SQLite's 500 and PostgreSQL's
   * 2,000, as each script holds the whole server while it runs.
   */
  readonly fireBatchSize = 256;
  readonly maxWakeInterval: number;
  /** The key prefix. */
  readonly prefix: string;
  /** The pub/sub channel of this prefix. */
  readonly channel: string;

  private readonly url: string | null;
  private readonly ownClient: boolean;
  private client: Redis | null;
  private readonly claimTimeout: number;
  private readonly maxRunsPerJob: number;
  private readonly maxRunAge: number | null;
  private readonly pruneEvery: number;
  private readonly listen: boolean;
  /** Identifies this store instance in notifications, so it ignores its own. */
  private readonly source = randomBytes(8).toString('hex');
  private started = false;
  private readonly listeners = new Set<(change: StoreChange) => void>();
  private subscriber: Redis | null = null;
  private subscribed: Promise<void> | null = null;
  private dropped = false;
  private readonly dirtyJobs = new Set<string>();
  /** Parsed trigger of each job's last claim, by job id, with the text it was parsed from. */
  private readonly claimedTriggers = new Map<string, { text: string; trigger: TriggerJSON }>();
  private finishedSincePrune = 0;
  /** Rejecters of the commands waiting for an answer (see {@link call}). */
  private readonly inFlight = new Set<(err: Error) => void>();
  private watched: Redis | null = null;
  /** Tokens of this store's firing steps that failed, with when (see {@link stale}). */
  private readonly staleTokens: { token: string; at: number }[] = [];

  /**
   * @param connection a `url` (`redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS), or a
   *   caller-owned ioredis `client` (never closed by the store). Options may also be given here, beside the
   *   connection (`{ url, prefix }`), or in the URL's query by their names (`redis://host?prefix=jobs:`:
   *   `true`/`false`, `null` and numbers as such), which the client then does not see; other query parameters
   *   go to ioredis.
   * @param options see {@link RedisStoreOptions}.
   * @throws TickworkError `INVALID_OPTION` / `UNKNOWN_OPTION` for bad options, `INVALID_OPTION` for an option
   *   the URL and the options both give, differently, and for a client with a `keyPrefix` of its own.
   */
  constructor(connection: RedisConnection & RedisStoreOptions, options: RedisStoreOptions = {}) {
    const conn = optionsObject(connection, 'connection');
    const { url, client, ...inline } = conn;
    const opts: Record<string, unknown> = { ...inline, ...optionsObject(options, 'options') };
    rejectUnknownKeys(opts, OPTION_KEYS);
    if (client !== undefined) {
      if (
        client === null ||
        typeof client !== 'object' ||
        typeof (client as { evalsha?: unknown }).evalsha !== 'function' ||
        typeof (client as { duplicate?: unknown }).duplicate !== 'function'
      )
        throw new TickworkError('INVALID_OPTION', 'Expected `client` to be an ioredis client', {
          field: 'client',
        });
      if (url !== undefined)
        throw new TickworkError('INVALID_OPTION', 'Give either `url` or `client`, not both', {
          field: 'client',
        });
      // The scripts build their keys from the store's prefix; a client's own `keyPrefix` would put the keys of
      // the other commands elsewhere.
      if ((client as Redis).options?.keyPrefix)
        throw new TickworkError(
          'INVALID_OPTION',
          'Expected `client` to have no `keyPrefix` (give the store a `prefix` instead)',
          { field: 'client' },
        );
      // Script replies are read as integers (`1`, the counts); `stringNumbers` makes them strings.
      if ((client as Redis).options?.stringNumbers)
        throw new TickworkError('INVALID_OPTION', 'Expected `client` to have `stringNumbers` off', {
          field: 'client',
        });
      this.client = client as Redis;
      this.ownClient = false;
      this.url = null;
    } else {
      const text = nonEmptyString(url, 'url', 4096);
      if (!/^rediss?:\/\//i.test(text))
        throw invalidOption('url', 'a redis:// or rediss:// URL', redactUrl(text));
      const { url: rest, options: fromUrl } = storeOptionsOf(text, OPTION_KEYS, ['prefix']);
      for (const [key, value] of Object.entries(fromUrl)) {
        const given = opts[key];
        if (given !== undefined && given !== value) {
          throw new TickworkError(
            'INVALID_OPTION',
            `Expected \`${key}\` once: the URL says ${JSON.stringify(value)}, the options ${JSON.stringify(given)}`,
            { field: key },
          );
        }
        opts[key] = value;
      }
      driverOptionsOf(rest); // refuses what the driver's options cannot be, at construction
      this.url = rest;
      this.client = null;
      this.ownClient = true;
    }
    const prefix = opts.prefix === undefined ? 'tickwork:' : nonEmptyString(opts.prefix, 'prefix', 200);
    // A prefix ending with ':' cannot run into another store's keys by a shorter prefix (`a` and `aj` would:
    // `ajob:x`), and no control character hides in a key.
    if (!prefix.endsWith(':') || /\p{Cc}/u.test(prefix))
      throw invalidOption('prefix', 'a key prefix ending with `:`, without control characters', prefix);
    this.prefix = prefix;
    this.channel = `${prefix}changes`;
    this.claimTimeout =
      opts.claimTimeout === undefined ? 10_000 : integer(opts.claimTimeout, 'claimTimeout', 100, 3_600_000);
    this.maxRunsPerJob =
      opts.maxRunsPerJob === undefined ? 100 : integer(opts.maxRunsPerJob, 'maxRunsPerJob', 0);
    this.maxRunAge =
      opts.maxRunAge === undefined || opts.maxRunAge === null ? null : duration(opts.maxRunAge, 'maxRunAge');
    this.pruneEvery = opts.pruneEvery === undefined ? 500 : integer(opts.pruneEvery, 'pruneEvery', 1);
    this.maxWakeInterval =
      opts.maxWakeInterval === undefined ? 5000 : integer(opts.maxWakeInterval, 'maxWakeInterval', 1);
    this.listen = opts.listen === undefined ? true : boolean(opts.listen, 'listen');
  }

  /**
   * Connects (when given a URL) and marks the key space with the store's format version.
   * @throws TickworkError `STORE_ERROR` when Redis is unreachable or the key space was written by a newer
   *   version of tickwork.
   */
  async start(context: StoreStartContext): Promise<void> {
    if (this.started) return;
    if (!this.client) {
      const { url, driver, db } = driverOptionsOf(this.url!);
      const client = new Redis(url, {
        connectionName: 'tickwork', // a URL's `connectionName` wins
        ...driver,
        lazyConnect: true,
        // While the connection is down a command rejects at once (STORE_ERROR: the scheduler backs off and
        // tries again), and a command the connection dropped is never sent again by the client: a command is
        // sent once, while connected, and answered or rejected (see `call`).
        enableOfflineQueue: false,
        autoResendUnfulfilledCommands: false,
      } satisfies RedisOptions);
      // A connection error is also reported by the command it fails; without a handler it would be logged. The
      // last one says why a first connection failed (`connect()` only says the connection closed).
      let reason: unknown = undefined;
      client.on('error', (err: unknown) => (reason = err));
      this.client = client;
      try {
        await client.connect();
        // The driver's own SELECT of the database fails quietly (the keys would go to database 0): again,
        // answered.
        if (db !== null) await client.select(db);
      } catch (err) {
        this.client = null;
        client.disconnect();
        throw mapError(reason ?? err);
      }
    }
    const format = Number(await this.eval(S.START, [String(FORMAT)]));
    if (format > FORMAT) {
      throw new TickworkError(
        'STORE_ERROR',
        `The keys under ${this.prefix} are in format ${format}, newer than this tickwork knows (${FORMAT})`,
      );
    }
    this.started = true;
    if (this.listeners.size > 0) this.connectListener();
    await this.checkPersistence(context);
  }

  /**
   * Warns (through the scheduler's log) when the server keeps nothing on disk (`appendonly no` and no `save`
   * points): a restart of it then loses every job and run. A server that refuses `CONFIG` (a managed service)
   * is not checked.
   */
  private async checkPersistence(context: StoreStartContext): Promise<void> {
    if (!context.warn) return;
    try {
      const [aof, save] = await Promise.all([
        this.call((c) => c.config('GET', 'appendonly')),
        this.call((c) => c.config('GET', 'save')),
      ]);
      if ((aof as string[])[1] === 'no' && (save as string[])[1] === '') {
        context.warn(
          'The Redis server keeps nothing on disk (appendonly no, no save points): a restart of it loses every job and run. Turn on AOF (appendonly yes, appendfsync everysec) or snapshots (docs/stores.md).',
        );
      }
    } catch {
      // CONFIG refused or renamed: nothing to say
    }
  }

  /** Closes the subscriber connection and the client the store opened (never a caller-owned client). */
  async stop(): Promise<void> {
    this.started = false;
    await this.closeListener();
    if (this.ownClient && this.client) {
      const client = this.client;
      this.client = null;
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    }
  }

  async addJob(job: JobRecord, conflict: ConflictPolicy): Promise<AddJobResult> {
    if (conflict === 'replace') {
      // Every process re-adds its jobs at boot: an unchanged job is one read, with no write and no message.
      const existing = await this.getJob(job.id).catch(() => null);
      if (existing && unchangedByReplace(existing, job)) return { job: existing, outcome: 'unchanged' };
    }
    let mode: 'add' | 'cas' = 'add';
    let expected = '';
    let fields = jobFields(job, 1);
    let stored: JobRecord = { ...job, version: 1 };
    for (;;) {
      const r = (await this.eval(S.PUT_JOB, [job.id, mode, expected, JSON.stringify(fields)])) as [
        number,
        unknown?,
      ];
      let outcome: AddJobResult['outcome'];
      if (r[0] === 1) {
        outcome = mode === 'add' ? 'added' : 'replaced';
      } else {
        const current = toHash(r[1]);
        if (Object.keys(current).length === 0) {
          // Removed in between: add it again.
          mode = 'add';
          fields = jobFields(job, 1);
          stored = { ...job, version: 1 };
          continue;
        }
        if (conflict === 'error') throw conflictError(job.id);
        const existing = decodeJobAt(current, job.id);
        if (conflict === 'keep') return { job: existing, outcome: 'kept' };
        if (unchangedByReplace(existing, job)) return { job: existing, outcome: 'unchanged' };
        stored = replacementOf(existing, job);
        mode = 'cas';
        expected = current.version ?? '';
        fields = jobFields(stored, stored.version);
        continue;
      }
      await this.announce({ kind: outcome === 'added' ? 'job-added' : 'job-modified', jobId: job.id });
      return { job: copyJob(stored), outcome };
    }
  }

  async getJob(id: string): Promise<JobRecord | null> {
    const h = await this.call((c) => c.hgetall(this.key('job', id)));
    return Object.keys(h).length === 0 ? null : decodeJobAt(h, id);
  }

  /**
   * Pages through an index in the order asked (one script: the job index, the name index, or the due index
   * followed by the jobs without a next run time), so that a page costs what it skips and returns, whatever
   * the number of jobs, and reads the page's hashes in the same script. Given ids, or paused jobs only when
   * they are too sparse in the index for a walk to be shorter than the paused set, are read from the list or
   * the paused set: a summary of each (id, name, next run time, paused, task), which the process filters,
   * sorts and pages; then the page's hashes are read, and the whole is done again (up to
   * {@link LIST_ATTEMPTS} times) while one of them was removed or had its summary changed in between, so that
   * a page is that of one moment.
   */
  async getJobs(filter: JobFilter = {}): Promise<JobRecord[]> {
    const sort = checkJobPage(filter);
    const offset = filter.offset ?? 0;
    if (filter.limit === 0) return [];
    if (filter.ids === undefined) {
      const listed = (await this.eval(S.LIST_JOBS, [
        sort,
        filter.paused === undefined ? '' : filter.paused ? '1' : '0',
        filter.taskId === undefined ? '' : `=${filter.taskId}`,
        filter.afterId === undefined ? '' : `>${filter.afterId}`,
        String(offset),
        String(filter.limit ?? -1),
      ])) as [string, unknown][] | 0;
      if (listed !== 0) return listed.map(([id, flat]) => decodeJobAt(toHash(flat), id));
    }
    for (let attempt = 1; ; attempt++) {
      // Given ids, or paused jobs too sparse in the index for a walk: a summary of each, sorted here.
      const rows = (await this.eval(S.JOB_INDEX, [
        filter.ids === undefined ? 'paused' : JSON.stringify(filter.ids),
      ])) as Summary[];
      let list = rows.map(([id, name, next, paused, taskId], i) => ({
        id,
        name,
        nextRunTime: next === '' || !Number.isFinite(Number(next)) ? null : new Date(Number(next)),
        paused: paused !== '0',
        taskId,
        row: i,
      }));
      if (filter.taskId !== undefined) list = list.filter((j) => j.taskId === filter.taskId);
      if (filter.paused !== undefined) list = list.filter((j) => j.paused === filter.paused);
      if (filter.afterId !== undefined) {
        const after = filter.afterId;
        const byId = jobComparator('id');
        list = list.filter((j) => byId(j, { id: after, name: '', nextRunTime: null }) > 0);
      }
      list.sort(jobComparator(sort));
      const end = filter.limit === undefined ? undefined : offset + filter.limit;
      const page = list.slice(offset, end);
      if (page.length === 0) return [];
      const hashes = await this.call(async (c) => {
        const p = c.pipeline();
        for (const j of page) p.hgetall(this.key('job', j.id));
        return (await p.exec()) ?? [];
      });
      const out: JobRecord[] = [];
      let moved = false;
      hashes.forEach(([err, h], i) => {
        // A key of another type under the prefix (written by hand) is no job: left out, not a failed listing.
        if (err && /^WRONGTYPE/.test(err.message)) {
          moved = true;
          return;
        }
        if (err) throw mapError(err);
        const hash = h as Hash;
        const j = page[i]!;
        if (Object.keys(hash).length === 0) {
          moved = true; // removed meanwhile
          return;
        }
        const [, name, next, paused, taskId] = rows[j.row]!;
        const now: Summary = [
          j.id,
          hash.name ?? '',
          hash.next_run_time ?? '',
          hash.paused ?? '',
          hash.task_id ?? '',
        ];
        if (now[1] !== name || now[2] !== next || now[3] !== paused || now[4] !== taskId) moved = true;
        out.push(decodeJobAt(hash, j.id));
      });
      if (!moved || attempt >= LIST_ATTEMPTS) return out;
    }
  }

  /**
   * Counts in one script. Without `taskId`, in constant time from the store's indexes (the job index and the
   * set of paused jobs, which every script that writes a job keeps exact): what {@link getJobs} lists, unless
   * keys were written or deleted by hand (an index entry left without its job hash counts until the job is
   * next written or removed). With `taskId`, what {@link getJobs} lists, reading each job hash once.
   */
  async countJobs(filter: JobCountFilter = {}): Promise<number> {
    return Number(
      await this.eval(S.COUNT_JOBS, [
        filter.taskId ?? '',
        filter.paused === undefined ? '' : filter.paused ? '1' : '0',
      ]),
    );
  }

  /** Applies changes in one script; `updatedAt` is the server's time. */
  async updateJob(id: string, changes: JobChanges, expectedVersion?: number): Promise<JobRecord> {
    const r = (await this.eval(S.UPDATE_JOB, [
      id,
      expectedVersion === undefined ? '' : String(expectedVersion),
      JSON.stringify(changeFields(changes)),
      changes.paused !== undefined ? '1' : '0',
    ])) as [string, unknown?];
    if (r[0] === 'missing') throw notFound(id);
    if (r[0] === 'conflict') throw versionConflict(id, Number(r[1]), expectedVersion!);
    await this.announce({ kind: 'job-modified', jobId: id });
    return decodeJobAt(toHash(r[1]), id);
  }

  async removeJob(id: string, expectedVersion?: number): Promise<JobRecord | null> {
    const r = (await this.eval(S.REMOVE_JOBS, [
      JSON.stringify([id]),
      expectedVersion === undefined ? '' : String(expectedVersion),
    ])) as unknown[];
    if (r[0] === 'conflict') throw versionConflict(id, Number(r[1]), expectedVersion!);
    if (r.length === 0) return null;
    await this.announce({ kind: 'job-removed', jobId: id });
    return decodeJobAt(toHash(r[0]), id);
  }

  async removeAllJobs(): Promise<number> {
    const r = (await this.eval(S.REMOVE_JOBS, ['*'])) as unknown[];
    if (r.length > 0) await this.announce({ kind: 'job-removed' });
    return r.length;
  }

  /**
   * The firing step: the claim script, the planner in this process, the apply script (see the module
   * documentation). `now` is ignored: the server's time at the claim decides what is due and is passed to the
   * planner. A job whose claim expired before the apply (the planning took longer than `claimTimeout`) or
   * that changed meanwhile is left out of the result, with nothing stored for it.
   */
  async fireDueJobs(_now: Date, limit: number, planner: FirePlanner): Promise<FireResult> {
    const token = randomBytes(12).toString('hex');
    const since = Date.now() - this.claimTimeout;
    while (this.staleTokens.length > 0 && this.staleTokens[0]!.at < since) this.staleTokens.shift();
    const claimed = (await this.eval(S.CLAIM, [
      String(Math.max(0, limit)),
      token,
      String(this.claimTimeout),
      JSON.stringify(this.staleTokens.map((x) => x.token)),
    ]).catch((err: unknown) => this.stale(token, err))) as [string, number, unknown[], number[], string[]];
    const t = Number(claimed[0]);
    const now = new Date(t);
    const more = claimed[1] === 1;
    if (claimed[2].length === 0) return { now, fired: [], more };
    const fired: {
      job: JobRecord;
      plan: FiredJob['plan'];
      hash: Hash;
      planned: (ApplyRun & { index: number })[];
    }[] = [];
    const plans: ApplyJob[] = [];
    claimed[2].forEach((flat, i) => {
      const hash = toHash(flat);
      const job = this.decodeClaimed(hash, claimed[4][i]!);
      const activeRuns = Number(claimed[3][i]);
      const plan = planner(job, { now, activeRuns });
      const rec: ApplyJob = { i: job.id, v: hash.version ?? '', runs: [] };
      if (plan.quarantine !== undefined) {
        rec.a = 'q';
        rec.q = plan.quarantine;
      } else if (plan.remove) rec.a = 'r';
      else if (plan.nextRunTime !== null) rec.n = String(plan.nextRunTime.getTime());
      const planned: (ApplyRun & { index: number })[] = [];
      let k = 0;
      plan.runs.forEach((p, index) => {
        const pending = p.status === 'pending';
        const run: ApplyRun = {
          r: uuidv7(t),
          s: String(p.scheduledFireTime.getTime()),
          b: String(p.notBefore.getTime()),
          st: p.status,
          k: pending ? ++k : 0,
          e: activeRuns,
        };
        if (pending && p.queued === true) run.w = true;
        rec.runs.push(run);
        planned.push({ ...run, index });
      });
      plans.push(rec);
      fired.push({ job, plan, hash, planned });
    });
    const payload = JSON.stringify({ kind: 'run-created', source: this.source });
    const applied = (await this.eval(S.APPLY, [
      token,
      String(t),
      JSON.stringify(plans),
      this.channel,
      payload,
    ]).catch((err: unknown) => this.stale(token, err))) as [string[], string[], string[]];
    const ok = new Set(applied[0]);
    const inserted = new Set(applied[1]);
    const downgraded = new Set(applied[2]);
    let created = false;
    const result: FiredJob[] = [];
    for (const f of fired) {
      if (!ok.has(f.job.id)) continue;
      let plan = f.plan;
      const runs: RunRecord[] = [];
      for (const r of f.planned) {
        if (!inserted.has(r.r)) continue; // its (job, fire time) had a run already
        let status: RunStatus = r.st;
        if (downgraded.has(r.r)) {
          // The plan as applied: this run was stored as skipped (maxInstances, counted in the script).
          status = 'skipped';
          const runsApplied = [...plan.runs];
          runsApplied[r.index] = { ...runsApplied[r.index]!, status: 'skipped' };
          plan = { ...plan, runs: runsApplied };
        }
        if (status === 'pending') created = true;
        else this.dirtyJobs.add(f.job.id);
        runs.push(
          newRunRecord(
            r.r,
            f.job,
            Number(r.s),
            Number(r.b),
            status,
            false,
            status === 'pending' ? null : t,
            t,
          ),
        );
      }
      result.push({ job: f.job, plan, runs });
    }
    if (created) this.emit({ kind: 'run-created' });
    return { now, fired: result, more };
  }

  /**
   * Remembers the token of a firing step that failed (its claim or its apply unanswered), so that this store's
   * next claim takes those jobs at once instead of waiting for the claim to expire, and rethrows `err`. Safe:
   * the failed step's apply either ran already (it released its claims) or never will (the store's client never
   * sends a command twice; on a client that resends, the new claim replaced the token the old apply checks).
   */
  private stale(token: string, err: unknown): never {
    this.staleTokens.push({ token, at: Date.now() });
    if (this.staleTokens.length > 64) this.staleTokens.shift();
    throw err;
  }

  /**
   * Decodes a claimed job hash, reusing the trigger object of the previous claim of the job while its trigger
   * text is unchanged (the scheduler caches trigger instances by that object, so nothing is parsed again).
   */
  private decodeClaimed(hash: Hash, id: string): JobRecord {
    const row = jobColumns(hash);
    const cached = this.claimedTriggers.get(id);
    if (cached !== undefined && cached.text === row.trigger) return decodeJobAt(hash, id, cached.trigger);
    const job = decodeJobAt(hash, id);
    // A placeholder (the hash's args or retry could not be read) is not kept: it stands for the whole hash,
    // and a repaired hash with the same trigger text must decode afresh.
    if (isInvalidTrigger(job.trigger)) return job;
    if (this.claimedTriggers.size >= 100_000) this.claimedTriggers.clear();
    this.claimedTriggers.set(id, { text: row.trigger, trigger: job.trigger });
    return job;
  }

  /** Creates a manual run at the server's time (`now` is ignored), counting active runs in the same script. */
  async createManualRun(jobId: string, _now: Date): Promise<RunRecord> {
    const payload = JSON.stringify({ kind: 'run-created', jobId, source: this.source });
    const r = (await this.eval(S.MANUAL_RUN, [jobId, uuidv7(), this.channel, payload])) as [number, unknown?];
    if (r[0] !== 1) throw notFound(jobId);
    const run = decodeRunHash(r[1]);
    if (run.status !== 'pending') this.dirtyJobs.add(jobId);
    this.emit({ kind: 'run-created', jobId });
    return run;
  }

  /** Leases runs at the server's time (`now` is ignored), reading their jobs in the same script. */
  async acquireRuns(
    owner: string,
    _now: Date,
    limit: number,
    leaseMs: number,
    taskIds?: string[],
  ): Promise<AcquiredRun[]> {
    if (limit <= 0 || (taskIds && taskIds.length === 0)) return [];
    const r = (await this.eval(S.ACQUIRE, [
      owner,
      String(limit),
      String(Math.max(0, Math.floor(leaseMs))),
      taskIds ? JSON.stringify(taskIds) : '',
    ])) as [unknown[], unknown[], string[]];
    const jobs = new Map<string, JobRecord>();
    for (const job of decodeJobHashes(r[1], r[2])) jobs.set(job.id, job);
    return r[0].map((flat) => {
      const run = decodeRunHash(flat);
      return { run, job: jobs.get(run.jobId) ?? null };
    });
  }

  /** Renews leases to the server's time plus `leaseMs` (`now` is ignored). */
  async heartbeatRuns(
    owner: string,
    runs: { id: string; attempt: number }[],
    _now: Date,
    leaseMs: number,
  ): Promise<string[]> {
    if (runs.length === 0) return [];
    return (await this.eval(S.HEARTBEAT, [
      owner,
      String(Math.max(0, Math.floor(leaseMs))),
      JSON.stringify(runs.map((r) => ({ id: r.id, a: r.attempt }))),
    ])) as string[];
  }

  /** Records a run's end at the server's time (`now` is ignored); `retryAt` is stored as given. */
  async finishRun(
    runId: string,
    owner: string,
    attempt: number,
    now: Date,
    outcome: RunOutcome,
  ): Promise<boolean> {
    if (!outcome.retryAt) return (await this.finishRuns(owner, [{ runId, attempt, outcome }], now))[0]!;
    const r = await this.finish(owner, [{ runId, attempt, outcome }]);
    if (r[0] === '') return false;
    this.emit({ kind: 'run-created', jobId: r[0] });
    return true;
  }

  /** {@link Store.finishRuns}: one script for the whole group, fenced per run by owner and attempt. */
  async finishRuns(
    owner: string,
    items: { runId: string; attempt: number; outcome: RunOutcome }[],
    _now: Date,
  ): Promise<boolean[]> {
    const valid = items.filter((i) => !i.outcome.retryAt);
    if (valid.length === 0) return items.map(() => false);
    const r = await this.finish(owner, valid);
    const done = new Map<(typeof items)[number], boolean>();
    valid.forEach((item, i) => {
      const jobId = r[i]!;
      done.set(item, jobId !== '');
      if (jobId === '') return;
      this.dirtyJobs.add(jobId);
      if (this.listeners.size > 0) this.emit({ kind: 'run-finished', jobId });
    });
    const finished = r.filter((x) => x !== '').length;
    this.finishedSincePrune += finished;
    // The outcomes are committed: a retention pass that fails (a full disk) is tried again later, and must not
    // report them unrecorded (prune() keeps the jobs it did not prune).
    if (this.finishedSincePrune >= this.pruneEvery) await this.prune().catch(() => {});
    return items.map((i) => done.get(i) ?? false);
  }

  private async finish(
    owner: string,
    items: { runId: string; attempt: number; outcome: RunOutcome }[],
  ): Promise<string[]> {
    const payload = JSON.stringify({ kind: 'run-created', source: this.source });
    return (await this.eval(S.FINISH, [
      owner,
      JSON.stringify(
        items.map((i) => {
          const x: Record<string, unknown> = { id: i.runId, a: i.attempt, st: i.outcome.status };
          if (i.outcome.error) x.err = JSON.stringify(i.outcome.error);
          const res = resultToJson(i.outcome.result);
          if (res !== null) x.res = res;
          if (i.outcome.retryAt) x.retry = String(i.outcome.retryAt.getTime());
          return x;
        }),
      ),
      this.channel,
      payload,
    ])) as string[];
  }

  /**
   * Reaps runs whose lease ended before the server's time (`now` is ignored): one script reads them with their
   * jobs (live or retired), `retry` is asked here, and a second script moves each run from `running` straight
   * to `pending` or `abandoned`, only while it is still `running` under the same attempt and owner with its
   * lease ended (a heartbeat or another reaper in between wins, and the run is left out). A run is never
   * `abandoned` on the way to being retried.
   */
  async reapExpiredRuns(_now: Date, limit: number, retry?: ReapRetry): Promise<RunRecord[]> {
    if (limit <= 0) return [];
    const r = (await this.eval(S.EXPIRED, [String(limit)])) as [unknown[], unknown[], string[]];
    if (r[0].length === 0) return [];
    const jobs = new Map<string, JobRecord>();
    for (const job of decodeJobHashes(r[1], r[2])) {
      // An undecodable job is left out: its runs are abandoned, not retried (firing quarantines it).
      if (!isInvalidTrigger(job.trigger)) jobs.set(job.id, job);
    }
    const decisions = r[0].map((flat) => {
      const run = decodeRunHash(flat);
      const at = retry ? retry(run, jobs.get(run.jobId) ?? null) : null;
      const d: Record<string, unknown> = { id: run.id, a: run.attempt, o: run.owner };
      if (at !== null) d.at = String(at.getTime());
      return d;
    });
    const payload = JSON.stringify({ kind: 'run-created', source: this.source });
    const reaped = (
      (await this.eval(S.REAP, [JSON.stringify(decisions), this.channel, payload])) as unknown[]
    ).map(decodeRunHash);
    let requeued = false;
    for (const run of reaped) {
      if (run.status === 'abandoned') this.dirtyJobs.add(run.jobId);
      else requeued = true;
    }
    if (requeued) this.emit({ kind: 'run-created' });
    return reaped;
  }

  async requeueRun(runId: string, attempt: number, notBefore: Date): Promise<boolean> {
    const jobId = (await this.eval(S.REQUEUE, [
      runId,
      String(attempt),
      String(notBefore.getTime()),
    ])) as string;
    if (jobId === '') return false;
    await this.announce({ kind: 'run-created', jobId });
    return true;
  }

  async getRun(id: string): Promise<RunRecord | null> {
    if (!UUID.test(id)) return null;
    const h = await this.call((c) => c.hgetall(this.key('run', id)));
    return Object.keys(h).length === 0 ? null : decodeRunFields(h);
  }

  /**
   * Runs newest scheduled fire time first (ties: newest id first, ids being time-ordered UUIDv7), read from
   * the job's run index (or the index of all runs) by score range; a status filter is applied in the script.
   */
  async getRuns(filter: RunFilter = {}): Promise<RunRecord[]> {
    const r = (await this.eval(S.GET_RUNS, [
      filter.jobId ?? '',
      filter.status === undefined ? '' : JSON.stringify([filter.status].flat()),
      filter.from === undefined ? '-inf' : String(filter.from.getTime()),
      filter.to === undefined ? '+inf' : String(filter.to.getTime()),
      String(filter.offset ?? 0),
      String(filter.limit ?? 100),
    ])) as unknown[];
    return r.map(decodeRunHash);
  }

  async getNextWakeTime(taskIds?: string[]): Promise<Date | null> {
    const r = (await this.eval(S.WAKE, [taskIds ? JSON.stringify(taskIds) : ''])) as string;
    return r === '' ? null : new Date(Number(r));
  }

  /**
   * Measures the Redis clock (`TIME`, microseconds) against `localNow` from the midpoint of each of three round
   * trips and keeps the one with the shortest round trip.
   */
  async measureClockOffset(localNow: () => number): Promise<ClockSample> {
    let best: ClockSample | null = null;
    for (let i = 0; i < 3; i++) {
      const t0 = localNow();
      const [sec, usec] = await this.call((c) => c.time());
      const t1 = localNow();
      const server = Number(sec) * 1000 + Number(usec) / 1000;
      const sample = { offset: Math.round(server - (t0 + t1) / 2), roundTrip: t1 - t0 };
      if (best === null || sample.roundTrip < best.roundTrip) best = sample;
    }
    return best!;
  }

  /** Records this node in the `nodes` hash (`lastSeenAt` by the server's clock); forgets nodes unseen for an hour. */
  async registerNode(info: Omit<NodeInfo, 'lastSeenAt' | 'runningRuns'>): Promise<void> {
    await this.eval(S.REGISTER_NODE, [
      info.id,
      JSON.stringify({
        host: info.host,
        pid: info.pid,
        startedAt: String(info.startedAt.getTime()),
        clockOffset: info.clockOffset,
      }),
    ]);
  }

  async unregisterNode(id: string): Promise<void> {
    await this.call((c) => c.hdel(this.key('nodes'), id));
  }

  /** The registered nodes, by id, with their `running` runs counted from the runs (by owner). */
  async getNodes(): Promise<NodeInfo[]> {
    const [flatNodes, flatCounts] = (await this.eval(S.GET_NODES, [])) as [string[], (string | number)[]];
    const counts = new Map<string, number>();
    for (let i = 0; i + 1 < flatCounts.length; i += 2)
      counts.set(String(flatCounts[i]), Number(flatCounts[i + 1]));
    const out: NodeInfo[] = [];
    for (let i = 0; i + 1 < flatNodes.length; i += 2) {
      const id = flatNodes[i]!;
      try {
        const n = JSON.parse(flatNodes[i + 1]!) as {
          host: string;
          pid: number;
          startedAt: string;
          lastSeenAt: string;
          clockOffset: number;
        };
        out.push({
          id,
          host: String(n.host),
          pid: Number(n.pid),
          startedAt: new Date(Number(n.startedAt)),
          lastSeenAt: new Date(Number(n.lastSeenAt)),
          clockOffset: Number(n.clockOffset),
          runningRuns: counts.get(id) ?? 0,
        });
      } catch {
        // observability only: an entry written by hand is left out
      }
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * Listens for changes made through any store instance on this prefix (this one's are delivered directly).
   * The first listener opens a dedicated subscriber connection (after `start()`), the last unsubscribe closes
   * it.
   */
  subscribe(listener: (change: StoreChange) => void): () => void {
    this.listeners.add(listener);
    if (this.started) this.connectListener();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) void this.closeListener();
    };
  }

  /**
   * Resolves once the subscriber connection is subscribed (immediately when nobody listens or `listen` is
   * off; also when subscribing failed: the client keeps retrying). Useful in tests and before relying on prompt
   * wake-ups.
   */
  async listening(): Promise<void> {
    await this.subscribed?.catch(() => {});
  }

  /**
   * Applies retention in one script: deletes the finished runs beyond the newest `maxRunsPerJob` of each job
   * that finished runs in this process since the last call, finished runs older than `maxRunAge` (up to
   * 10,000 per call, by the server's time), and retired copies of self-removed jobs none of whose runs is
   * active. Called by the store every `pruneEvery` finished runs; call it on a timer for more. Resolves to the
   * number of runs deleted.
   */
  async prune(): Promise<number> {
    const jobs = [...this.dirtyJobs];
    this.dirtyJobs.clear();
    this.finishedSincePrune = 0;
    const deleted = await this.eval(S.PRUNE, [
      JSON.stringify(jobs),
      String(this.maxRunsPerJob),
      this.maxRunAge === null ? '' : String(this.maxRunAge),
    ]).catch((err: unknown) => {
      // Not pruned: kept for the next pass.
      for (const id of jobs) this.dirtyJobs.add(id);
      throw err;
    });
    return Number(deleted);
  }

  // ------------------------------------------------------------------ internals

  private key(...parts: string[]): string {
    return this.prefix + parts.join(':');
  }

  private get db(): Redis {
    if (!this.client) throw new TickworkError('STORE_ERROR', 'The Redis store is not started');
    return this.client;
  }

  /**
   * Runs `fn` on the client, mapping its failure to `STORE_ERROR`. On a client that does not resend the commands
   * a dropped connection left unanswered (the store's own: `autoResendUnfulfilledCommands: false`), ioredis
   * would leave such a command pending for ever; it is rejected when the connection closes instead. It may or
   * may not have been applied, as a statement whose commit was not acknowledged: a firing step's runs are
   * stored either way, and runs leased by an unanswered `acquireRuns` are reaped when their lease ends.
   */
  private async call<T>(fn: (client: Redis) => Promise<T>): Promise<T> {
    const client = this.db;
    if (client.options.autoResendUnfulfilledCommands !== false) {
      try {
        return await fn(client);
      } catch (err) {
        throw mapError(err);
      }
    }
    this.watchClose(client);
    let lost!: (err: Error) => void;
    const closed = new Promise<never>((_, reject) => (lost = reject));
    this.inFlight.add(lost);
    try {
      return await Promise.race([fn(client), closed]);
    } catch (err) {
      throw mapError(err);
    } finally {
      this.inFlight.delete(lost);
    }
  }

  /** Rejects the commands in flight when `client`'s connection closes (see {@link call}). */
  private watchClose(client: Redis): void {
    if (this.watched === client) return;
    this.watched = client;
    client.on('close', () => {
      const waiting = [...this.inFlight];
      this.inFlight.clear();
      for (const reject of waiting)
        reject(new Error('the connection closed before the command was answered'));
    });
  }

  /** Runs a script by its SHA-1, loading it when the server does not know it (`NOSCRIPT`). */
  private eval(script: S.Script, args: string[]): Promise<unknown> {
    return this.call(async (c) => {
      try {
        return await c.evalsha(script.sha, 0, this.prefix, ...args);
      } catch (err) {
        if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
        return await c.eval(script.lua, 0, this.prefix, ...args);
      }
    });
  }

  /** Tells this process's listeners at once and the other processes through `PUBLISH`. */
  private async announce(change: StoreChange): Promise<void> {
    this.emit(change);
    try {
      await this.call((c) => c.publish(this.channel, JSON.stringify({ ...change, source: this.source })));
    } catch {
      // a hint only: correctness never depends on it
    }
  }

  private emit(change: StoreChange): void {
    emitChange(this.listeners, change);
  }

  private connectListener(): void {
    if (!this.listen || this.subscriber || this.listeners.size === 0) return;
    const sub = this.db.duplicate({
      lazyConnect: true,
      maxRetriesPerRequest: null,
      autoResubscribe: true,
      enableOfflineQueue: true,
    });
    this.subscriber = sub;
    this.dropped = false;
    sub.on('error', () => {});
    sub.on('close', () => {
      if (this.subscriber === sub) this.dropped = true;
    });
    sub.on('ready', () => {
      // After a reconnection (the client subscribes again by itself), changes may have been missed.
      if (this.subscriber === sub && this.dropped) {
        this.dropped = false;
        this.emit({ kind: 'job-modified' });
      }
    });
    sub.on('message', (_channel: string, message: string) => {
      try {
        const change = JSON.parse(message) as StoreChange & { source?: string };
        if (change.source === this.source) return;
        const out: StoreChange = { kind: change.kind };
        if (change.jobId !== undefined) out.jobId = change.jobId;
        this.emit(out);
      } catch {
        this.emit({ kind: 'job-modified' });
      }
    });
    // Queued until the connection is up (lazily opened by this command, retried by the client until it is):
    // a subscriber whose first connection fails still subscribes once Redis is back.
    this.subscribed = sub.subscribe(this.channel).then(() => {
      this.dropped = false;
    });
    this.subscribed.catch(() => {});
  }

  private async closeListener(): Promise<void> {
    const sub = this.subscriber;
    this.subscriber = null;
    this.subscribed = null;
    if (sub) {
      sub.removeAllListeners('message');
      try {
        await sub.quit();
      } catch {
        sub.disconnect();
      }
    }
  }
}

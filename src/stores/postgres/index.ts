/**
 * A store in PostgreSQL (`tickwork/stores/postgres`), shared by any number of processes on any number of
 * machines.
 *
 * Needs the optional peer dependency `pg` (8 or later); only this module imports it.
 *
 * - **The database clock.** Every due check, lease and timestamp the store decides uses the server's time
 *   (`statement_timestamp()`, the start of the current statement), never the `now` arguments of
 *   {@link Store} methods, which this store ignores: machines with skewed clocks still agree on what is
 *   due. The planner receives the database time as `context.now`, and {@link FireResult.now} reports it.
 *   Values the caller computes (`nextRunTime`, a retry's `retryAt`, a run's `notBefore`) are stored as given.
 * - **Firing** is one transaction per batch of four round trips whatever the batch size: `BEGIN`; claim up
 *   to `limit` due jobs `FOR UPDATE SKIP LOCKED`, counting their active runs; (the planner runs in this
 *   process) one statement that advances the jobs (compare-and-set on `version`), removes or pauses those
 *   the plan says, and bulk-inserts the runs (sent as JSON) `ON CONFLICT DO NOTHING` on the unique index
 *   (job id, scheduled fire time, manual), counting the active runs again under the row locks; `COMMIT`
 *   (with a `NOTIFY` when pending runs were created). A claim of 128 jobs or more is divided among
 *   `fireConcurrency` (default 2) such transactions side by side. The scheduler claims up to 1,000 jobs per
 *   transaction by default ({@link PostgresStore.fireBatchSize}).
 * - **Notifications.** {@link PostgresStore.subscribe} opens one dedicated connection that `LISTEN`s on a
 *   channel named after the schema; writes `NOTIFY` it. A dropped listener reconnects with backoff and
 *   announces a resync. Correctness never depends on a notification.
 * - **Connections**: the pool (own: `poolSize`, default 4) plus one listening connection while subscribed.
 * - **Sessions**: every transaction sets `statement_timeout` and `idle_in_transaction_session_timeout`
 *   locally (`SET LOCAL`), so a stalled process cannot hold locks for long, even on a caller-owned pool;
 *   an own pool also sets them for every session. Transactions also set `plan_cache_mode =
 *   force_custom_plan`: their prepared statements are planned for the table sizes of the moment, never
 *   from a generic plan cached while a table was small (the count of a job's active runs would then scan
 *   the whole runs table for every job fired, after retention emptied it and autovacuum analyzed it).
 * - JSON (trigger, args, retry, error, result) is stored as `text`, so a row written badly by hand is still
 *   read (and quarantined by the scheduler) instead of failing a whole query.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import pg from 'pg';
import { TickworkError, invalidOption } from '../../core/errors.js';
import type { JobRecord, RunRecord, RunStatus } from '../../core/structures.js';
import type { TriggerJSON } from '../../triggers/trigger.js';
import {
  MAX_INSTANT,
  MIN_INSTANT,
  boolean,
  duration,
  integer,
  nonEmptyString,
  optionsObject,
  rejectUnknownKeys,
} from '../../core/validate.js';
import {
  emitChange,
  ACTIVE_SQL,
  CHANGE_COLUMNS,
  checkJobPage,
  conflictError,
  copyJob,
  decodeJob,
  decodeRun,
  isInvalidTrigger,
  MAX_VERSION,
  newRunRecord,
  notFound,
  resultToJson,
  replacementOf,
  unchangedByReplace,
  uuidv7,
  type JobColumns,
  type RunColumns,
  versionConflict,
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
  JobSort,
  NodeInfo,
  RunFilter,
  ReapRetry,
  RunOutcome,
  Store,
  StoreChange,
  StoreStartContext,
} from '../store.js';
import { MIGRATIONS } from './migrations.js';
import { splitQuery, storeOptionsOf } from '../url.js';

export { MIGRATIONS, type Migration } from './migrations.js';

/** Where the store connects: a connection string (the store opens and closes its own pool) or your pool. */
export type PostgresConnection = { connectionString: string } | { pool: pg.Pool };

/** Options of {@link PostgresStore}. */
export interface PostgresStoreOptions {
  /**
   * Schema holding the store's tables (created when missing). Any name; it is quoted.
   * @defaultValue 'tickwork'
   */
  schema?: string;
  /**
   * Connections of the pool the store opens (ignored with a caller-owned `pool`).
   * @defaultValue 4
   */
  poolSize?: number;
  /**
   * `statement_timeout` of the store's statements, in milliseconds (0 = none); not of the migrations
   * `start()` applies.
   * @defaultValue 30000
   */
  statementTimeout?: number;
  /**
   * `idle_in_transaction_session_timeout` of the store's transactions, in milliseconds (0 = none): the server
   * ends a session that stalls inside a transaction, releasing its locks.
   * @defaultValue 60000
   */
  idleInTransactionTimeout?: number;
  /**
   * How many finished runs to keep per job (the newest, by scheduled fire time).
   * @defaultValue 100
   */
  maxRunsPerJob?: number;
  /**
   * Finished runs older than this, in milliseconds, are deleted by {@link PostgresStore.prune} (up to 10,000 per
   * call, oldest first): runs whose `finishedAt` and scheduled fire time are both older (a run cancelled before
   * its fire time is kept until that time is old too). `null` keeps them (subject to `maxRunsPerJob`).
   * @defaultValue null
   */
  maxRunAge?: number | null;
  /**
   * After how many finished runs (in this process) the store applies retention ({@link PostgresStore.prune}).
   * @defaultValue 500
   */
  pruneEvery?: number;
  /**
   * Longest the scheduler sleeps between checks, in milliseconds.
   * @defaultValue 5000
   */
  maxWakeInterval?: number;
  /**
   * How many transactions one {@link PostgresStore.fireDueJobs} call may divide its claim among, side by
   * side on as many pooled connections (each claims its share `FOR UPDATE SKIP LOCKED`, so they never claim
   * the same job). While one waits for the server the process plans the other's jobs, and the server works
   * on both with two cores: on a 2-core machine 2 (with the scheduler's default claims of 2,000) fired 1.2
   * to 1.5 times as many jobs per second as 1 (claims of 1,000) in `bench/stores.ts`. A claim is divided
   * only into shares of at least 64 jobs, and among no more connections than the pool can hand out at that
   * moment without waiting. Also sets {@link PostgresStore.fireBatchSize}. From 1 (one transaction per
   * call) to 16.
   * @defaultValue 2
   */
  fireConcurrency?: number;
  /**
   * Whether {@link PostgresStore.subscribe} opens a `LISTEN` connection (false: listeners only hear this
   * process's own changes).
   * @defaultValue true
   */
  listen?: boolean;
}

const OPTION_KEYS = [
  'schema',
  'poolSize',
  'statementTimeout',
  'idleInTransactionTimeout',
  'maxRunsPerJob',
  'maxRunAge',
  'pruneEvery',
  'maxWakeInterval',
  'fireConcurrency',
  'listen',
] as const;

/**
 * The query parameters a connection string may carry besides the store options: libpq's connection
 * parameters (PostgreSQL's documentation, "Parameter Key Words"; the pg driver reads some and ignores the
 * others, as a URL shared with other clients may hold them) and those the pg driver reads of its own. Any
 * other parameter is refused: the driver would ignore it silently (a misspelt `schemaName=` would leave the
 * store in the default schema, beside other applications' jobs).
 */
const CONNECTION_PARAMETERS = [
  // libpq
  'host',
  'hostaddr',
  'port',
  'dbname',
  'user',
  'password',
  'passfile',
  'require_auth',
  'channel_binding',
  'connect_timeout',
  'client_encoding',
  'options',
  'application_name',
  'fallback_application_name',
  'keepalives',
  'keepalives_idle',
  'keepalives_interval',
  'keepalives_count',
  'tcp_user_timeout',
  'replication',
  'gssencmode',
  'sslmode',
  'requiressl',
  'sslnegotiation',
  'sslcompression',
  'sslcert',
  'sslkey',
  'sslpassword',
  'sslcertmode',
  'sslrootcert',
  'sslcrl',
  'sslcrldir',
  'sslsni',
  'requirepeer',
  'ssl_min_protocol_version',
  'ssl_max_protocol_version',
  'krbsrvname',
  'gsslib',
  'gssdelegation',
  'service',
  'target_session_attrs',
  'load_balance_hosts',
  // the pg driver's own (pg-connection-string, pg's ConnectionParameters)
  'ssl',
  'db',
  'encoding',
  'uselibpqcompat',
  'binary',
  'statement_timeout',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
  'query_timeout',
  'connectionTimeoutMillis',
  'keepAlive',
  'keepAliveInitialDelayMillis',
] as const;

/**
 * The next value of a `version` column (`integer`): one more, or 1 after the largest (a job firing 100 times a
 * second reaches it in 8 months; the overflow failed every firing batch). A compare-and-set only needs the
 * value to change. See {@link nextVersion}.
 */
function nextVersionSql(column: string): string {
  return `CASE WHEN ${column} >= ${MAX_VERSION} THEN 1 ELSE ${column} + 1 END`;
}

/**
 * The driver's `options` parameter (`-c work_mem=64MB`) taken out of a connection string: left in, its value
 * would replace the session settings the store gives its own pool, so it is sent with them instead.
 * @throws TickworkError `INVALID_OPTION` when it is given more than once.
 */
function sessionOptionsOf(connectionString: string): { url: string; session: string | null } {
  const split = splitQuery(connectionString);
  const params = split.params;
  const session = params.getAll('options');
  if (session.length === 0) return { url: connectionString, session: null };
  if (session.length > 1) {
    throw new TickworkError('INVALID_OPTION', 'Expected `options` once in the connection string', {
      field: 'options',
    });
  }
  params.delete('options');
  return { url: split.join(), session: session[0]! };
}

/** The smallest share of a claim {@link PostgresStoreOptions.fireConcurrency} gives a transaction. */
const MIN_FIRE_SHARE = 64;
/** The jobs one firing transaction claims in a claim of the scheduler's default size ({@link PostgresStore.fireBatchSize}). */
const FIRE_SHARE_SIZE = 1000;

const JOB_COLUMN_LIST = [
  'id',
  'name',
  'task_id',
  'trigger',
  'args',
  'max_instances',
  'misfire_grace_time',
  'coalesce',
  'jitter',
  'timeout',
  'retry',
  'paused',
  'next_run_time',
  'version',
  'created_at',
  'updated_at',
  'quarantine',
];
const JOB_COLUMNS = JOB_COLUMN_LIST.join(', ');
/**
 * A timestamp as epoch ms (`float8`), exact: `numeric` arithmetic, so a time stored with microseconds (set
 * by the database's clock) keeps them and `new Date` truncates them, never reporting a time later than the
 * stored one (a `float8` `date_part` is cheaper but rounds, and can read such a time up to 0.5 ms late).
 */
function msOf(column: string): string {
  return `(extract(epoch FROM ${column}) * 1000)::float8`;
}
/** {@link JOB_COLUMNS} with the times as epoch ms (`float8`): much cheaper for the driver than timestamps. */
const JOB_COLUMNS_MS = JOB_COLUMN_LIST.map((c) =>
  c === 'next_run_time' || c === 'created_at' || c === 'updated_at' ? `${msOf(c)} AS ${c}` : c,
).join(', ');
const RUN_COLUMN_LIST = [
  'id',
  'job_id',
  'task_id',
  'scheduled_fire_time',
  'not_before',
  'status',
  'manual',
  'attempt',
  'owner',
  'lease_expires_at',
  'started_at',
  'finished_at',
  'error',
  'result',
  'created_at',
];
const RUN_TIMES = new Set([
  'scheduled_fire_time',
  'not_before',
  'lease_expires_at',
  'started_at',
  'finished_at',
  'created_at',
]);
/**
 * A run row's columns with the times as epoch ms (`float8`, as {@link JOB_COLUMNS_MS}), each qualified by
 * `table` (when given) and named as the column. A query that sorts by a time must qualify it (`r.not_before`):
 * unqualified, `ORDER BY` would sort by the float output column, which no index serves.
 */
function runColumnsMs(table = ''): string {
  const q = table ? `${table}.` : '';
  return RUN_COLUMN_LIST.map((c) => (RUN_TIMES.has(c) ? `${msOf(q + c)} AS ${c}` : `${q}${c}`)).join(', ');
}
/**
 * The last instant tickwork writes (the end of the year 9999, {@link MAX_INSTANT}) as an SQL literal: a time
 * after it (`'infinity'`, the year 280000, written by hand) is no time. `next_run_time > it` and
 * `not_before > it` are range scans at the top end of `jobs_next_run` and `runs_pending`: nothing to read
 * when there is no such row.
 */
const UNREADABLE_AFTER = `'${new Date(MAX_INSTANT).toISOString()}'`;
const FINAL_SQL = `('succeeded', 'failed', 'timed-out', 'missed', 'skipped', 'abandoned', 'cancelled')`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `ORDER BY` of each `JobFilter.sort`, in the `"C"` collation (code point order, whatever the database's
 * collation); ids are unique, so every order is total. Jobs without a next run time (paused) come last.
 */
const JOB_ORDER: Record<JobSort, string> = {
  id: 'id COLLATE "C"',
  nextRunTime: 'next_run_time NULLS LAST, id COLLATE "C"',
  name: 'name COLLATE "C", id COLLATE "C"',
};

/** The `taskId` and `paused` conditions of a job filter, as `$n` parameters from 1. */
function jobWhere(filter: JobCountFilter): { where: string[]; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.taskId !== undefined) where.push(`task_id = $${params.push(filter.taskId)}`);
  if (filter.paused !== undefined) where.push(filter.paused ? 'paused' : 'NOT paused');
  return { where, params };
}

/** Quotes an SQL identifier. */
export function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

type Row = JobColumns & { active?: number };
type Queryable = pg.Pool | pg.PoolClient;

/**
 * A persistent store in PostgreSQL. See the module documentation for the clock, the firing transaction and
 * the connection budget.
 *
 * ```ts
 * const store = new PostgresStore({ connectionString: process.env.DATABASE_URL! }, { schema: 'jobs' });
 * const scheduler = new Scheduler({ store });
 * ```
 *
 * Methods reject with `TickworkError` `STORE_ERROR` (the `pg` error as `cause`) when the database fails.
 */
export class PostgresStore implements Store {
  readonly kind = 'postgres';

  /**
   * What the store shows of itself to `JSON.stringify` and `console.log`: its kind and schema, never the
   * connection string (which may hold a password) or the pool.
   */
  toJSON(): { kind: 'postgres'; schema: string } {
    return { kind: this.kind, schema: this.schema };
  }

  [inspect.custom](): string {
    return `PostgresStore ${JSON.stringify(this.toJSON())}`;
  }
  readonly persistent = true;
  readonly maxWakeInterval: number;
  /**
   * How many jobs the scheduler fires per {@link PostgresStore.fireDueJobs} call by default: 1,000 per
   * transaction times {@link PostgresStoreOptions.fireConcurrency} (2,000 with the default 2), at most
   * 1,000 times the pool's size (`poolSize`, or a caller-owned pool's `max`): a call divides its claim among
   * no more connections than the pool holds. A
   * transaction pays a fixed cost whatever it claims (its round trips, the flush of its commit to the WAL):
   * larger claims spread it over more jobs. Claims of 2,000 per transaction measured no faster than 1,000
   * (`bench/stores.ts`).
   */
  readonly fireBatchSize: number;
  /** The schema holding the tables. */
  readonly schema: string;
  /** The `LISTEN`/`NOTIFY` channel of this schema. */
  readonly channel: string;

  private readonly connectionString: string | null;
  /** The driver's `options` from the connection string, sent before the store's session settings. */
  private readonly sessionOptions: string | null = null;
  private readonly ownPool: boolean;
  private pool: pg.Pool | null;
  private readonly poolSize: number;
  private readonly statementTimeout: number;
  private readonly idleTimeout: number;
  private readonly maxRunsPerJob: number;
  private readonly maxRunAge: number | null;
  private readonly pruneEvery: number;
  private readonly listen: boolean;
  private readonly fireConcurrency: number;
  private readonly s: string;
  private readonly prefix: string;
  private readonly begin: string;
  /** The firing step's write statement (see {@link fireSql}). */
  private readonly fireSql: string;
  /** Identifies this store instance in notifications, so it ignores its own. */
  private readonly source = randomBytes(8).toString('hex');
  private started = false;
  private readonly listeners = new Set<(change: StoreChange) => void>();
  private listener: pg.Client | null = null;
  private listenerState: 'off' | 'connecting' | 'on' = 'off';
  private listenerWaiters: (() => void)[] = [];
  private reconnectTimer: NodeJS.Timeout | null = null;
  private reconnectDelay = 100;
  private readonly dirtyJobs = new Set<string>();
  /** Parsed trigger of each job's last claim, by job id, with the text it was parsed from. */
  private readonly claimedTriggers = new Map<string, { text: string; trigger: TriggerJSON }>();
  private finishedSincePrune = 0;
  /**
   * Set by {@link getNextWakeTime} when an unpaused job's `next_run_time` (or a pending run's `not_before`,
   * of the tasks it was asked about) lies past the year 9999 (`'infinity'`, written by hand: tickwork never
   * writes one). The claim and the lease (`<= statement_timestamp()`) never reach such a row, so the next
   * firing step (leasing) looks for them once, apart from its hot query: the planner quarantines such a job,
   * the scheduler cancels such a run (`RUN_UNREADABLE`).
   */
  private unreadableJobs = false;
  private unreadableRuns = false;

  /**
   * @param connection a `connectionString`, or a caller-owned `pool` (never closed by the store). Options may
   *   also be given here, beside the connection (`{ connectionString, schema }`), or in the connection
   *   string's query by their names (`postgres://db/app?schema=jobs&listen=false`: `true`/`false`, `null` and
   *   numbers as such), which the driver then does not see; the driver's own parameters (`sslmode`, ...) stay.
   * @param options see {@link PostgresStoreOptions}.
   * @throws TickworkError `INVALID_OPTION` / `UNKNOWN_OPTION` for bad options, `INVALID_OPTION` for an option
   *   the connection string and the options both give, differently.
   */
  constructor(connection: PostgresConnection & PostgresStoreOptions, options: PostgresStoreOptions = {}) {
    const conn = optionsObject(connection, 'connection');
    const { connectionString, pool, ...inline } = conn;
    const opts = { ...inline, ...optionsObject(options, 'options') };
    rejectUnknownKeys(opts, OPTION_KEYS);
    if (pool !== undefined) {
      if (!(pool instanceof pg.Pool) && typeof (pool as { connect?: unknown }).connect !== 'function')
        throw new TickworkError('INVALID_OPTION', 'Expected `pool` to be a pg.Pool', { field: 'pool' });
      if (connectionString !== undefined)
        throw new TickworkError('INVALID_OPTION', 'Give either `connectionString` or `pool`, not both', {
          field: 'pool',
        });
      this.pool = pool as pg.Pool;
      this.ownPool = false;
      this.connectionString = null;
    } else {
      const text = nonEmptyString(connectionString, 'connectionString', 4096);
      // Store options in the connection string's query (`?schema=jobs&listen=false`, as store URLs give
      // them) are the store's, not the driver's: taken out, and never in conflict with `options`.
      const stripped = storeOptionsOf(text, OPTION_KEYS, ['schema'], {
        name: 'PostgreSQL (libpq) or the pg driver',
        keys: CONNECTION_PARAMETERS,
      });
      const { url, session } = sessionOptionsOf(stripped.url);
      const fromUrl = stripped.options;
      this.sessionOptions = session;
      for (const [key, value] of Object.entries(fromUrl)) {
        const given = (opts as Record<string, unknown>)[key];
        if (given !== undefined && given !== value) {
          throw new TickworkError(
            'INVALID_OPTION',
            `Expected \`${key}\` once: the connection string says ${JSON.stringify(value)}, the options ${JSON.stringify(given)}`,
            { field: key },
          );
        }
        (opts as Record<string, unknown>)[key] = value;
      }
      this.connectionString = url;
      this.pool = null;
      this.ownPool = true;
    }
    this.schema = opts.schema === undefined ? 'tickwork' : nonEmptyString(opts.schema, 'schema', 63);
    // PostgreSQL cuts identifiers at 63 bytes: two longer names with the same first 63 would share a schema.
    if (Buffer.byteLength(this.schema) > 63)
      throw invalidOption('schema', 'a name of at most 63 bytes in UTF-8', this.schema);
    this.poolSize = opts.poolSize === undefined ? 4 : integer(opts.poolSize, 'poolSize', 1);
    this.statementTimeout =
      opts.statementTimeout === undefined ? 30_000 : integer(opts.statementTimeout, 'statementTimeout', 0);
    this.idleTimeout =
      opts.idleInTransactionTimeout === undefined
        ? 60_000
        : integer(opts.idleInTransactionTimeout, 'idleInTransactionTimeout', 0);
    this.maxRunsPerJob =
      opts.maxRunsPerJob === undefined ? 100 : integer(opts.maxRunsPerJob, 'maxRunsPerJob', 0);
    this.maxRunAge =
      opts.maxRunAge === undefined || opts.maxRunAge === null ? null : duration(opts.maxRunAge, 'maxRunAge');
    this.pruneEvery = opts.pruneEvery === undefined ? 500 : integer(opts.pruneEvery, 'pruneEvery', 1);
    this.maxWakeInterval =
      opts.maxWakeInterval === undefined ? 5000 : integer(opts.maxWakeInterval, 'maxWakeInterval', 1);
    this.listen = opts.listen === undefined ? true : boolean(opts.listen, 'listen');
    this.fireConcurrency =
      opts.fireConcurrency === undefined ? 2 : integer(opts.fireConcurrency, 'fireConcurrency', 1, 16);
    const connections = this.pool ? (this.pool.options?.max ?? 10) : this.poolSize;
    this.fireBatchSize = FIRE_SHARE_SIZE * Math.max(1, Math.min(this.fireConcurrency, connections));
    this.s = quoteIdent(this.schema);
    const hash = createHash('sha1').update(this.schema).digest('hex').slice(0, 10);
    // A channel name is an identifier too (63 bytes): a long schema name's channel is named by its hash.
    this.channel = Buffer.byteLength(this.schema) <= 50 ? `tickwork.${this.schema}` : `tickwork.${hash}`;
    this.prefix = `tw_${hash}_`;
    this.fireSql = fireSql(this.s);
    this.begin =
      `BEGIN; SET LOCAL statement_timeout = ${this.statementTimeout}; ` +
      `SET LOCAL idle_in_transaction_session_timeout = ${this.idleTimeout}; SET LOCAL plan_cache_mode = force_custom_plan`;
  }

  /**
   * Opens the pool (when given a connection string), creates the schema and applies the missing migrations
   * in one transaction under `pg_advisory_xact_lock`, so concurrent starts are safe.
   * @throws TickworkError `STORE_ERROR` when the database is unreachable or its schema is newer than this
   *   version of tickwork knows.
   */
  async start(_context: StoreStartContext): Promise<void> {
    if (this.started) return;
    if (!this.pool) {
      this.pool = new pg.Pool({
        connectionString: this.connectionString!,
        // Our sessions show up as `tickwork` in pg_stat_activity (an `application_name` in the URL wins).
        application_name: 'tickwork',
        max: this.poolSize,
        // The connection string's own `options` first: the store's timeouts are its options' to set.
        options:
          (this.sessionOptions === null ? '' : `${this.sessionOptions} `) +
          `-c statement_timeout=${this.statementTimeout} ` +
          `-c idle_in_transaction_session_timeout=${this.idleTimeout}`,
      });
      // An idle connection that breaks is dropped by the pool; without a handler, it would crash the process.
      this.pool.on('error', () => {});
    }
    await this.tx(async (c) => {
      // No statement timeout here: a migration rebuilds indexes (migration 6 those of runs, about 2 s per
      // million runs) and waits for the locks of the tables it alters, and the starts of other processes wait
      // for it on the advisory lock. A timeout would roll the migration back at every start, for good.
      await c.query('SET LOCAL statement_timeout = 0');
      await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`tickwork:${this.schema}`]);
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${this.s}`);
      await c.query(`SET LOCAL search_path TO ${this.s}, pg_catalog`);
      await c.query(`CREATE TABLE IF NOT EXISTS migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now())`);
      const done = await c.query<{ version: number }>('SELECT version FROM migrations');
      const applied = new Set(done.rows.map((r) => r.version));
      const known = MIGRATIONS.at(-1)?.version ?? 0;
      const newest = Math.max(0, ...applied);
      if (newest > known) {
        throw new TickworkError(
          'STORE_ERROR',
          `The schema ${this.s} is at migration ${newest}, newer than this tickwork knows (${known})`,
        );
      }
      for (const m of MIGRATIONS) {
        if (applied.has(m.version)) continue;
        await c.query(m.sql);
        await c.query('INSERT INTO migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      }
    });
    this.started = true;
    if (this.listeners.size > 0) this.connectListener();
  }

  /** Closes the listening connection and the pool the store opened (never a caller-owned pool). */
  async stop(): Promise<void> {
    this.started = false;
    await this.closeListener();
    if (this.ownPool && this.pool) {
      const pool = this.pool;
      this.pool = null;
      await pool.end();
    }
  }

  async addJob(job: JobRecord, conflict: ConflictPolicy): Promise<AddJobResult> {
    if (conflict === 'replace') {
      // Every process re-adds its jobs at boot: an unchanged job is one read, with no lock, no write and no
      // NOTIFY (a locked row would be skipped by the other processes' firing until the commit).
      // A read that fails (an undecodable row) leaves the job to the transaction below, as before.
      const existing = await this.getJob(job.id).catch(() => null);
      if (existing && unchangedByReplace(existing, job)) return { job: existing, outcome: 'unchanged' };
    }
    const result = await this.tx(async (c) => {
      for (;;) {
        const inserted = await c.query(
          `INSERT INTO ${this.s}.jobs (${JOB_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
             $13, 1, $14, $15, $16) ON CONFLICT (id) DO NOTHING`,
          jobValues(job),
        );
        if (inserted.rowCount === 1) return { job: { ...job, version: 1 }, outcome: 'added' as const };
        if (conflict === 'error') throw conflictError(job.id);
        const found = await c.query<Row>(
          `SELECT ${JOB_COLUMNS} FROM ${this.s}.jobs WHERE id = $1 FOR UPDATE`,
          [job.id],
        );
        const row = found.rows[0];
        if (!row) continue; // removed in between: insert again
        const existing = decodeJob(row);
        if (conflict === 'keep') return { job: existing, outcome: 'kept' as const };
        if (unchangedByReplace(existing, job)) return { job: existing, outcome: 'unchanged' as const };
        const stored = replacementOf(existing, job);
        const v = jobValues(stored);
        await c.query(
          `UPDATE ${this.s}.jobs SET name = $2, task_id = $3, trigger = $4, args = $5, max_instances = $6,
             misfire_grace_time = $7, coalesce = $8, jitter = $9, timeout = $10, retry = $11, paused = $12,
             next_run_time = $13, version = $14, updated_at = $15, created_at = $16, quarantine = $17
           WHERE id = $1`,
          [...v.slice(0, 13), stored.version, v[14], v[13], v[15]],
        );
        return { job: stored, outcome: 'replaced' as const };
      }
    });
    if (result.outcome === 'added' || result.outcome === 'replaced')
      await this.announce({ kind: result.outcome === 'added' ? 'job-added' : 'job-modified', jobId: job.id });
    return { job: copyJob(result.job), outcome: result.outcome };
  }

  async getJob(id: string): Promise<JobRecord | null> {
    const r = await this.query<Row>('get-job', `SELECT ${JOB_COLUMNS} FROM ${this.s}.jobs WHERE id = $1`, [
      id,
    ]);
    return r.rows[0] ? decodeJob(r.rows[0]) : null;
  }

  async getJobs(filter: JobFilter = {}): Promise<JobRecord[]> {
    const sort = checkJobPage(filter);
    const { where, params } = jobWhere(filter);
    const p = (v: unknown) => `$${params.push(v)}`;
    if (filter.ids) where.push(`id = ANY(${p(filter.ids)}::text[])`);
    if (filter.afterId !== undefined) where.push(`id > ${p(filter.afterId)} COLLATE "C"`);
    let sql = `SELECT ${JOB_COLUMNS} FROM ${this.s}.jobs`;
    if (where.length) sql += ` WHERE ${where.join(' AND ')}`;
    sql += ` ORDER BY ${JOB_ORDER[sort]}`;
    if (filter.limit !== undefined) sql += ` LIMIT ${p(filter.limit)}`;
    if (filter.offset !== undefined) sql += ` OFFSET ${p(filter.offset)}`;
    const r = await this.query<Row>(null, sql, params);
    return r.rows.map((row) => decodeJob(row));
  }

  /** Counts with `count(*)`. */
  async countJobs(filter: JobCountFilter = {}): Promise<number> {
    const { where, params } = jobWhere(filter);
    const sql = `SELECT count(*)::int AS n FROM ${this.s}.jobs${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`;
    const r = await this.query<{ n: number }>(null, sql, params);
    return r.rows[0]!.n;
  }

  async updateJob(id: string, changes: JobChanges, expectedVersion?: number): Promise<JobRecord> {
    const job = await this.tx(async (c) => {
      const found = await c.query<{ version: number }>(
        `SELECT version FROM ${this.s}.jobs WHERE id = $1 FOR UPDATE`,
        [id],
      );
      const row = found.rows[0];
      if (!row) throw notFound(id);
      if (expectedVersion !== undefined && row.version !== expectedVersion)
        throw versionConflict(id, row.version, expectedVersion);
      // Only the changed columns are written, so an undecodable column of the row is never overwritten.
      const params: unknown[] = [id];
      const sets: string[] = [];
      for (const [key, value] of Object.entries(changes)) {
        if (value === undefined) continue;
        const column = CHANGE_COLUMNS[key as keyof JobChanges];
        if (!column) continue;
        params.push(encodeChange(key as keyof JobChanges, value));
        sets.push(`${column} = $${params.length}`);
      }
      // Pausing or resuming is the operator's decision: it ends a quarantine.
      if (changes.paused !== undefined) sets.push('quarantine = NULL');
      sets.push(`version = ${nextVersionSql('version')}`, 'updated_at = statement_timestamp()');
      const updated = await c.query<Row>(
        `UPDATE ${this.s}.jobs SET ${sets.join(', ')} WHERE id = $1 RETURNING ${JOB_COLUMNS}`,
        params,
      );
      return decodeJob(updated.rows[0]!);
    });
    await this.announce({ kind: 'job-modified', jobId: id });
    return job;
  }

  async removeJob(id: string, expectedVersion?: number): Promise<JobRecord | null> {
    const job = await this.tx(async (c) => {
      if (expectedVersion !== undefined) {
        const found = await c.query<{ version: number }>(
          `SELECT version FROM ${this.s}.jobs WHERE id = $1 FOR UPDATE`,
          [id],
        );
        const row = found.rows[0];
        if (!row) return null;
        if (row.version !== expectedVersion) throw versionConflict(id, row.version, expectedVersion);
      }
      const r = await c.query<Row>(`DELETE FROM ${this.s}.jobs WHERE id = $1 RETURNING ${JOB_COLUMNS}`, [id]);
      if (!r.rows[0]) return null;
      await c.query(
        `UPDATE ${this.s}.runs SET status = 'cancelled', finished_at = statement_timestamp()
         WHERE job_id = $1 AND status = 'pending'`,
        [id],
      );
      return decodeJob(r.rows[0]);
    });
    if (job) await this.announce({ kind: 'job-removed', jobId: id });
    return job;
  }

  async removeAllJobs(): Promise<number> {
    const n = await this.tx(async (c) => {
      const r = await c.query<{ id: string }>(`DELETE FROM ${this.s}.jobs RETURNING id`);
      const ids = r.rows.map((x) => x.id);
      if (ids.length > 0)
        await c.query(
          `UPDATE ${this.s}.runs SET status = 'cancelled', finished_at = statement_timestamp()
           WHERE job_id = ANY($1::text[]) AND status = 'pending'`,
          [ids],
        );
      return ids.length;
    });
    if (n > 0) await this.announce({ kind: 'job-removed' });
    return n;
  }

  /**
   * The firing step: one transaction of four round trips per batch (see the module documentation), or up to
   * {@link PostgresStoreOptions.fireConcurrency} such transactions side by side, each claiming its share of
   * `limit`. `now` is ignored: the database's `statement_timestamp()` of the claim decides what is due and
   * is passed to the planner; {@link FireResult.now} is the earliest of the claims' times.
   *
   * When some of the transactions fail, what the others committed is returned, with `more` and the failure
   * as {@link FireResult.error}; when all fail, the call rejects with the first error.
   */
  async fireDueJobs(_now: Date, limit: number, planner: FirePlanner): Promise<FireResult> {
    // Divided only among connections the pool can hand out now: a share waiting for a busy pool would gain
    // nothing (and, with the pool's connectionTimeoutMillis, fail).
    const pool = this.db;
    const free = pool.idleCount + Math.max(0, (pool.options.max ?? 10) - pool.totalCount) - pool.waitingCount;
    const k = Math.max(1, Math.min(this.fireConcurrency, Math.floor(limit / MIN_FIRE_SHARE), free));
    // Jobs whose next run time is no time (seen by getNextWakeTime) are claimed by one transaction only.
    const sweep = this.unreadableJobs;
    if (k === 1) return this.fireBatch(limit, planner, sweep);
    const share = Math.floor(limit / k);
    const settled = await Promise.allSettled(
      Array.from({ length: k }, (_, i) =>
        this.fireBatch(i === 0 ? limit - share * (k - 1) : share, planner, sweep && i === 0),
      ),
    );
    const done = settled.filter((r) => r.status === 'fulfilled').map((r) => r.value);
    const failed = settled.find((r) => r.status === 'rejected');
    if (done.length === 0) throw failed!.reason;
    const result: FireResult = {
      now: new Date(Math.min(...done.map((r) => r.now.getTime()))),
      fired: done.flatMap((r) => r.fired),
      more: failed !== undefined || done.some((r) => r.more),
    };
    if (failed !== undefined) result.error = failed.reason;
    return result;
  }

  /**
   * One firing transaction claiming up to `limit` jobs. `sweep`: when the claim leaves room, also claim
   * unpaused jobs whose `next_run_time` is past the year 9999 (no time: the planner quarantines them), which
   * the claim's `<= statement_timestamp()` never reaches (see {@link unreadableJobs}).
   */
  private async fireBatch(limit: number, planner: FirePlanner, sweep = false): Promise<FireResult> {
    let created = false;
    const result = await this.tx(
      async (c) => {
        // One round trip claims the jobs and counts their active runs (for the planner: an estimate, taken
        // from the statement's snapshot). Times come as epoch ms (float8): cheap for the driver, unlike
        // timestamps; they are converted after the LIMIT, for the claimed rows only. The rows come in the
        // index's order (next_run_time); they are sorted here, where it costs less than on the server.
        const claimed = await c.query<Row & { db_now: number; active_runs: number; row_tid: string }>({
          name: this.prefix + 'claim',
          text: `WITH c AS (
                 SELECT j.ctid AS row_tid, j.* FROM ${this.s}.jobs j
                 WHERE NOT paused AND next_run_time <= statement_timestamp()
                 ORDER BY next_run_time LIMIT $1 FOR UPDATE SKIP LOCKED),
               ca AS (
                 SELECT ${JOB_COLUMNS_MS}, c.row_tid::text AS row_tid, (SELECT count(*) FROM ${this.s}.runs r
                   WHERE r.job_id = c.id AND r.status IN ${ACTIVE_SQL})::int AS active_runs FROM c)
               SELECT ${msOf('statement_timestamp()')} AS db_now, ca.*
               FROM (SELECT 1) AS one LEFT JOIN ca ON true`,
          values: [limit + 1],
        });
        const now = new Date(Number(claimed.rows[0]!.db_now));
        const rows = claimed.rows.filter((r) => r.id !== null);
        if (sweep && rows.length <= limit) {
          // A separate statement, run only after getNextWakeTime saw such a job: the claim stays as it is.
          const room = limit + 1 - rows.length;
          const unreadable = await c.query<Row & { db_now: number; active_runs: number; row_tid: string }>({
            name: this.prefix + 'claim-unreadable',
            text: `SELECT ${JOB_COLUMNS_MS}, j.ctid::text AS row_tid, 0 AS active_runs FROM ${this.s}.jobs j
                   WHERE NOT paused AND next_run_time > ${UNREADABLE_AFTER}
                   ORDER BY next_run_time LIMIT $1 FOR UPDATE SKIP LOCKED`,
            values: [room],
          });
          rows.push(...unreadable.rows);
          if (unreadable.rows.length < room) this.unreadableJobs = false;
        }
        rows.sort(
          (a, b) =>
            Number(a.next_run_time) - Number(b.next_run_time) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
        );
        const n = Math.min(limit, rows.length);
        const fired: PgFired[] = [];
        if (n === 0) return { now, fired, more: false };
        const t = now.getTime();
        // The batch goes to the server as JSON (the driver's array literals cost far more), one record per
        // job carrying its first planned run; the further runs of a job (a backlog not coalesced) go in a
        // second document. Values equal to their defaults are left out (see {@link fireSql}).
        const jobs: FireJobRecord[] = [];
        const extra: FireRunRecord[] = [];
        const planned: { fired: PgFired; index: number; id: string; sft: number; nb: number }[] = [];
        for (let i = 0; i < n; i++) {
          const row = rows[i]!;
          const job = this.decodeClaimed(row);
          const est = Number(row.active_runs);
          const plan = planner(job, { now, activeRuns: est });
          const f = new PgFired(job, plan, t);
          fired.push(f);
          // `t`: where the locked row is (its ctid cannot change while this transaction holds the lock), so
          // the update reaches the rows by TID scan instead of joining the whole table.
          const rec: FireJobRecord = {
            i: job.id,
            t: row.row_tid,
            v: job.version,
            n: plan.nextRunTime === null ? null : plan.nextRunTime.getTime(),
          };
          if (plan.quarantine !== undefined) {
            rec.a = 'q';
            rec.q = plan.quarantine;
          } else if (plan.remove) rec.a = 'r';
          let k = 0;
          plan.runs.forEach((p, index) => {
            const id = uuidv7(t);
            const sft = p.scheduledFireTime.getTime();
            const nb = p.notBefore.getTime();
            const run: FireRunRecord = { r: id, s: sft };
            if (nb !== sft) run.b = nb;
            if (p.status === 'pending') {
              if (++k !== 1) run.k = k;
              if (p.queued === true) run.w = true;
            } else {
              run.st = p.status;
              run.k = 0;
            }
            if (est !== 0) run.e = est;
            if (index === 0) Object.assign(rec, run);
            else extra.push({ ...run, i: job.id });
            planned.push({ fired: f, index, id, sft, nb });
          });
          jobs.push(rec);
        }
        const applied = await c.query<{
          ok: string | null;
          ins: string | null;
          skipped: string | null;
        }>({
          name: this.prefix + 'apply',
          text: this.fireSql,
          values: [JSON.stringify(jobs), t, JSON.stringify(extra), n],
        });
        const out = applied.rows[0]!;
        // Each list is sent only when it is not the whole batch (a job whose compare-and-set failed, a run
        // whose (job, fire time) existed already): null means all.
        const ok = out.ok === null ? null : new Set(JSON.parse(out.ok) as string[]);
        const inserted = out.ins === null ? null : new Set(out.ins === '' ? [] : out.ins.split(','));
        const downgraded = new Set(out.skipped === null ? [] : out.skipped.split(','));
        for (const r of planned) {
          const f = r.fired;
          if (ok !== null && !ok.has(f.job.id)) continue;
          // A planned run whose (job, fire time) existed already was not inserted: it is left out.
          if (inserted !== null && !inserted.has(r.id)) continue;
          if (downgraded.has(r.id)) {
            // The plan as applied: this run was stored as skipped (maxInstances, counted under the lock).
            const runsApplied = [...f.plan.runs];
            runsApplied[r.index] = { ...runsApplied[r.index]!, status: 'skipped' };
            f.plan = { ...f.plan, runs: runsApplied };
          }
          const status = f.plan.runs[r.index]!.status;
          if (status === 'pending') created = true;
          else this.dirtyJobs.add(f.job.id);
          f.created.push({ id: r.id, sft: r.sft, nb: r.nb, status });
        }
        // Under the row locks a compare-and-set cannot fail; a job that did is left out, with nothing stored.
        const done = ok === null ? fired : fired.filter((f) => ok.has(f.job.id));
        return { now, fired: done, more: rows.length > limit };
      },
      () => (created ? this.notifySql({ kind: 'run-created' }) : ''),
    );
    if (created) this.emit({ kind: 'run-created' });
    return result;
  }

  /**
   * Decodes a claimed job row, reusing the trigger object of the previous claim of the job while its trigger
   * text is unchanged (the scheduler caches trigger instances by that object, so nothing is re-parsed).
   */
  private decodeClaimed(row: Row): JobRecord {
    const cached = this.claimedTriggers.get(row.id);
    if (cached !== undefined && cached.text === row.trigger) return decodeJob(row, cached.trigger);
    const job = decodeJob(row);
    // A placeholder (the row's args or retry could not be read) is not kept: it stands for the whole row,
    // and a repaired row with the same trigger text must decode afresh.
    if (isInvalidTrigger(job.trigger)) return job;
    if (this.claimedTriggers.size >= 100_000) this.claimedTriggers.clear();
    this.claimedTriggers.set(row.id, { text: row.trigger, trigger: job.trigger });
    return job;
  }

  /** Creates a manual run at the database's time (`now` is ignored), holding the job's row lock. */
  async createManualRun(jobId: string, _now: Date): Promise<RunRecord> {
    const run = await this.tx(
      async (c) => {
        const locked = await c.query(`SELECT 1 FROM ${this.s}.jobs WHERE id = $1 FOR UPDATE`, [jobId]);
        if (locked.rowCount === 0) throw notFound(jobId);
        const r = await c.query<RunColumns>(
          `WITH a AS (SELECT count(*)::int AS n FROM ${this.s}.runs WHERE job_id = $1 AND status IN ${ACTIVE_SQL})
         INSERT INTO ${this.s}.runs (job_id, task_id, scheduled_fire_time, not_before, status, manual, finished_at,
           created_at)
         SELECT j.id, j.task_id, statement_timestamp(), statement_timestamp(),
           CASE WHEN a.n >= j.max_instances THEN 'skipped' ELSE 'pending' END, true,
           CASE WHEN a.n >= j.max_instances THEN statement_timestamp() END, statement_timestamp()
         FROM ${this.s}.jobs j, a WHERE j.id = $1
         RETURNING ${runColumnsMs()}`,
          [jobId],
        );
        return decodeRun(r.rows[0]!);
      },
      () => this.notifySql({ kind: 'run-created', jobId }),
    );
    if (run.status !== 'pending') this.dirtyJobs.add(jobId);
    this.emit({ kind: 'run-created', jobId });
    return run;
  }

  /**
   * Leases runs at the database's time (`now` is ignored): `FOR UPDATE SKIP LOCKED`, then the jobs, in one
   * transaction. A lease is only committed with its runs' jobs read: were the read to fail after a committed
   * lease (a connection lost, a statement timeout), the runs would be held by this process without its
   * knowing, never started, and abandoned when their leases ran out.
   */
  async acquireRuns(
    owner: string,
    _now: Date,
    limit: number,
    leaseMs: number,
    taskIds?: string[],
  ): Promise<AcquiredRun[]> {
    if (limit <= 0 || (taskIds && taskIds.length === 0)) return [];
    return this.tx(async (c) => {
      const r = await this.query<RunColumns>(
        'acquire',
        this.acquireSql('not_before <= statement_timestamp()'),
        [owner, leaseMs, limit, taskIds ?? null],
        c,
      );
      const rows = r.rows;
      if (this.unreadableRuns && rows.length < limit) {
        // Pending runs whose not_before is past the year 9999 (seen by getNextWakeTime) are never due: leased
        // here, apart from the statement above, they read as unreadable and the scheduler cancels them
        // (`RUN_UNREADABLE`) instead of their holding a maxInstances slot for good.
        const room = limit - rows.length;
        const more = await this.query<RunColumns>(
          'acquire-unreadable',
          this.acquireSql(`not_before > ${UNREADABLE_AFTER}`),
          [owner, leaseMs, room, taskIds ?? null],
          c,
        );
        rows.push(...more.rows);
        if (more.rows.length < room) this.unreadableRuns = false;
      }
      if (rows.length === 0) return [];
      const runs = rows.map(decodeRun).sort((a, b) => a.notBefore.getTime() - b.notBefore.getTime());
      const jobs = await this.jobsFor([...new Set(runs.map((x) => x.jobId))], false, c);
      return runs.map((run) => ({ run, job: jobs.get(run.jobId) ?? null }));
    });
  }

  /**
   * The lease statement of {@link acquireRuns}: up to `$3` pending runs meeting `due` (of the tasks `$4`, or
   * all when null), locked `SKIP LOCKED` in `not_before` order, made `running` for owner `$1` with a lease of
   * `$2` ms from the database's time; returns them.
   */
  private acquireSql(due: string): string {
    return `WITH c AS (
         SELECT ctid FROM ${this.s}.runs q
         WHERE status = 'pending' AND ${due}
           AND ($4::text[] IS NULL OR task_id = ANY($4::text[]))
           AND (NOT queued OR NOT EXISTS (SELECT 1 FROM ${this.s}.runs e
             WHERE e.job_id = q.job_id AND e.status IN ${ACTIVE_SQL} AND e.scheduled_fire_time < q.scheduled_fire_time))
         ORDER BY not_before LIMIT $3 FOR UPDATE SKIP LOCKED)
       UPDATE ${this.s}.runs r SET status = 'running', owner = $1, attempt = r.attempt + 1,
         started_at = statement_timestamp(), lease_expires_at = statement_timestamp() + $2 * interval '1 millisecond'
       WHERE r.ctid = ANY (ARRAY(SELECT ctid FROM c))
       RETURNING ${runColumnsMs('r')}`;
  }

  /**
   * The jobs with these ids, live or retired (a live job wins over a retired copy with the same id), read
   * through `client` (the pool, or a transaction's client). `skipUndecodable`: leave out a row that cannot be
   * decoded instead of throwing.
   */
  private async jobsFor(
    ids: string[],
    skipUndecodable: boolean,
    client: Queryable = this.db,
  ): Promise<Map<string, JobRecord>> {
    const j = await this.query<Row & { retired: boolean }>(
      'jobs-for',
      `SELECT ${JOB_COLUMNS_MS}, true AS retired FROM ${this.s}.retired_jobs WHERE id = ANY($1::text[])
       UNION ALL
       SELECT ${JOB_COLUMNS_MS}, false FROM ${this.s}.jobs WHERE id = ANY($1::text[])`,
      [ids],
      client,
    );
    const jobs = new Map<string, JobRecord>();
    // Retired copies first, so that a live job with the same id overwrites them.
    for (const row of j.rows.sort((a, b) => Number(b.retired) - Number(a.retired))) {
      try {
        jobs.set(row.id, decodeJob(row));
      } catch (err) {
        if (!skipUndecodable) throw err;
      }
    }
    return jobs;
  }

  /** Renews leases to the database's time plus `leaseMs` (`now` is ignored). */
  async heartbeatRuns(
    owner: string,
    runs: { id: string; attempt: number }[],
    _now: Date,
    leaseMs: number,
  ): Promise<string[]> {
    const valid = runs.filter((r) => UUID.test(r.id));
    if (valid.length === 0) return [];
    const r = await this.query<{ id: string }>(
      'heartbeat',
      // Rows are locked in id order, as finishRuns locks them: two multi-row updates of one process's runs
      // (a heartbeat and a group of outcomes) can then never deadlock. Each run is reached through the
      // primary key from the list (see {@link lockRunsSql}).
      `WITH l AS (${lockRunsSql(this.s, 'SELECT * FROM unnest($1::uuid[], $2::int[]) AS h(id, attempt)', '$4')})
       UPDATE ${this.s}.runs r SET lease_expires_at = statement_timestamp() + $3 * interval '1 millisecond'
       FROM l WHERE r.id = l.id
       RETURNING r.id::text AS id`,
      [valid.map((x) => x.id), valid.map((x) => x.attempt), leaseMs, owner],
    );
    const held = new Set(r.rows.map((x) => x.id.toLowerCase()));
    return valid.filter((x) => held.has(x.id.toLowerCase())).map((x) => x.id);
  }

  /** Records a run's end at the database's time (`now` is ignored); `retryAt` is stored as given. */
  async finishRun(
    runId: string,
    owner: string,
    attempt: number,
    now: Date,
    outcome: RunOutcome,
  ): Promise<boolean> {
    // A final outcome is a group of one.
    if (!outcome.retryAt) return (await this.finishRuns(owner, [{ runId, attempt, outcome }], now))[0]!;
    if (!UUID.test(runId)) return false;
    const r = await this.query<{ job_id: string }>(
      'retry',
      `UPDATE ${this.s}.runs SET status = 'pending', not_before = $4, owner = NULL, lease_expires_at = NULL,
         error = $5
       WHERE id = $1 AND owner = $2 AND attempt = $3 AND status = 'running' RETURNING job_id`,
      [runId, owner, attempt, outcome.retryAt, outcome.error ? JSON.stringify(outcome.error) : null],
    );
    const row = r.rows[0];
    if (!row) return false;
    await this.announce({ kind: 'run-created', jobId: row.job_id });
    return true;
  }

  /** {@link Store.finishRuns}: one `UPDATE` for the whole group, fenced per run by owner and attempt. */
  async finishRuns(
    owner: string,
    items: { runId: string; attempt: number; outcome: RunOutcome }[],
    _now: Date,
  ): Promise<boolean[]> {
    const valid = items.filter((i) => UUID.test(i.runId) && !i.outcome.retryAt);
    if (valid.length === 0) return items.map(() => false);
    const r = await this.query<{ id: string; job_id: string }>(
      'finish-many',
      // Rows are locked in id order first, as heartbeatRuns locks them (no deadlock between the two), each
      // reached through the primary key from the list (see {@link lockRunsSql}).
      `WITH l AS (${lockRunsSql(
        this.s,
        `SELECT * FROM json_to_recordset($1::json) AS f(id uuid, attempt int, status text, error text, result text)`,
        '$2',
      )})
       UPDATE ${this.s}.runs r SET status = l.status, finished_at = statement_timestamp(), lease_expires_at = NULL,
         error = l.error, result = l.result
       FROM l WHERE r.id = l.id
       RETURNING r.id::text AS id, r.job_id`,
      [
        JSON.stringify(
          valid.map((i) => ({
            id: i.runId,
            attempt: i.attempt,
            status: i.outcome.status,
            error: i.outcome.error ? JSON.stringify(i.outcome.error) : null,
            result: resultToJson(i.outcome.result),
          })),
        ),
        owner,
      ],
    );
    const done = new Set<string>();
    for (const row of r.rows) {
      done.add(row.id.toLowerCase());
      this.dirtyJobs.add(row.job_id);
      if (this.listeners.size > 0) this.emit({ kind: 'run-finished', jobId: row.job_id });
    }
    this.finishedSincePrune += r.rows.length;
    // The outcomes are committed: a retention pass that fails (a full disk) is tried again later, and must not
    // report them unrecorded (prune() keeps the jobs it did not prune).
    if (this.finishedSincePrune >= this.pruneEvery) await this.prune().catch(() => {});
    return items.map((i) => !i.outcome.retryAt && done.has(i.runId.toLowerCase()));
  }

  /**
   * Reaps runs whose lease ended before the database's time (`now` is ignored), in one transaction: the
   * expired runs are locked (`SKIP LOCKED`: two reapers never take the same run), their jobs read (live or
   * retired), `retry` asked, and each run made `pending` again or `abandoned`.
   */
  async reapExpiredRuns(_now: Date, limit: number, retry?: ReapRetry): Promise<RunRecord[]> {
    let requeued = false;
    const rows = await this.tx(
      async (c) => {
        const expired = await c.query<RunColumns>({
          name: this.prefix + 'reap-lock',
          // A lease past the year 9999 ('infinity', written by hand: tickwork never writes one) counts as
          // expired, as in SQLite a lease that is no time: left alone, the run would hold its job's
          // maxInstances slot for good.
          text: `SELECT ${runColumnsMs()} FROM ${this.s}.runs WHERE status = 'running'
                 AND (lease_expires_at < statement_timestamp() OR lease_expires_at > '9999-12-31T23:59:59.999Z')
               LIMIT $1 FOR UPDATE SKIP LOCKED`,
          values: [limit],
        });
        if (expired.rows.length === 0) return [];
        // An undecodable job is left out: its runs are abandoned, not retried (firing quarantines the row).
        const jobs = retry
          ? await this.jobsFor([...new Set(expired.rows.map((r) => r.job_id))], true, c)
          : new Map<string, JobRecord>();
        const decisions = expired.rows.map((row) => {
          const at = retry ? retry(decodeRun(row), jobs.get(row.job_id) ?? null) : null;
          if (at !== null) requeued = true;
          return { id: row.id, at: at === null ? null : at.getTime() };
        });
        const updated = await c.query<RunColumns>({
          name: this.prefix + 'reap',
          text: `UPDATE ${this.s}.runs r SET
                 status = CASE WHEN d.at IS NULL THEN 'abandoned' ELSE 'pending' END,
                 finished_at = CASE WHEN d.at IS NULL THEN statement_timestamp() END,
                 not_before = CASE WHEN d.at IS NULL THEN r.not_before ELSE to_timestamp(d.at / 1000.0) END,
                 owner = CASE WHEN d.at IS NULL THEN r.owner END,
                 lease_expires_at = NULL
               FROM json_to_recordset($1::json) AS d(id uuid, at float8)
               WHERE r.id = d.id RETURNING ${runColumnsMs('r')}`,
          values: [JSON.stringify(decisions)],
        });
        return updated.rows;
      },
      () => (requeued ? this.notifySql({ kind: 'run-created' }) : ''),
    );
    for (const row of rows) if (row.status === 'abandoned') this.dirtyJobs.add(row.job_id);
    if (requeued) this.emit({ kind: 'run-created' });
    return rows.map(decodeRun);
  }

  async requeueRun(runId: string, attempt: number, notBefore: Date): Promise<boolean> {
    if (!UUID.test(runId)) return false;
    const r = await this.query<{ job_id: string }>(
      'requeue',
      `UPDATE ${this.s}.runs SET status = 'pending', not_before = $3, owner = NULL, lease_expires_at = NULL,
         finished_at = NULL
       WHERE id = $1 AND attempt = $2 AND status = 'abandoned' RETURNING job_id`,
      [runId, attempt, notBefore],
    );
    const row = r.rows[0];
    if (!row) return false;
    await this.announce({ kind: 'run-created', jobId: row.job_id });
    return true;
  }

  async getRun(id: string): Promise<RunRecord | null> {
    if (!UUID.test(id)) return null;
    const r = await this.query<RunColumns>(
      'get-run',
      `SELECT ${runColumnsMs()} FROM ${this.s}.runs WHERE id = $1`,
      [id],
    );
    return r.rows[0] ? decodeRun(r.rows[0]) : null;
  }

  async getRuns(filter: RunFilter = {}): Promise<RunRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown) => `$${params.push(v)}`;
    if (filter.jobId !== undefined) where.push(`job_id = ${p(filter.jobId)}`);
    if (filter.status !== undefined) where.push(`status = ANY(${p([filter.status].flat())}::text[])`);
    if (filter.from !== undefined) where.push(`scheduled_fire_time >= ${p(filter.from)}`);
    if (filter.to !== undefined) where.push(`scheduled_fire_time < ${p(filter.to)}`);
    let sql = `SELECT ${runColumnsMs('r')} FROM ${this.s}.runs r`;
    if (where.length) sql += ` WHERE ${where.join(' AND ')}`;
    sql += ` ORDER BY r.scheduled_fire_time DESC, r.id DESC LIMIT ${p(filter.limit ?? 100)} OFFSET ${p(filter.offset ?? 0)}`;
    const r = await this.query<RunColumns>(null, sql, params);
    return r.rows.map(decodeRun);
  }

  /**
   * {@link Store.getNextWakeTime}. Also looks (two index range scans at the top end, empty as a rule) for an
   * unpaused job whose `next_run_time`, or a pending run whose `not_before`, is past the year 9999: such a row
   * makes the answer "due now", and the next firing step or lease takes it (see {@link unreadableJobs}).
   */
  async getNextWakeTime(taskIds?: string[]): Promise<Date | null> {
    const r = await this.query<{ t: number | null; bad_jobs: boolean; bad_runs: boolean }>(
      'wake',
      `SELECT ${msOf(`least(
         (SELECT min(next_run_time) FROM ${this.s}.jobs WHERE NOT paused),
         (SELECT min(not_before) FROM ${this.s}.runs WHERE status = 'pending'
           AND ($1::text[] IS NULL OR task_id = ANY($1::text[]))),
         (SELECT min(lease_expires_at) FROM ${this.s}.runs WHERE status = 'running'))`)} AS t,
       EXISTS (SELECT 1 FROM ${this.s}.jobs WHERE next_run_time > ${UNREADABLE_AFTER} AND NOT paused) AS bad_jobs,
       EXISTS (SELECT 1 FROM ${this.s}.runs WHERE status = 'pending' AND not_before > ${UNREADABLE_AFTER}
         AND ($1::text[] IS NULL OR task_id = ANY($1::text[]))) AS bad_runs`,
      [taskIds ?? null],
    );
    const row = r.rows[0]!;
    this.unreadableJobs = row.bad_jobs;
    this.unreadableRuns = row.bad_runs;
    if (row.bad_jobs || row.bad_runs) return new Date(0);
    const t = row.t;
    if (t === null) return null;
    // A time past the year 9999 ('infinity', written by hand: tickwork never writes one) is no time to wake
    // at (a lease of it is reaped at the next pass); one before the year 0000 ('-infinity') is due.
    if (!(t <= MAX_INSTANT)) return null;
    if (!(t >= MIN_INSTANT)) return new Date(0);
    return new Date(t);
  }

  /**
   * Measures the database clock (`clock_timestamp()`) against `localNow` from the midpoint of each of three
   * round trips and keeps the one with the shortest round trip.
   */
  async measureClockOffset(localNow: () => number): Promise<ClockSample> {
    let best: ClockSample | null = null;
    for (let i = 0; i < 3; i++) {
      const t0 = localNow();
      const r = await this.query<{ t: number }>(
        'clock',
        `SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS t`,
        [],
      );
      const t1 = localNow();
      const sample = { offset: Math.round(r.rows[0]!.t - (t0 + t1) / 2), roundTrip: t1 - t0 };
      if (best === null || sample.roundTrip < best.roundTrip) best = sample;
    }
    return best!;
  }

  /** Upserts this node in the `nodes` table (`last_seen_at` by the database clock); prunes nodes unseen for an hour. */
  async registerNode(info: Omit<NodeInfo, 'lastSeenAt' | 'runningRuns'>): Promise<void> {
    await this.query(
      'node',
      `WITH up AS (
         INSERT INTO ${this.s}.nodes (id, host, pid, started_at, last_seen_at, clock_offset)
         VALUES ($1, $2, $3, $4, statement_timestamp(), $5)
         ON CONFLICT (id) DO UPDATE SET last_seen_at = statement_timestamp(), clock_offset = EXCLUDED.clock_offset)
       DELETE FROM ${this.s}.nodes WHERE id <> $1 AND last_seen_at < statement_timestamp() - interval '1 hour'`,
      [info.id, info.host, info.pid, info.startedAt, info.clockOffset],
    );
  }

  async unregisterNode(id: string): Promise<void> {
    await this.query('node-remove', `DELETE FROM ${this.s}.nodes WHERE id = $1`, [id]);
  }

  /** The registered nodes, with their `running` runs counted from the runs table (by owner). */
  async getNodes(): Promise<NodeInfo[]> {
    const r = await this.query<{
      id: string;
      host: string;
      pid: number;
      started_at: Date;
      last_seen_at: Date;
      clock_offset: number;
      running: number;
    }>(
      'nodes',
      `SELECT n.*, (SELECT count(*)::int FROM ${this.s}.runs r WHERE r.status = 'running' AND r.owner = n.id)
         AS running
       FROM ${this.s}.nodes n ORDER BY n.id`,
      [],
    );
    return r.rows.map((n) => ({
      id: n.id,
      host: n.host,
      pid: n.pid,
      startedAt: n.started_at,
      lastSeenAt: n.last_seen_at,
      clockOffset: n.clock_offset,
      runningRuns: n.running,
    }));
  }

  /**
   * Listens for changes made through any store instance on this schema (this one's are delivered directly).
   * The first listener opens a dedicated `LISTEN` connection (after `start()`), the last unsubscribe closes it.
   */
  subscribe(listener: (change: StoreChange) => void): () => void {
    this.listeners.add(listener);
    if (this.started && this.listenerState === 'off') this.connectListener();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) void this.closeListener();
    };
  }

  /**
   * Resolves once the `LISTEN` connection is established (immediately when it is, or when nobody listens or
   * `listen` is off). Useful in tests and before relying on prompt wake-ups.
   */
  listening(): Promise<void> {
    if (this.listenerState !== 'connecting' || !this.listen) return Promise.resolve();
    return new Promise((resolve) => this.listenerWaiters.push(resolve));
  }

  /**
   * Applies retention in one statement per rule: deletes the finished runs beyond the newest `maxRunsPerJob` of
   * each job that finished runs in this process since the last call, finished runs older than `maxRunAge` (up
   * to 10,000 per call, by the database's time), and kept copies of self-removed jobs none of whose runs is
   * active. Called by the store every `pruneEvery` finished runs; call it on a timer for more. Resolves to the
   * number of runs deleted.
   */
  async prune(): Promise<number> {
    const jobs = [...this.dirtyJobs];
    this.dirtyJobs.clear();
    this.finishedSincePrune = 0;
    let deleted = 0;
    if (jobs.length > 0) {
      const r = await this.query(
        'prune-jobs',
        `WITH ranked AS (
           SELECT id, row_number() OVER (PARTITION BY job_id ORDER BY scheduled_fire_time DESC, created_at DESC) AS rn
           FROM ${this.s}.runs WHERE job_id = ANY($1::text[]) AND status IN ${FINAL_SQL})
         DELETE FROM ${this.s}.runs r USING ranked WHERE r.id = ranked.id AND ranked.rn > $2`,
        [jobs, this.maxRunsPerJob],
      ).catch((err: unknown) => {
        // Not pruned: kept for the next pass.
        for (const id of jobs) this.dirtyJobs.add(id);
        throw err;
      });
      deleted += r.rowCount ?? 0;
    }
    if (this.maxRunAge !== null) {
      const r = await this.query(
        'prune-age',
        // Through runs_time, oldest first: a run finishes after its fire time (a run cancelled before it is
        // deleted once that time is old too), so only old runs are read, not the whole table each time. The
        // rows are then deleted where they are (TID scan): matched by id instead, the planner joined the
        // 10,000 ids with a scan of the whole table once most of it was old.
        `WITH cutoff AS (SELECT statement_timestamp() - $1 * interval '1 millisecond' AS t)
         DELETE FROM ${this.s}.runs WHERE ctid = ANY (ARRAY(
           SELECT ctid FROM ${this.s}.runs, cutoff WHERE scheduled_fire_time < cutoff.t AND finished_at < cutoff.t
             AND status IN ${FINAL_SQL}
           ORDER BY scheduled_fire_time LIMIT 10000))`,
        [this.maxRunAge],
      );
      deleted += r.rowCount ?? 0;
    }
    await this.query(
      'prune-retired',
      `DELETE FROM ${this.s}.retired_jobs rj WHERE NOT EXISTS (
         SELECT 1 FROM ${this.s}.runs r WHERE r.job_id = rj.id AND r.status IN ${ACTIVE_SQL})`,
      [],
    );
    return deleted;
  }

  // ------------------------------------------------------------------ internals

  private get db(): pg.Pool {
    if (!this.pool) throw new TickworkError('STORE_ERROR', 'The PostgreSQL store is not started');
    return this.pool;
  }

  /** One statement outside a transaction; named statements are prepared once per connection. */
  private async query<T extends pg.QueryResultRow>(
    name: string | null,
    text: string,
    values: unknown[],
    client: Queryable = this.db,
  ): Promise<pg.QueryResult<T>> {
    try {
      return await client.query<T>(
        name === null ? { text, values } : { name: this.prefix + name, text, values },
      );
    } catch (err) {
      throw mapError(err);
    }
  }

  /**
   * Runs `fn` in a transaction (READ COMMITTED, with local timeouts). `beforeCommit` may return SQL (a
   * `NOTIFY`) sent with the `COMMIT` in the same round trip.
   */
  private async tx<T>(fn: (client: pg.PoolClient) => Promise<T>, beforeCommit?: () => string): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.db.connect();
    } catch (err) {
      throw mapError(err);
    }
    let broken: unknown = undefined;
    // A connection that breaks while checked out (between two statements) emits `error` on the client;
    // unhandled, that would crash the process. Remember it and let the pool discard the client.
    const onError = (err: Error) => {
      broken = err;
    };
    client.on('error', onError);
    try {
      await client.query(this.begin);
      const result = await fn(client);
      const extra = beforeCommit?.() ?? '';
      await client.query(extra ? `${extra}; COMMIT` : 'COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        broken = rollbackError;
      }
      throw mapError(err);
    } finally {
      client.removeListener('error', onError);
      client.release(broken === undefined ? undefined : (broken as Error));
    }
  }

  private notifySql(change: StoreChange): string {
    const payload = JSON.stringify({ ...change, source: this.source });
    return `NOTIFY ${quoteIdent(this.channel)}, ${pg.escapeLiteral(payload)}`;
  }

  /** Tells this process's listeners at once and the other processes through `NOTIFY`. */
  private async announce(change: StoreChange): Promise<void> {
    this.emit(change);
    const payload = JSON.stringify({ ...change, source: this.source });
    if (Buffer.byteLength(payload) > 7900) return;
    try {
      await this.db.query('SELECT pg_notify($1, $2)', [this.channel, payload]);
    } catch {
      // a hint only: correctness never depends on it
    }
  }

  private emit(change: StoreChange): void {
    emitChange(this.listeners, change);
  }

  private connectListener(): void {
    if (!this.listen || this.listenerState !== 'off') return;
    this.listenerState = 'connecting';
    // The pool's settings (own pool: application_name and the session timeouts; a caller's pool: its own).
    const config: pg.ClientConfig = this.pool
      ? { ...(this.pool as unknown as { options: pg.ClientConfig }).options }
      : { connectionString: this.connectionString! };
    const client = new pg.Client(config);
    this.listener = client;
    const fail = () => {
      if (this.listener !== client) return;
      this.listener = null;
      this.listenerState = 'off';
      client.removeAllListeners('notification');
      void client.end().catch(() => {});
      if (!this.started || this.listeners.size === 0) return;
      const delay = this.reconnectDelay;
      this.reconnectDelay = Math.min(this.reconnectDelay * 2, 30_000);
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        this.connectListener();
      }, delay);
      this.reconnectTimer.unref();
    };
    client.on('error', fail);
    client.on('end', fail);
    client.on('notification', (msg) => {
      if (!msg.payload) return;
      try {
        const change = JSON.parse(msg.payload) as StoreChange & { source?: string };
        if (change.source === this.source) return;
        const out: StoreChange = { kind: change.kind };
        if (change.jobId !== undefined) out.jobId = change.jobId;
        this.emit(out);
      } catch {
        this.emit({ kind: 'job-modified' });
      }
    });
    client
      .connect()
      .then(() => client.query(`LISTEN ${quoteIdent(this.channel)}`))
      .then(() => {
        if (this.listener !== client) return;
        const resync = this.reconnectDelay > 100;
        this.listenerState = 'on';
        this.reconnectDelay = 100;
        for (const w of this.listenerWaiters.splice(0)) w();
        // After a reconnect, changes may have been missed while the connection was down.
        if (resync) this.emit({ kind: 'job-modified' });
      })
      .catch(fail);
  }

  private async closeListener(): Promise<void> {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const client = this.listener;
    this.listener = null;
    this.listenerState = 'off';
    for (const w of this.listenerWaiters.splice(0)) w();
    if (client) {
      client.removeAllListeners('notification');
      await client.end().catch(() => {});
    }
  }
}

/** Maps a driver error to `STORE_ERROR` (or `JOB_CONFLICT` for a duplicate job id), keeping it as `cause`. */
function mapError(err: unknown): Error {
  if (err instanceof TickworkError) return err;
  const e = err as { code?: string; constraint?: string; message?: string };
  if (e.code === '23505' && (e.constraint === 'jobs_pkey' || e.constraint === 'retired_jobs_pkey'))
    return new TickworkError('JOB_CONFLICT', `A job with that id exists already`, {}, { cause: err });
  return new TickworkError(
    'STORE_ERROR',
    `PostgreSQL store failed: ${e.message ?? String(err)}`,
    e.code ? { pgCode: e.code } : {},
    { cause: err },
  );
}

function encodeChange(key: keyof JobChanges, value: unknown): unknown {
  switch (key) {
    case 'trigger':
    case 'args':
      return JSON.stringify(value);
    case 'retry':
      return value === null ? null : JSON.stringify(value);
    default:
      return value;
  }
}

/** The 16 column values of a job in column order, without `version`. */
function jobValues(job: JobRecord): unknown[] {
  return [
    job.id,
    job.name,
    job.taskId,
    JSON.stringify(job.trigger),
    JSON.stringify(job.args),
    job.maxInstances,
    job.misfireGraceTime,
    job.coalesce,
    job.jitter,
    job.timeout,
    job.retry ? JSON.stringify(job.retry) : null,
    job.paused,
    job.nextRunTime,
    job.createdAt,
    job.updatedAt,
    job.quarantine,
  ];
}

/**
 * A claimed job in the firing step's JSON document, with its first planned run (when it has one).
 * `i` id, `t` the locked row's ctid, `v` version (compare-and-set), `n` new next run time (epoch ms, or
 * null), `a` action: absent (advance), `q` (quarantine: pause, `q` the reason) or `r` (remove); the run
 * fields as in {@link FireRunRecord}.
 */
interface FireJobRecord extends Partial<FireRunRecord> {
  i: string;
  t: string;
  v: number;
  n: number | null;
  a?: 'q' | 'r';
  q?: string;
}

/**
 * A planned run in the firing step's JSON. `r` run id, `s` scheduled fire time, `b` not-before (absent: `s`),
 * `st` status (absent: `pending`), `k` its position among the job's pending runs of this plan (absent: 1; 0
 * for a run that is not pending), `e` the active runs the planner was told of (absent: 0), `w` true for a
 * queued run (`PlannedRun.queued`: never downgraded to skipped); `i` the job id (for a job's second and later
 * runs, which go in a document of their own).
 */
interface FireRunRecord {
  r: string;
  s: number;
  b?: number;
  st?: RunStatus;
  k?: number;
  e?: number;
  w?: boolean;
  i?: string;
}

/**
 * The firing step's write statement, for the schema `s` (quoted). Parameters: `$1` the jobs (JSON array of
 * {@link FireJobRecord}), `$2` the claim's time (epoch ms), `$3` the jobs' further runs (JSON array of
 * {@link FireRunRecord}), `$4` the number of jobs in `$1`.
 *
 * It advances the jobs with a compare-and-set on `version` (reaching the locked rows by TID), removes (into
 * `retired_jobs`) or pauses the jobs the plan says, and inserts the runs of the jobs whose compare-and-set
 * succeeded `ON CONFLICT (job_id, scheduled_fire_time, manual) DO NOTHING`, with the task and `maxInstances`
 * of the row. The active runs are counted again here, under the row locks, on the statement's snapshot: when
 * more runs are active than the planner was told (a manual run committed between the claim's snapshot and
 * its lock), a pending run that no longer fits `maxInstances` is stored as skipped (a queued one never is).
 *
 * It returns the jobs advanced (`ok`, a JSON array: a job id may hold a comma) and the runs inserted (`ins`,
 * comma-separated uuids) only when they are not all of them (null: all; the common case sends no list), and
 * the planned pending runs downgraded to skipped (read from `r` alone, whether inserted or not: the caller
 * keeps only those in `ins`). Matching them against `ins` in SQL would be a nested loop over two CTEs whose
 * sizes the planner cannot know: every skipped run against every planned run, quadratic in the batch (a
 * backlog of 30,000 runs took minutes).
 */
function fireSql(s: string): string {
  return `WITH p AS (
      SELECT * FROM json_to_recordset($1::json) AS p(i text, t tid, v int, n float8, a text, q text, r uuid,
        s float8, b float8, st text, k int, e int, w boolean)),
    adv AS (
      UPDATE ${s}.jobs j SET
        next_run_time = CASE WHEN p.a IS NULL THEN to_timestamp(p.n / 1000.0) END,
        paused = j.paused OR p.a IS NOT DISTINCT FROM 'q',
        quarantine = CASE WHEN p.a IS NOT DISTINCT FROM 'q' THEN p.q ELSE j.quarantine END,
        version = ${nextVersionSql('j.version')},
        updated_at = to_timestamp($2::float8 / 1000.0)
      FROM p WHERE j.ctid = ANY(ARRAY(SELECT t FROM p)) AND j.id = p.i AND j.version = p.v
        AND p.a IS DISTINCT FROM 'r'
      RETURNING j.id, j.task_id, j.max_instances),
    del AS (
      DELETE FROM ${s}.jobs j USING p WHERE j.ctid = ANY(ARRAY(SELECT t FROM p WHERE a = 'r'))
        AND j.id = p.i AND j.version = p.v AND p.a = 'r'
      RETURNING j.*),
    ret AS (
      INSERT INTO ${s}.retired_jobs SELECT * FROM del
      ON CONFLICT (id) DO UPDATE SET (${JOB_COLUMNS}) = (${JOB_COLUMN_LIST.map((c) => 'EXCLUDED.' + c).join(', ')})),
    ok AS (SELECT id, task_id, max_instances FROM adv UNION ALL SELECT id, task_id, max_instances FROM del),
    rr AS (
      SELECT p.i AS job_id, p.r AS id, p.s, coalesce(p.b, p.s) AS b, coalesce(p.st, 'pending') AS st,
        coalesce(p.k, 1) AS k, coalesce(p.e, 0) AS e, coalesce(p.w, false) AS w
      FROM p WHERE p.r IS NOT NULL
      UNION ALL
      SELECT x.i, x.r, x.s, coalesce(x.b, x.s), coalesce(x.st, 'pending'), coalesce(x.k, 1), coalesce(x.e, 0),
        coalesce(x.w, false)
      FROM json_to_recordset($3::json) AS x(i text, r uuid, s float8, b float8, st text, k int, e int, w boolean)),
    r AS (
      SELECT rr.*, ok.task_id,
        CASE WHEN rr.st = 'pending' AND NOT rr.w AND a.n > rr.e AND a.n + rr.k > ok.max_instances THEN 'skipped'
          ELSE rr.st END AS final
      FROM rr JOIN ok ON ok.id = rr.job_id
      CROSS JOIN LATERAL (SELECT count(*) AS n FROM ${s}.runs a
        WHERE a.job_id = rr.job_id AND a.status IN ${ACTIVE_SQL}) a),
    ins AS (
      INSERT INTO ${s}.runs (id, job_id, task_id, scheduled_fire_time, not_before, status, manual, finished_at,
        created_at, queued)
      SELECT r.id, r.job_id, r.task_id, to_timestamp(r.s / 1000.0), to_timestamp(r.b / 1000.0), r.final, false,
        CASE WHEN r.final = 'pending' THEN NULL ELSE to_timestamp($2::float8 / 1000.0) END,
        to_timestamp($2::float8 / 1000.0), r.w AND r.final = 'pending'
      FROM r
      ON CONFLICT (job_id, scheduled_fire_time, manual) DO NOTHING
      RETURNING id, status)
    SELECT
      CASE WHEN (SELECT count(*) FROM ok) = $4 THEN NULL
        ELSE coalesce((SELECT json_agg(id) FROM ok), '[]')::text END AS ok,
      CASE WHEN (SELECT count(*) FROM ins) = (SELECT count(*) FROM r) THEN NULL
        ELSE coalesce((SELECT string_agg(id::text, ',') FROM ins), '') END AS ins,
      (SELECT string_agg(r.id::text, ',') FROM r WHERE r.st = 'pending' AND r.final = 'skipped') AS skipped`;
}

/**
 * Locks, in id order, the runs listed by `list` (a query with the columns `id` and `attempt`, and any others,
 * which are passed on) that are `running` for `owner` (an SQL parameter) in that attempt, as checked on their
 * latest versions once locked; each row of the result is one of them. Each run is reached by its primary key
 * from the list (a nested loop over the sorted list, one index probe per run, the subquery fenced by
 * `OFFSET 0` so that no condition is pushed into it), whatever the statistics say. Joined the other way, a
 * plan made while `running` runs looked rare (the table analyzed when small, or a generic plan) scanned
 * every running run of the table against every listed one: a group of 500 outcomes with 20,000 runs going
 * took 1.4 s, a heartbeat of 5,000 runs 11 s, and the outcomes of a burst of 50,000 due jobs were recorded at
 * 200 a second.
 *
 * The statement's update then joins the locked runs by `id` alone: the rows cannot change while locked, and
 * with no condition on `status` or `owner` the only way to the rows is the primary key (a condition the
 * partial indexes serve would bring the scan of every running run back). Not by TID: a run renewed by
 * another transaction after the statement's snapshot was locked in its new version, which a TID scan under
 * that snapshot does not see (its outcome would be refused).
 */
function lockRunsSql(s: string, list: string, owner: string): string {
  return `SELECT q.* FROM (SELECT * FROM (${list}) AS q0 ORDER BY id) AS q
    CROSS JOIN LATERAL (
      SELECT r.owner, r.status, r.attempt FROM ${s}.runs r WHERE r.id = q.id OFFSET 0 FOR UPDATE) AS x
    WHERE x.owner = ${owner} AND x.status = 'running' AND x.attempt = q.attempt`;
}

class PgFired implements FiredJob {
  /** The runs stored, in plan order. */
  readonly created: { id: string; sft: number; nb: number; status: RunStatus }[] = [];

  constructor(
    readonly job: JobRecord,
    public plan: FiredJob['plan'],
    private readonly now: number,
  ) {}

  private records: RunRecord[] | null = null;

  /** The run records (built once, on first read: the caller reads them after the step is complete). */
  get runs(): RunRecord[] {
    return (this.records ??= this.created.map((r) =>
      newRunRecord(
        r.id,
        this.job,
        r.sft,
        r.nb,
        r.status,
        false,
        r.status === 'pending' ? null : this.now,
        this.now,
      ),
    ));
  }
}

/**
 * A store in one SQLite file (`tickwork/stores/sqlite`), shared safely by several processes on one host.
 *
 * Needs the optional peer dependency `better-sqlite3` (12 or later); only this module imports it.
 *
 * - Every write is one transaction; the firing step and leasing use `BEGIN IMMEDIATE`, which takes SQLite's
 *   single write lock at once, so two processes can never claim the same due job or lease the same run.
 * - A call that finds the lock taken by another connection waits for it up to `busyTimeout` without blocking
 *   the event loop: better-sqlite3 is synchronous, so SQLite's own busy handler (`PRAGMA busy_timeout`) only
 *   gets a slice of at most 25 ms at a time, and between slices the call waits on a timer (see
 *   {@link SqliteStoreOptions.busyTimeout}).
 * - The file uses WAL journaling, so readers never block the writer.
 * - "Now" is the scheduler's injected clock (the `now` arguments), as for the memory store: the processes
 *   share one host and so one clock.
 * - Times are stored as integer epoch milliseconds; JSON (trigger, args, retry, error, result) as text.
 * - Retention is applied by {@link SqliteStore.prune}, which the store calls itself every `pruneEvery`
 *   finished runs.
 * - Changes made by other processes are announced to {@link SqliteStore.subscribe} listeners by polling
 *   `PRAGMA data_version` (a cheap counter SQLite bumps when another connection commits) every
 *   `changePollInterval` while someone listens.
 *
 * @module
 */
import { statfsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { TickworkError } from '../../core/errors.js';
import type { JobRecord, RunRecord, RunStatus } from '../../core/structures.js';
import {
  MAX_INSTANT,
  MIN_INSTANT,
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
  textColumn,
  timeColumn,
  type Decoding,
  newRunRecord,
  notFound,
  resultToJson,
  replacementOf,
  unchangedByReplace,
  uuidv7,
  ensureDirectory,
  type JobColumns,
  type RunColumns,
  versionConflict,
} from '../common.js';
import type {
  AcquiredRun,
  AddJobResult,
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

/** Options of {@link SqliteStore}. */
export interface SqliteStoreOptions {
  /**
   * Path of the database file (created when missing, with its directory), or `':memory:'` for a private
   * in-memory database.
   */
  path: string;
  /**
   * How long a call waits in all for a lock held by another connection (another process's write lock) before
   * failing with `STORE_ERROR`, in milliseconds; `0` fails at once.
   *
   * The wait does not block the event loop. SQLite's own busy handler (`PRAGMA busy_timeout`), which blocks
   * the thread, is set to `min(busyTimeout, 25)` ms; a transaction that still finds the lock taken is tried
   * again after a timer (2 ms, doubling up to 50 ms, with jitter) until `busyTimeout` has passed since the
   * call. A store's writes that wait are applied in the order they were called.
   * @defaultValue 5000
   */
  busyTimeout?: number;
  /**
   * How many finished runs to keep per job (the newest, by scheduled fire time).
   * @defaultValue 100
   */
  maxRunsPerJob?: number;
  /**
   * Finished runs older than this, in milliseconds, are deleted by {@link SqliteStore.prune} (up to 10,000 per
   * call, oldest first): runs whose `finishedAt` and scheduled fire time are both older (a run cancelled before
   * its fire time is kept until that time is old too). `null` keeps them (subject to `maxRunsPerJob`).
   * @defaultValue null
   */
  maxRunAge?: number | null;
  /**
   * After how many finished runs (in this process) the store applies retention by calling
   * {@link SqliteStore.prune}.
   * @defaultValue 500
   */
  pruneEvery?: number;
  /**
   * Longest the scheduler sleeps between checks, in milliseconds (other processes may add jobs, and SQLite
   * has no notifications between processes).
   * @defaultValue 5000
   */
  maxWakeInterval?: number;
  /**
   * How often to poll `PRAGMA data_version` for commits by other connections while listeners are
   * subscribed, in milliseconds; `0` disables polling.
   * @defaultValue 1000
   */
  changePollInterval?: number;
}

/**
 * The longest SQLite's own busy handler waits for a lock at a time, in milliseconds: it sleeps in the calling
 * thread, so this bounds how long a busy lock blocks the event loop. The rest of `busyTimeout` is waited on
 * timers, {@link FIRST_PAUSE} ms at first, doubling up to {@link MAX_PAUSE} ms.
 */
const BUSY_SLICE = 25;
const FIRST_PAUSE = 2;
const MAX_PAUSE = 50;

/**
 * `wal_autocheckpoint` (pages) of a connection that met a full disk: about 400 KB of WAL instead of SQLite's
 * 1000 pages (4 MB), so that the room freed on the disk goes to the database.
 */
const FULL_DISK_CHECKPOINT = 100;

const FINAL_SQL = `('succeeded', 'failed', 'timed-out', 'missed', 'skipped', 'abandoned', 'cancelled')`;

const JOB_COLUMNS =
  'id, name, task_id, trigger, args, max_instances, misfire_grace_time, coalesce, jitter, timeout, retry, ' +
  'paused, next_run_time, version, created_at, updated_at, quarantine';

/**
 * Numbered migrations of the SQLite schema; `PRAGMA user_version` records the last one applied. Each is
 * applied once, in order, in one `BEGIN IMMEDIATE` transaction at {@link SqliteStore.start}.
 */
export const SQLITE_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'jobs and runs',
    sql: `
CREATE TABLE jobs (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  task_id TEXT NOT NULL,
  trigger TEXT NOT NULL,
  args TEXT NOT NULL,
  max_instances INTEGER NOT NULL,
  misfire_grace_time REAL,
  coalesce INTEGER NOT NULL,
  jitter REAL,
  timeout REAL,
  retry TEXT,
  paused INTEGER NOT NULL,
  next_run_time INTEGER,
  version INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs (next_run_time) WHERE paused = 0;
CREATE INDEX jobs_task ON jobs (task_id);
CREATE TABLE retired_jobs (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  task_id TEXT NOT NULL,
  trigger TEXT NOT NULL,
  args TEXT NOT NULL,
  max_instances INTEGER NOT NULL,
  misfire_grace_time REAL,
  coalesce INTEGER NOT NULL,
  jitter REAL,
  timeout REAL,
  retry TEXT,
  paused INTEGER NOT NULL,
  next_run_time INTEGER,
  version INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  job_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  scheduled_fire_time INTEGER NOT NULL,
  not_before INTEGER NOT NULL,
  status TEXT NOT NULL,
  manual INTEGER NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 0,
  owner TEXT,
  lease_expires_at INTEGER,
  started_at INTEGER,
  finished_at INTEGER,
  error TEXT,
  result TEXT,
  created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX runs_fire_time ON runs (job_id, scheduled_fire_time) WHERE manual = 0;
CREATE INDEX runs_job ON runs (job_id, scheduled_fire_time DESC);
CREATE INDEX runs_time ON runs (scheduled_fire_time DESC);
CREATE INDEX runs_status ON runs (status, scheduled_fire_time DESC);
CREATE INDEX runs_active ON runs (job_id) WHERE status IN ('pending', 'running');
CREATE INDEX runs_pending ON runs (not_before) WHERE status = 'pending';
CREATE INDEX runs_lease ON runs (lease_expires_at) WHERE status = 'running';
`,
  },
  {
    version: 2,
    name: 'nodes',
    sql: `
CREATE TABLE nodes (
  id TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  clock_offset REAL NOT NULL DEFAULT 0
);
`,
  },
  {
    version: 3,
    name: 'job list orders',
    // getJobs sorted by next run time or by name, paged with LIMIT/OFFSET: without these every page sorts the
    // whole table with its JSON columns (for 10,000 jobs, up to ~100 ms at p99 on a busy machine when rows are
    // a few hundred bytes); with them a page reads the index (SQLite scans it twice for NULLS LAST).
    sql: `
CREATE INDEX jobs_next_run ON jobs (next_run_time, id);
CREATE INDEX jobs_name ON jobs (name, id);
`,
  },
  {
    version: 4,
    name: 'quarantine reason',
    // Why the store paused a job it could not plan (JobRecord.quarantine): not an operator's pause.
    sql: `
ALTER TABLE jobs ADD COLUMN quarantine TEXT;
ALTER TABLE retired_jobs ADD COLUMN quarantine TEXT;
`,
  },
  {
    version: 5,
    name: 'queued runs',
    // A fire time of a backlog that waits for the earlier runs of its job (PlannedRun.queued).
    sql: `
ALTER TABLE runs ADD COLUMN queued INTEGER NOT NULL DEFAULT 0;
`,
  },
];

type Row = JobColumns & { active?: number };

/**
 * A persistent store in an SQLite file. See the module documentation for the locking and clock model.
 *
 * ```ts
 * const scheduler = new Scheduler({ store: new SqliteStore({ path: 'data/jobs.db' }) });
 * ```
 *
 * Methods reject with `TickworkError` `STORE_ERROR` (the SQLite error as `cause`) when the database fails,
 * for example when another process holds the write lock longer than `busyTimeout`.
 *
 * Waiting for another connection's lock does not block the event loop (an HTTP server in the same process
 * keeps answering): a call that finds the lock taken (`SQLITE_BUSY`) waits on a timer and tries again, its
 * transaction rolled back and its callback run again whole, so nothing of a failed attempt is kept. In WAL
 * mode only `BEGIN IMMEDIATE` meets the lock, so the firing step's planner is called once per claimed job;
 * outside WAL mode (a file system that refuses it) a busy `COMMIT` reruns the step and its planner.
 * While one write waits, the store's later writes queue behind it; reads go ahead (WAL readers are not
 * blocked by the writer).
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly persistent = true;
  readonly maxWakeInterval: number;

  private readonly path: string;
  private readonly busyTimeout: number;
  private readonly maxRunsPerJob: number;
  private readonly maxRunAge: number | null;
  private readonly pruneEvery: number;
  private readonly pollInterval: number;
  private db: Database.Database | null = null;
  private now: () => number = Date.now;
  /** The last task id list passed in, as JSON (see {@link SqliteStore.taskJson}). */
  private lastTaskIds: { list: string[]; length: number; json: string } | null = null;
  private readonly listeners = new Set<(change: StoreChange) => void>();
  private pollTimer: NodeJS.Timeout | null = null;
  private dataVersion = 0;
  private readonly dirtyJobs = new Set<string>();
  private finishedSincePrune = 0;
  private readonly cache = new Map<string, Database.Statement>();
  /** A {@link SqliteStore.start} in progress (it may be waiting for the lock). */
  private opening: Promise<void> | null = null;
  /**
   * The turn of the last write queued behind a write waiting for the lock, or `null` when no write waits (a
   * write then runs at once). Writes that wait keep their call order.
   */
  private writeTail: Promise<void> | null = null;
  /** A write failed with `SQLITE_FULL` and the WAL has not been truncated since (see {@link SqliteStore.roomAware}). */
  private full = false;
  /** `wal_autocheckpoint` was lowered to {@link FULL_DISK_CHECKPOINT} after a full disk. */
  private smallWal = false;

  /** @throws TickworkError `INVALID_OPTION` / `UNKNOWN_OPTION` for bad options. */
  constructor(options: SqliteStoreOptions) {
    const opts = optionsObject(options, 'options');
    rejectUnknownKeys(opts, [
      'path',
      'busyTimeout',
      'maxRunsPerJob',
      'maxRunAge',
      'pruneEvery',
      'maxWakeInterval',
      'changePollInterval',
    ]);
    this.path = nonEmptyString(opts.path, 'path', 4096);
    this.busyTimeout = opts.busyTimeout === undefined ? 5000 : integer(opts.busyTimeout, 'busyTimeout', 0);
    this.maxRunsPerJob =
      opts.maxRunsPerJob === undefined ? 100 : integer(opts.maxRunsPerJob, 'maxRunsPerJob', 0);
    this.maxRunAge =
      opts.maxRunAge === undefined || opts.maxRunAge === null ? null : duration(opts.maxRunAge, 'maxRunAge');
    this.pruneEvery = opts.pruneEvery === undefined ? 500 : integer(opts.pruneEvery, 'pruneEvery', 1);
    this.maxWakeInterval =
      opts.maxWakeInterval === undefined ? 5000 : integer(opts.maxWakeInterval, 'maxWakeInterval', 1);
    this.pollInterval =
      opts.changePollInterval === undefined
        ? 1000
        : integer(opts.changePollInterval, 'changePollInterval', 0);
  }

  /**
   * Opens the file (WAL, busy timeout) and applies pending migrations, waiting for another connection's lock
   * up to `busyTimeout` in all (without blocking the event loop).
   */
  async start(context: StoreStartContext): Promise<void> {
    if (this.db) return;
    this.opening ??= this.open(context).finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  /** Closes the database (after a start in progress). */
  async stop(): Promise<void> {
    if (this.opening) await this.opening.catch(() => {});
    this.stopPolling();
    this.cache.clear();
    this.db?.close();
    this.db = null;
    this.full = false;
    this.smallWal = false;
  }

  private async open(context: StoreStartContext): Promise<void> {
    const started = performance.now();
    this.now = context.now;
    const db = this.wrap(() => {
      // A `file:` URI is not opened by this build of better-sqlite3: it fails below, creating nothing.
      if (this.path !== ':memory:' && !/^file:/i.test(this.path)) ensureDirectory(dirname(this.path));
      // `timeout` is SQLite's busy_timeout: one slice of the wait (see BUSY_SLICE).
      return new Database(this.path, { timeout: Math.min(this.busyTimeout, BUSY_SLICE) });
    });
    try {
      if (this.path !== ':memory:') await this.retry(() => db.pragma('journal_mode = WAL'), started);
      db.pragma('synchronous = NORMAL');
      const migrate = db.transaction(() => {
        const current = db.pragma('user_version', { simple: true }) as number;
        const known = SQLITE_MIGRATIONS.at(-1)?.version ?? 0;
        if (current > known) {
          throw new TickworkError(
            'STORE_ERROR',
            `The SQLite database ${this.path} has schema version ${current}, newer than this tickwork knows (${known})`,
          );
        }
        for (const m of SQLITE_MIGRATIONS) {
          if (m.version > current) db.exec(m.sql);
        }
        db.pragma(`user_version = ${known}`);
      });
      await this.retry(() => migrate.immediate(), started);
      this.dataVersion = this.wrap(() => db.pragma('data_version', { simple: true }) as number);
    } catch (err) {
      db.close();
      throw err;
    }
    this.db = db;
    if (this.listeners.size > 0) this.startPolling();
  }

  async addJob(job: JobRecord, conflict: ConflictPolicy): Promise<AddJobResult> {
    const result = await this.tx(() => {
      const row = this.stmt(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ?`).get(job.id) as Row | undefined;
      if (!row) {
        this.stmt(
          `INSERT INTO jobs (${JOB_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`,
        ).run(...jobValues(job));
        return { job: { ...job, version: 1 }, outcome: 'added' as const };
      }
      if (conflict === 'error') throw conflictError(job.id);
      const existing = decodeJob(row);
      if (conflict === 'keep') return { job: existing, outcome: 'kept' as const };
      if (unchangedByReplace(existing, job)) return { job: existing, outcome: 'unchanged' as const };
      const stored = replacementOf(existing, job);
      this.stmt(
        `UPDATE jobs SET name = ?, task_id = ?, trigger = ?, args = ?, max_instances = ?, misfire_grace_time = ?,
           coalesce = ?, jitter = ?, timeout = ?, retry = ?, paused = ?, next_run_time = ?, version = ?, updated_at = ?,
           created_at = ?, quarantine = ?
         WHERE id = ?`,
      ).run(
        ...jobValues(stored).slice(1, 13),
        stored.version,
        ms(stored.updatedAt),
        ms(stored.createdAt),
        stored.quarantine,
        job.id,
      );
      return { job: stored, outcome: 'replaced' as const };
    });
    if (result.outcome === 'added' || result.outcome === 'replaced')
      this.emit({ kind: result.outcome === 'added' ? 'job-added' : 'job-modified', jobId: job.id });
    return { job: copyJob(result.job), outcome: result.outcome };
  }

  async getJob(id: string): Promise<JobRecord | null> {
    const row = (await this.read(() => this.stmt(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ?`).get(id))) as
      Row | undefined;
    return row ? decodeJob(row) : null;
  }

  async getJobs(filter: JobFilter = {}): Promise<JobRecord[]> {
    const sort = checkJobPage(filter);
    const { where, params } = jobWhere(filter);
    if (filter.ids) {
      where.push('id IN (SELECT value FROM json_each(?))');
      params.push(JSON.stringify(filter.ids));
    }
    if (filter.afterId !== undefined) {
      where.push('id > ?');
      params.push(filter.afterId);
    }
    let sql = `SELECT ${JOB_COLUMNS} FROM jobs`;
    if (where.length) sql += ` WHERE ${where.join(' AND ')}`;
    sql += ` ORDER BY ${JOB_ORDER[sort]}`;
    if (filter.limit !== undefined || filter.offset !== undefined) {
      sql += ' LIMIT ? OFFSET ?';
      params.push(filter.limit ?? -1, filter.offset ?? 0);
    }
    const rows = (await this.read(() => this.stmt(sql).all(...params))) as Row[];
    return rows.map((row) => decodeJob(row));
  }

  /** Counts with `count(*)` (the `jobs_task` index for `taskId`). */
  async countJobs(filter: JobCountFilter = {}): Promise<number> {
    const { where, params } = jobWhere(filter);
    const sql = `SELECT count(*) AS n FROM jobs${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`;
    const row = (await this.read(() => this.stmt(sql).get(...params))) as { n: number };
    return row.n;
  }

  async updateJob(id: string, changes: JobChanges, expectedVersion?: number): Promise<JobRecord> {
    const job = await this.tx(() => {
      const row = this.stmt(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ?`).get(id) as Row | undefined;
      if (!row) throw notFound(id);
      if (expectedVersion !== undefined && row.version !== expectedVersion)
        throw versionConflict(id, row.version, expectedVersion);
      // Only the changed columns are written, so an undecodable column of the row is never overwritten.
      const sets: string[] = [];
      const values: unknown[] = [];
      for (const [key, value] of Object.entries(changes)) {
        if (value === undefined) continue;
        const column = CHANGE_COLUMNS[key as keyof JobChanges];
        if (!column) continue;
        sets.push(`${column} = ?`);
        values.push(encodeChange(key as keyof JobChanges, value));
      }
      // Pausing or resuming is the operator's decision: it ends a quarantine.
      if (changes.paused !== undefined) sets.push('quarantine = NULL');
      sets.push('version = version + 1', 'updated_at = ?');
      values.push(this.now());
      this.stmt(`UPDATE jobs SET ${sets.join(', ')} WHERE id = ?`).run(...values, id);
      return decodeJob(this.stmt(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ?`).get(id) as Row);
    });
    this.emit({ kind: 'job-modified', jobId: id });
    return job;
  }

  async removeJob(id: string, expectedVersion?: number): Promise<JobRecord | null> {
    const job = await this.tx(() => {
      const row = this.stmt(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ?`).get(id) as Row | undefined;
      if (!row) return null;
      if (expectedVersion !== undefined && row.version !== expectedVersion)
        throw versionConflict(id, Number(row.version), expectedVersion);
      this.stmt('DELETE FROM jobs WHERE id = ?').run(id);
      this.stmt(
        `UPDATE runs SET status = 'cancelled', finished_at = ? WHERE job_id = ? AND status = 'pending'`,
      ).run(this.now(), id);
      return decodeJob(row);
    });
    if (job) this.emit({ kind: 'job-removed', jobId: id });
    return job;
  }

  async removeAllJobs(): Promise<number> {
    const n = await this.tx(() => {
      this.stmt(
        `UPDATE runs SET status = 'cancelled', finished_at = ?
         WHERE status = 'pending' AND job_id IN (SELECT id FROM jobs)`,
      ).run(this.now());
      return this.stmt('DELETE FROM jobs').run().changes;
    });
    if (n > 0) this.emit({ kind: 'job-removed' });
    return n;
  }

  /**
   * The firing step, in one `BEGIN IMMEDIATE` transaction: one `SELECT` of the due jobs with their active
   * run counts, then per job one compare-and-set `UPDATE` (or `DELETE`) and one `INSERT OR IGNORE` per
   * planned run (unique on job id and scheduled fire time). Uses the caller's `now`.
   */
  async fireDueJobs(now: Date, limit: number, planner: FirePlanner): Promise<FireResult> {
    const t = now.getTime();
    const result = await this.tx(() => {
      const rows = this.stmt(
        `SELECT ${JOB_COLUMNS}, rowid AS row_id,
           (SELECT count(*) FROM runs r WHERE r.job_id = j.id AND r.status IN ${ACTIVE_SQL}) AS active
         FROM jobs j WHERE paused = 0 AND next_run_time <= ? ORDER BY next_run_time LIMIT ?`,
      ).all(t, limit + 1) as (Row & { row_id: number })[];
      // A next_run_time that is no time (text written by hand, which SQLite sorts after every number, or a
      // number past the year 9999: `<= ?` never reaches either) is claimed too, for the planner to
      // quarantine: such a job would otherwise never fire and never be reported. (An index seek past the
      // last time tickwork writes: nothing when none.)
      if (rows.length <= limit) {
        rows.push(
          ...(this.stmt(
            `SELECT ${JOB_COLUMNS}, rowid AS row_id, 0 AS active
             FROM jobs j WHERE paused = 0 AND next_run_time > ${MAX_INSTANT} LIMIT ?`,
          ).all(limit + 1 - rows.length) as (Row & { row_id: number })[]),
        );
      }
      const advance = this.stmt(
        'UPDATE jobs SET next_run_time = ?, version = version + 1, updated_at = ? WHERE id = ? AND version = ?',
      );
      // Under the write lock that read the row: no compare-and-set, whose version may be the bad column
      // (a version that is not an integer is replaced); by rowid, as the id may be the bad column (a BLOB).
      const quarantine = this.stmt(
        `UPDATE jobs SET paused = 1, next_run_time = NULL, quarantine = ?,
           version = CASE WHEN typeof(version) = 'integer' THEN version + 1 ELSE 1 END, updated_at = ?
         WHERE rowid = ?`,
      );
      const retire = this.stmt(
        `INSERT OR REPLACE INTO retired_jobs (${JOB_COLUMNS}) SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ?`,
      );
      const remove = this.stmt('DELETE FROM jobs WHERE id = ? AND version = ?');
      const insert = this.stmt(
        `INSERT OR IGNORE INTO runs (id, job_id, task_id, scheduled_fire_time, not_before, status, manual, attempt,
           finished_at, created_at, queued) VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?)`,
      );
      const fired: FiredJob[] = [];
      let created = false;
      const n = Math.min(limit, rows.length);
      for (let i = 0; i < n; i++) {
        const row = rows[i]!;
        const job = decodeJob(row);
        const plan = planner(job, { now, activeRuns: Number(row.active ?? 0) });
        let ok: boolean;
        if (plan.quarantine !== undefined) {
          ok = quarantine.run(plan.quarantine, t, row.row_id).changes === 1;
        } else if (plan.remove) {
          retire.run(job.id);
          ok = remove.run(job.id, job.version).changes === 1;
        } else {
          ok = advance.run(ms(plan.nextRunTime), t, job.id, job.version).changes === 1;
        }
        if (!ok) throw new Error(`compare-and-set of job ${job.id} failed under the write lock`);
        const runs: RunRecord[] = [];
        for (const p of plan.runs) {
          const id = uuidv7(t);
          const finished = p.status === 'pending' ? null : t;
          const sft = p.scheduledFireTime.getTime();
          const nb = p.notBefore.getTime();
          const queued = p.status === 'pending' && p.queued === true ? 1 : 0;
          if (insert.run(id, job.id, job.taskId, sft, nb, p.status, finished, t, queued).changes === 0)
            continue;
          if (p.status === 'pending') created = true;
          runs.push(newRunRecord(id, job, sft, nb, p.status, false, finished, t));
        }
        fired.push({ job, plan, runs });
      }
      return { fired, more: rows.length > limit, created };
    });
    // Finished runs (missed, skipped) count for retention; noted after the commit, as the step may run again.
    for (const f of result.fired)
      if (f.runs.some((r) => r.status !== 'pending')) this.dirtyJobs.add(f.job.id);
    if (result.created) this.emit({ kind: 'run-created' });
    return { now, fired: result.fired, more: result.more };
  }

  async createManualRun(jobId: string, now: Date): Promise<RunRecord> {
    const t = now.getTime();
    const run = await this.tx(() => {
      const row = this.stmt(
        `SELECT id, task_id, max_instances,
           (SELECT count(*) FROM runs r WHERE r.job_id = j.id AND r.status IN ${ACTIVE_SQL}) AS active
         FROM jobs j WHERE id = ?`,
      ).get(jobId) as { id: string; task_id: string; max_instances: number; active: number } | undefined;
      if (!row) throw notFound(jobId);
      const status: RunStatus = row.active >= row.max_instances ? 'skipped' : 'pending';
      const id = uuidv7(t);
      const finished = status === 'pending' ? null : t;
      this.stmt(
        `INSERT INTO runs (id, job_id, task_id, scheduled_fire_time, not_before, status, manual, attempt,
           finished_at, created_at) VALUES (?, ?, ?, ?, ?, ?, 1, 0, ?, ?)`,
      ).run(id, jobId, row.task_id, t, t, status, finished, t);
      return newRunRecord(id, { id: jobId, taskId: row.task_id }, t, t, status, true, finished, t);
    });
    if (run.status !== 'pending') this.dirtyJobs.add(jobId);
    this.emit({ kind: 'run-created', jobId });
    return run;
  }

  async acquireRuns(
    owner: string,
    now: Date,
    limit: number,
    leaseMs: number,
    taskIds?: string[],
  ): Promise<AcquiredRun[]> {
    if (limit <= 0 || (taskIds && taskIds.length === 0)) return [];
    const t = now.getTime();
    return this.tx(() => {
      const filter = taskIds ? 'AND task_id IN (SELECT value FROM json_each(?))' : '';
      const params: unknown[] = [owner, t, t + leaseMs, t];
      if (taskIds) params.push(this.taskJson(taskIds));
      params.push(limit);
      if (taskIds) params.push(this.taskJson(taskIds));
      params.push(limit, limit);
      // A queued run waits while a run of its job with an earlier fire time is pending or running.
      // A not_before that is no time (text written by hand, sorted after every number; a number past the
      // year 9999) counts as due:
      // the run is leased, and the scheduler cancels it (`RUN_UNREADABLE`) instead of it holding a
      // maxInstances slot for good.
      const rows = this.stmt(
        `UPDATE runs SET status = 'running', owner = ?, attempt = attempt + 1, started_at = ?, lease_expires_at = ?
         WHERE id IN (SELECT id FROM (
                        SELECT id FROM (SELECT id FROM runs q WHERE status = 'pending' AND not_before <= ? ${filter}
                                          AND (queued = 0 OR NOT EXISTS (SELECT 1 FROM runs e
                                            WHERE e.job_id = q.job_id AND e.status IN ${ACTIVE_SQL}
                                              AND e.scheduled_fire_time < q.scheduled_fire_time))
                                        ORDER BY not_before LIMIT ?)
                        UNION ALL
                        SELECT id FROM (SELECT id FROM runs WHERE status = 'pending' AND not_before > ${MAX_INSTANT} ${filter}
                                        LIMIT ?))
                      LIMIT ?)
         RETURNING *`,
      ).all(...params) as RunColumns[];
      if (rows.length === 0) return [];
      const runs = rows.map(decodeRun).sort((a, b) => a.notBefore.getTime() - b.notBefore.getTime());
      const jobs = this.jobsFor([...new Set(runs.map((r) => r.jobId))]);
      return runs.map((run) => ({ run, job: jobs.get(run.jobId) ?? null }));
    });
  }

  async heartbeatRuns(
    owner: string,
    runs: { id: string; attempt: number }[],
    now: Date,
    leaseMs: number,
  ): Promise<string[]> {
    if (runs.length === 0) return [];
    const lease = now.getTime() + leaseMs;
    return this.tx(() => {
      const renew = this.stmt(
        `UPDATE runs SET lease_expires_at = ? WHERE id = ? AND owner = ? AND attempt = ? AND status = 'running'`,
      );
      return runs.filter((r) => renew.run(lease, r.id, owner, r.attempt).changes === 1).map((r) => r.id);
    });
  }

  async finishRun(
    runId: string,
    owner: string,
    attempt: number,
    now: Date,
    outcome: RunOutcome,
  ): Promise<boolean> {
    // A final outcome is a group of one.
    if (!outcome.retryAt) return (await this.finishRuns(owner, [{ runId, attempt, outcome }], now))[0]!;
    const error = outcome.error ? JSON.stringify(outcome.error) : null;
    const row = (await this.write(() =>
      this.stmt(
        `UPDATE runs SET status = 'pending', not_before = ?, owner = NULL, lease_expires_at = NULL, error = ?
         WHERE id = ? AND owner = ? AND attempt = ? AND status = 'running' RETURNING job_id`,
      ).get(outcome.retryAt!.getTime(), error, runId, owner, attempt),
    )) as { job_id: string } | undefined;
    if (!row) return false;
    this.emit({ kind: 'run-created', jobId: row.job_id });
    return true;
  }

  /** {@link Store.finishRuns}: the whole group in one write transaction (one commit instead of many). */
  async finishRuns(
    owner: string,
    items: { runId: string; attempt: number; outcome: RunOutcome }[],
    now: Date,
  ): Promise<boolean[]> {
    const t = now.getTime();
    const jobIds = await this.tx(() =>
      items.map((i) => {
        if (i.outcome.retryAt) return null;
        const row = this.stmt(
          `UPDATE runs SET status = ?, finished_at = ?, lease_expires_at = NULL, error = ?, result = ?
           WHERE id = ? AND owner = ? AND attempt = ? AND status = 'running' RETURNING job_id`,
        ).get(
          i.outcome.status,
          t,
          i.outcome.error ? JSON.stringify(i.outcome.error) : null,
          resultToJson(i.outcome.result),
          i.runId,
          owner,
          i.attempt,
        ) as { job_id: string } | undefined;
        return row ? row.job_id : null;
      }),
    );
    let finished = 0;
    for (const jobId of jobIds) {
      if (jobId === null) continue;
      finished++;
      this.dirtyJobs.add(jobId);
      if (this.listeners.size > 0) this.emit({ kind: 'run-finished', jobId });
    }
    this.finishedSincePrune += finished;
    // The outcomes are committed: a retention pass that fails (a full disk) is tried again later, and must not
    // report them unrecorded (prune() keeps the jobs it did not prune).
    if (this.finishedSincePrune >= this.pruneEvery) await this.prune().catch(() => {});
    return jobIds.map((id) => id !== null);
  }

  async reapExpiredRuns(now: Date, limit: number, retry?: ReapRetry): Promise<RunRecord[]> {
    const t = now.getTime();
    const rows = await this.tx(() => {
      const expired = this.stmt(
        // A lease that is no time (text written by hand, sorted after every number; a number past the year
        // 9999; NULL) counts as
        // expired: when it ends cannot be known, and left alone the run would hold its job's maxInstances
        // slot for good (a holder still alive loses the run, as after any expiry: at least once).
        `SELECT * FROM runs WHERE status = 'running' AND lease_expires_at < ?
         UNION ALL SELECT * FROM runs WHERE status = 'running' AND (lease_expires_at > ${MAX_INSTANT} OR lease_expires_at IS NULL)
         LIMIT ?`,
      ).all(t, limit) as RunColumns[];
      if (expired.length === 0) return [];
      let jobs = new Map<string, JobRecord>();
      if (retry) {
        try {
          jobs = this.jobsFor([...new Set(expired.map((r) => r.job_id))]);
        } catch {
          // an undecodable job row: its runs are abandoned, not retried (the row is quarantined elsewhere)
        }
      }
      const out: RunColumns[] = [];
      for (const row of expired) {
        const at = retry ? retry(decodeRun(row), jobs.get(row.job_id) ?? null) : null;
        if (at === null) {
          out.push(
            this.stmt(
              `UPDATE runs SET status = 'abandoned', finished_at = ?, lease_expires_at = NULL WHERE id = ?
               RETURNING *`,
            ).get(t, row.id) as RunColumns,
          );
        } else {
          out.push(
            this.stmt(
              `UPDATE runs SET status = 'pending', not_before = ?, owner = NULL, lease_expires_at = NULL,
                 finished_at = NULL WHERE id = ? RETURNING *`,
            ).get(at.getTime(), row.id) as RunColumns,
          );
        }
      }
      return out;
    });
    let requeued = false;
    for (const row of rows) {
      if (row.status === 'pending') requeued = true;
      else this.dirtyJobs.add(row.job_id);
    }
    if (requeued) this.emit({ kind: 'run-created' });
    return rows.map(decodeRun);
  }

  async requeueRun(runId: string, attempt: number, notBefore: Date): Promise<boolean> {
    const info = await this.write(() =>
      this.stmt(
        `UPDATE runs SET status = 'pending', not_before = ?, owner = NULL, lease_expires_at = NULL, finished_at = NULL
         WHERE id = ? AND status = 'abandoned' AND attempt = ?`,
      ).run(notBefore.getTime(), runId, attempt),
    );
    return info.changes === 1;
  }

  async getRun(id: string): Promise<RunRecord | null> {
    const row = (await this.read(() => this.stmt('SELECT * FROM runs WHERE id = ?').get(id))) as
      RunColumns | undefined;
    return row ? decodeRun(row) : null;
  }

  async getRuns(filter: RunFilter = {}): Promise<RunRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.jobId !== undefined) {
      where.push('job_id = ?');
      params.push(filter.jobId);
    }
    if (filter.status !== undefined) {
      const statuses = [filter.status].flat();
      where.push(`status IN (${statuses.map(() => '?').join(', ')})`);
      params.push(...statuses);
    }
    if (filter.from !== undefined) {
      where.push('scheduled_fire_time >= ?');
      params.push(filter.from.getTime());
    }
    if (filter.to !== undefined) {
      where.push('scheduled_fire_time < ?');
      params.push(filter.to.getTime());
    }
    let sql = 'SELECT * FROM runs';
    if (where.length) sql += ` WHERE ${where.join(' AND ')}`;
    sql += ' ORDER BY scheduled_fire_time DESC, id DESC LIMIT ? OFFSET ?';
    params.push(filter.limit ?? 100, filter.offset ?? 0);
    const rows = (await this.read(() => this.stmt(sql).all(...params))) as RunColumns[];
    return rows.map(decodeRun);
  }

  /** `JSON.stringify(taskIds)`, kept while the caller passes the same array (the scheduler keeps one). */
  private taskJson(taskIds: string[]): string {
    if (this.lastTaskIds?.list !== taskIds || this.lastTaskIds.length !== taskIds.length)
      this.lastTaskIds = { list: taskIds, length: taskIds.length, json: JSON.stringify(taskIds) };
    return this.lastTaskIds.json;
  }

  async getNextWakeTime(taskIds?: string[]): Promise<Date | null> {
    const row = (await this.read(() =>
      this.stmt(
        `SELECT min(t) AS t FROM (
           SELECT min(next_run_time) AS t FROM jobs WHERE paused = 0
           UNION ALL SELECT min(not_before) FROM runs WHERE status = 'pending'
             AND (@tasks IS NULL OR task_id IN (SELECT value FROM json_each(@tasks)))
           UNION ALL SELECT min(lease_expires_at) FROM runs WHERE status = 'running')`,
      ).get({ tasks: taskIds ? this.taskJson(taskIds) : null }),
    )) as { t: unknown };
    if (row.t === null) return null;
    // A time that is no time (text written by hand, a number outside the years 0000 to 9999) is due now:
    // firing quarantines its job, leasing cancels its run, reaping takes its lease.
    return typeof row.t === 'number' && row.t >= MIN_INSTANT && row.t <= MAX_INSTANT
      ? new Date(row.t)
      : new Date(0);
  }

  subscribe(listener: (change: StoreChange) => void): () => void {
    this.listeners.add(listener);
    if (this.db && !this.pollTimer) this.startPolling();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stopPolling();
    };
  }

  /**
   * Upserts this node in the `nodes` table (`last_seen_at` by the scheduler's clock); prunes nodes unseen
   * for an hour. Observability only.
   */
  async registerNode(info: Omit<NodeInfo, 'lastSeenAt' | 'runningRuns'>): Promise<void> {
    const now = this.now();
    await this.tx(() => {
      this.stmt(
        `INSERT INTO nodes (id, host, pid, started_at, last_seen_at, clock_offset) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at, clock_offset = excluded.clock_offset`,
      ).run(info.id, info.host, info.pid, info.startedAt.getTime(), now, info.clockOffset);
      this.stmt('DELETE FROM nodes WHERE id <> ? AND last_seen_at < ?').run(info.id, now - 3_600_000);
    });
  }

  async unregisterNode(id: string): Promise<void> {
    await this.tx(() => this.stmt('DELETE FROM nodes WHERE id = ?').run(id));
  }

  /** The registered nodes, with their `running` runs counted from the runs table (by owner). */
  async getNodes(): Promise<NodeInfo[]> {
    const rows = (await this.read(() =>
      this.stmt(
        `SELECT n.*, (SELECT count(*) FROM runs r WHERE r.status = 'running' AND r.owner = n.id) AS running
         FROM nodes n ORDER BY n.id`,
      ).all(),
    )) as {
      id: string;
      host: string;
      pid: number;
      started_at: number;
      last_seen_at: number;
      clock_offset: number;
      running: number;
    }[];
    // Observability only: a row written by hand lists with stand-ins (the epoch for a time that is not one)
    // instead of failing the list.
    const d: Decoding = { bad: null };
    return rows.map((n) => ({
      id: textColumn(d, 'id', n.id),
      host: textColumn(d, 'host', n.host),
      pid: Number(n.pid),
      startedAt: timeColumn(d, 'started_at', n.started_at) ?? new Date(0),
      lastSeenAt: timeColumn(d, 'last_seen_at', n.last_seen_at) ?? new Date(0),
      clockOffset: typeof n.clock_offset === 'number' ? n.clock_offset : 0,
      runningRuns: Number(n.running),
    }));
  }

  /**
   * Applies retention: deletes the finished runs beyond the newest `maxRunsPerJob` of each job that finished
   * runs since the last call, finished runs older than `maxRunAge` (up to 10,000 per call), and the kept
   * copies of jobs that removed themselves (date triggers) once none of their runs is active. The store
   * calls it every `pruneEvery` finished runs; call it yourself to prune on a timer. Resolves to the number
   * of runs deleted.
   */
  async prune(): Promise<number> {
    const jobs = [...this.dirtyJobs];
    this.dirtyJobs.clear();
    this.finishedSincePrune = 0;
    const pass = this.tx(() => {
      let deleted = 0;
      const perJob = this.stmt(
        `DELETE FROM runs WHERE job_id = ? AND status IN ${FINAL_SQL} AND id NOT IN (
           SELECT id FROM runs WHERE job_id = ? AND status IN ${FINAL_SQL}
           ORDER BY scheduled_fire_time DESC, created_at DESC LIMIT ?)`,
      );
      for (const id of jobs) deleted += perJob.run(id, id, this.maxRunsPerJob).changes;
      if (this.maxRunAge !== null) {
        deleted += this.stmt(
          // Through runs_time, oldest first: a run finishes after its fire time (a run cancelled before it
          // is deleted once that time is old too), so only old runs are read, not the whole table each time.
          `DELETE FROM runs WHERE id IN (
             SELECT id FROM runs WHERE scheduled_fire_time < @cutoff AND finished_at < @cutoff
               AND status IN ${FINAL_SQL}
             ORDER BY scheduled_fire_time LIMIT 10000)`,
        ).run({ cutoff: this.now() - this.maxRunAge }).changes;
      }
      this.stmt(
        `DELETE FROM retired_jobs WHERE NOT EXISTS (
           SELECT 1 FROM runs r WHERE r.job_id = retired_jobs.id AND r.status IN ${ACTIVE_SQL})`,
      ).run();
      return deleted;
    });
    return pass.catch((err: unknown) => {
      // Not pruned: kept for the next pass.
      for (const id of jobs) this.dirtyJobs.add(id);
      throw err;
    });
  }

  // ------------------------------------------------------------------ internals

  private jobsFor(ids: string[]): Map<string, JobRecord> {
    const json = JSON.stringify(ids);
    const rows = this.stmt(
      `SELECT ${JOB_COLUMNS}, 0 AS retired FROM jobs WHERE id IN (SELECT value FROM json_each(?))
       UNION ALL
       SELECT ${JOB_COLUMNS}, 1 AS retired FROM retired_jobs WHERE id IN (SELECT value FROM json_each(?))
       ORDER BY retired DESC`,
    ).all(json, json) as Row[];
    // Retired copies first, so that a live job with the same id overwrites them.
    const out = new Map<string, JobRecord>();
    for (const row of rows) out.set(row.id, decodeJob(row));
    return out;
  }

  private get database(): Database.Database {
    if (!this.db) throw new TickworkError('STORE_ERROR', 'The SQLite store is not started');
    return this.db;
  }

  /** A prepared statement, cached by its text. */
  private stmt(sql: string): Database.Statement {
    let s = this.cache.get(sql);
    if (!s) {
      s = this.database.prepare(sql);
      this.cache.set(sql, s);
    }
    return s;
  }

  /**
   * Runs `fn` in a `BEGIN IMMEDIATE` transaction, mapping database errors to `STORE_ERROR`. `fn` may run more
   * than once (see {@link SqliteStore.writing}): it must keep what it changes outside the database to its
   * result, applied by the caller after the commit.
   */
  private tx<T>(fn: () => T): Promise<T> {
    return this.writing(() => {
      const db = this.database;
      try {
        return db.transaction(fn).immediate();
      } catch (err) {
        // better-sqlite3 rolls back a transaction whose callback or COMMIT failed. Never wait with one open
        // (the calls that run meanwhile would run in it): if it is still open, fail without retrying.
        if (db.open && db.inTransaction) {
          try {
            db.exec('ROLLBACK');
          } catch (rollbackError) {
            throw storeError(rollbackError, this.path);
          }
        }
        throw err;
      }
    });
  }

  /** A single write statement (atomic on its own). */
  private write<T>(fn: () => T): Promise<T> {
    return this.writing(fn);
  }

  /**
   * Runs the write `fn` (a whole transaction or one statement, which leaves nothing behind when it fails) at
   * once when no write of this store is waiting for the lock. When `fn` finds the lock taken (`SQLITE_BUSY`),
   * or another write waits already, it queues behind the waiting writes and is tried again by
   * {@link SqliteStore.retry}: one write of the store waits at a time, so the event loop is blocked by one busy
   * slice at a time, and writes keep their call order.
   */
  private async writing<T>(write: () => T): Promise<T> {
    const fn = (): T => this.roomAware(write);
    const started = performance.now();
    let busy: { error: unknown } | undefined;
    if (this.writeTail === null) {
      try {
        return fn();
      } catch (err) {
        if (!isBusy(err)) throw storeError(err, this.path);
        busy = { error: err };
      }
    }
    const previous = this.writeTail;
    let done!: () => void;
    const turn = new Promise<void>((resolve) => (done = resolve));
    this.writeTail = turn;
    try {
      if (previous) await previous;
      return await this.retry(fn, started, busy);
    } finally {
      done();
      if (this.writeTail === turn) this.writeTail = null;
    }
  }

  /**
   * Runs the write `fn`, minding a full disk. The WAL grows until its automatic checkpoint (1000 pages) and
   * never shrinks by itself, so on a full disk the room freed for the database went to the WAL, which filled
   * the disk again before it reached that checkpoint. When `fn` fails with `SQLITE_FULL`, the WAL is
   * checkpointed and truncated (its frames copied into the database file, which needs room only for pages it
   * does not have yet) and `fn` is tried once more if that completed; after such a failure, the first write
   * that succeeds truncates the WAL too, giving its room back at once, and the connection checkpoints its WAL
   * every {@link FULL_DISK_CHECKPOINT} pages from then on.
   */
  private roomAware<T>(fn: () => T): T {
    let result: T;
    try {
      result = fn();
    } catch (err) {
      if (!isFull(err)) throw err;
      this.full = true;
      // From now on the WAL is checkpointed every FULL_DISK_CHECKPOINT pages instead of 1000: a disk that
      // filled up once has little room, and the WAL must not take it from the database.
      if (this.db && !this.smallWal) {
        try {
          this.db.pragma(`wal_autocheckpoint = ${FULL_DISK_CHECKPOINT}`);
          this.smallWal = true;
        } catch {
          // tried again at the next full disk
        }
      }
      if (!this.truncateWal()) throw err;
      result = fn();
    }
    if (this.full) this.truncateWal();
    return result;
  }

  /**
   * `PRAGMA wal_checkpoint(TRUNCATE)` outside a transaction; whether it completed (it fails on a full disk
   * when the database file must grow, and is busy while another connection reads an older snapshot).
   */
  private truncateWal(): boolean {
    const db = this.db;
    if (!db || db.inTransaction) return false;
    try {
      const [r] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number }[];
      // log -1: not in WAL mode, nothing to give back.
      if (!r || r.busy !== 0 || r.log === -1) return false;
    } catch {
      return false;
    }
    this.full = false;
    return true;
  }

  /**
   * A read: WAL readers are not blocked by the writer, but a read can still meet `SQLITE_BUSY` (another
   * connection recovering the WAL, or a file outside WAL mode); it then waits like a write, without queueing.
   */
  private read<T>(fn: () => T): Promise<T> {
    return this.retry(fn, performance.now());
  }

  /**
   * Calls `fn` (at once unless `busy` holds the error of an attempt already made) until it does not fail with
   * `SQLITE_BUSY`, waiting on a timer between attempts (from {@link FIRST_PAUSE} ms, doubling up to
   * {@link MAX_PAUSE} ms, with ±25% jitter so that processes waiting for one lock spread out). Fails with
   * `STORE_ERROR` (the last `SQLITE_BUSY` as cause) once `busyTimeout` has passed since `started`.
   */
  private async retry<T>(fn: () => T, started: number, busy?: { error: unknown }): Promise<T> {
    let pause = FIRST_PAUSE;
    for (;;) {
      if (busy) {
        const left = started + this.busyTimeout - performance.now();
        if (left <= 0) throw storeError(busy.error, this.path);
        await sleep(Math.min(left, pause * (0.75 + Math.random() / 2)));
        pause = Math.min(pause * 2, MAX_PAUSE);
      }
      try {
        return fn();
      } catch (err) {
        if (!isBusy(err)) throw storeError(err, this.path);
        busy = { error: err };
      }
    }
  }

  private wrap<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw storeError(err, this.path);
    }
  }

  private emit(change: StoreChange): void {
    emitChange(this.listeners, change);
    // Our own commit bumps no data_version for this connection; nothing to resync.
  }

  private startPolling(): void {
    if (this.pollInterval === 0 || this.pollTimer) return;
    this.pollTimer = setInterval(() => {
      if (!this.db) return;
      let v: number;
      try {
        v = this.db.pragma('data_version', { simple: true }) as number;
      } catch {
        return;
      }
      if (v !== this.dataVersion) {
        this.dataVersion = v;
        this.emit({ kind: 'job-modified' });
      }
    }, this.pollInterval);
    this.pollTimer.unref();
  }

  private stopPolling(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
  }
}

/** A database error as `STORE_ERROR` (the error as `cause`); a `TickworkError` as it is. */
function storeError(err: unknown, path: string): TickworkError {
  if (err instanceof TickworkError) return err;
  return new TickworkError(
    'STORE_ERROR',
    `SQLite store failed: ${(err as Error).message}${fullDiskHint(err, path)}`,
    {},
    { cause: err },
  );
}

/** Free bytes below which a failed write or open is put down to a full disk. */
const FULL_DISK_BYTES = 1024 * 1024;

/**
 * For an I/O error (`SQLITE_IOERR_*`: opening a database whose shared-memory file cannot grow says only
 * "disk I/O error") or `SQLITE_FULL`, when the file system holding the database has less than 1 MiB free:
 * what to do about it. Otherwise ''.
 */
function fullDiskHint(err: unknown, path: string): string {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || !(code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR'))) return '';
  if (path === ':memory:' || /^file:/i.test(path)) return '';
  let free: number;
  try {
    const fs = statfsSync(dirname(resolve(path)));
    free = fs.bavail * fs.bsize;
  } catch {
    return '';
  }
  if (free >= FULL_DISK_BYTES) return '';
  return ` (${code}): the file system holding ${resolve(path)} is full (${free} bytes free); free some space`;
}

/** Whether `err` is SQLite's "database or disk is full" (`SQLITE_FULL`). */
function isFull(err: unknown): boolean {
  if (err instanceof TickworkError || !(err instanceof Error)) return false;
  return (err as { code?: unknown }).code === 'SQLITE_FULL';
}

/**
 * Whether `err` is SQLite's "database is locked": `SQLITE_BUSY` or one of its extended codes
 * (`SQLITE_BUSY_RECOVERY`, `SQLITE_BUSY_SNAPSHOT`, `SQLITE_BUSY_TIMEOUT`). Not `SQLITE_LOCKED`, a conflict
 * within this connection that waiting does not end.
 */
function isBusy(err: unknown): boolean {
  if (err instanceof TickworkError || !(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_'))) return true;
  return /database is locked/i.test(err.message);
}

/**
 * `ORDER BY` of each `JobFilter.sort`: binary collation (code point order), ids unique so every order is total.
 * `NULLS LAST` puts jobs without a next run time (paused) after the others. The indexes `jobs_next_run` and
 * `jobs_name` (migration 3) give these orders without a sort; the primary key gives `id`.
 */
const JOB_ORDER: Record<JobSort, string> = {
  id: 'id',
  nextRunTime: 'next_run_time NULLS LAST, id',
  name: 'name, id',
};

/**
 * The `taskId` and `paused` conditions of a job filter. `paused` is written as a literal, not a parameter, so
 * that SQLite can use the partial index `jobs_due` (`WHERE paused = 0`) for `paused = 0`. Paused is anything but
 * 0, as a row reads (`decodeJob` reads a value written by hand, `'yes'` or `2`, as paused) and as the firing
 * step sees it (it claims `paused = 0` only): such a row is listed and counted with the paused jobs, not left out
 * of both lists.
 */
function jobWhere(filter: JobCountFilter): { where: string[]; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.taskId !== undefined) {
    where.push('task_id = ?');
    params.push(filter.taskId);
  }
  if (filter.paused !== undefined) where.push(filter.paused ? 'paused <> 0' : 'paused = 0');
  return { where, params };
}

function encodeChange(key: keyof JobChanges, value: unknown): unknown {
  switch (key) {
    case 'trigger':
    case 'args':
      return JSON.stringify(value);
    case 'retry':
      return value === null ? null : JSON.stringify(value);
    case 'coalesce':
    case 'paused':
      return value ? 1 : 0;
    case 'nextRunTime':
      return value === null ? null : (value as Date).getTime();
    default:
      return value;
  }
}

const ms = (d: Date | null): number | null => (d === null ? null : d.getTime());

/** The 16 column values of a job in {@link JOB_COLUMNS} order, without `version`. */
function jobValues(job: JobRecord): unknown[] {
  return [
    job.id,
    job.name,
    job.taskId,
    JSON.stringify(job.trigger),
    JSON.stringify(job.args),
    job.maxInstances,
    job.misfireGraceTime,
    job.coalesce ? 1 : 0,
    job.jitter,
    job.timeout,
    job.retry ? JSON.stringify(job.retry) : null,
    job.paused ? 1 : 0,
    ms(job.nextRunTime),
    ms(job.createdAt),
    ms(job.updatedAt),
    job.quarantine,
  ];
}

/**
 * The job store contract. The scheduler talks to stores only through this interface, and this TSDoc is the
 * protocol every store implements; `test/contract/` checks each store against it on the real server.
 *
 * Two things are kept apart:
 * - **firing**: turning a due fire time of a job into exactly one run record. {@link Store.fireDueJobs}
 *   does it in one atomic step per batch, so no fire time is lost or doubled, whatever the number of
 *   processes sharing the store.
 * - **running**: executing a run. {@link Store.acquireRuns} leases pending runs to one process; the lease is
 *   renewed by {@link Store.heartbeatRuns}; {@link Store.finishRun} is fenced by (run id, owner, attempt), so
 *   a process that lost its lease cannot complete the run. Running is at-least-once under leases.
 *
 * Time: every method that depends on "now" takes it as `now` from the scheduler's clock. A store that has an
 * authoritative clock of its own (a database server shared by several machines) uses that instead and
 * says so in its documentation; the planner callback always receives the `now` the store used.
 *
 * @module
 */
import type { JobRecord, RunError, RunRecord, RunStatus } from '../core/structures.js';

/** Decides, inside {@link Store.reapExpiredRuns}, when an expired run is tried again (`null`: abandoned). */
export type ReapRetry = (run: RunRecord, job: JobRecord | null) => Date | null;

/** What to do when {@link Store.addJob} finds a job with the same id. */
export type ConflictPolicy = 'error' | 'replace' | 'keep';

/** Result of {@link Store.addJob}. */
export interface AddJobResult {
  /** The job as stored afterwards. */
  job: JobRecord;
  /**
   * `added`: new; `replaced`: an existing job was overwritten; `kept`: the existing job was left as it was
   * (`keep`); `unchanged`: `replace` found the same job (same definition) and wrote nothing.
   */
  outcome: 'added' | 'replaced' | 'kept' | 'unchanged';
}

/** Order of {@link Store.getJobs}; see {@link JobFilter.sort}. */
export type JobSort = 'id' | 'nextRunTime' | 'name';

/** Filter for {@link Store.getJobs}. All given conditions must hold. */
export interface JobFilter {
  ids?: string[];
  taskId?: string;
  paused?: boolean;
  /**
   * Order of the result, every order total (ids are unique), so that pages by `offset` neither skip nor repeat
   * a job while the jobs do not change:
   * - `id`: by id;
   * - `nextRunTime`: earliest first, jobs without one (paused) last, ties by id;
   * - `name`: by name, ties by id.
   *
   * Ids and names compare by code point (binary), never by a locale's collation.
   * @defaultValue 'id'
   */
  sort?: JobSort;
  /** Skip this many jobs after filtering and sorting (offset paging, with `limit`). @defaultValue 0 */
  offset?: number;
  /** Page size; unlimited when absent. */
  limit?: number;
  /**
   * Return jobs whose id sorts after this one (keyset paging). Meant for `sort: 'id'`; with another sort it is
   * still a filter on the id.
   */
  afterId?: string;
}

/** Filter for {@link Store.countJobs}. All given conditions must hold. */
export interface JobCountFilter {
  taskId?: string;
  paused?: boolean;
}

/** Changes for {@link Store.updateJob}; absent fields are left alone. */
export type JobChanges = Partial<
  Pick<
    JobRecord,
    | 'name'
    | 'taskId'
    | 'trigger'
    | 'args'
    | 'maxInstances'
    | 'misfireGraceTime'
    | 'coalesce'
    | 'jitter'
    | 'timeout'
    | 'retry'
    | 'paused'
    | 'nextRunTime'
  >
>;

/** One run the planner wants created. */
export interface PlannedRun {
  scheduledFireTime: Date;
  /** `pending` to run it; `missed` or `skipped` to record that it did not run. */
  status: 'pending' | 'missed' | 'skipped';
  /** Earliest start (fire time plus jitter); ignored for `missed` and `skipped`. */
  notBefore: Date;
  /**
   * `pending` only: a fire time of a backlog (`coalesce: false`) that found no free `maxInstances` slot while
   * an earlier fire time of the same plan took one. The store keeps it `pending` (never stores it as
   * `skipped`), and {@link Store.acquireRuns} leases it only once every run of its job with an earlier
   * scheduled fire time has finished (is neither `pending` nor `running`), so such runs go one after another,
   * as APScheduler 3 runs a backlog in one instance.
   */
  queued?: boolean;
}

/** The planner's decision for one claimed job. */
export interface FirePlan {
  /** Runs to insert, in fire-time order. */
  runs: PlannedRun[];
  /** The job's new `nextRunTime`. */
  nextRunTime: Date | null;
  /** Remove the job (its trigger has no more fire times). Its run records stay. */
  remove: boolean;
  /** Pause the job instead (it cannot be planned, e.g. its trigger cannot be decoded); the reason is logged. */
  quarantine?: string;
}

/** Facts the store gives the planner about a claimed job. */
export interface FireContext {
  /** The time the store uses for this batch. */
  now: Date;
  /**
   * Fire times up to this time are planned now (the caller fires ahead, see {@link Store.firesAhead}); absent
   * or equal to `now` otherwise. A fire time after `now` is planned as on time (`pending`, not late).
   */
  horizon?: Date;
  /** Runs of the job that are `pending` or `running` now (for `maxInstances`). */
  activeRuns: number;
}

/**
 * Plans the firing of one claimed job. Synchronous and pure apart from the arguments: the store calls it
 * inside its atomic step. It must not throw (a job it cannot plan gets `quarantine`) and must not modify
 * `job`, which a store may share with its own state.
 */
export type FirePlanner = (job: JobRecord, context: FireContext) => FirePlan;

/** One job fired by {@link Store.fireDueJobs}. */
export interface FiredJob {
  /** The job as it was when claimed (read-only: a store may share it with its own state). */
  job: JobRecord;
  /** The plan that was applied. */
  plan: FirePlan;
  /** The run records created (a planned run whose (job, fire time) existed already is left out). */
  runs: RunRecord[];
}

/** Result of {@link Store.fireDueJobs}. */
export interface FireResult {
  /** The time the store used. */
  now: Date;
  fired: FiredJob[];
  /** Whether more due jobs remain (the batch limit was reached). */
  more: boolean;
  /**
   * Set when part of the call failed and the rest was committed (a store that divides a claim among
   * transactions: PostgreSQL's `fireConcurrency`): `fired` is what was committed, `more` is true, and this
   * is the failure. A call all of whose parts failed rejects instead. The scheduler starts the committed
   * runs and then backs off as from any store failure.
   */
  error?: unknown;
}

/** A leased run with its job, from {@link Store.acquireRuns}. */
export interface AcquiredRun {
  run: RunRecord;
  /**
   * The job (read-only), or `null` when it was removed after the run was created. A job that the firing step
   * removed because its trigger has no more fire times (a date trigger) is still returned, as it was when
   * fired, for the runs that step created: they need its `args`, `timeout` and `retry`.
   */
  job: JobRecord | null;
}

/** How a run ended, for {@link Store.finishRun}. */
export interface RunOutcome {
  /**
   * `skipped`: a run fired ahead of its fire time that found its job's `maxInstances` runs going when that
   * time came (the scheduler's `fireAhead`).
   */
  status: Extract<
    RunStatus,
    'succeeded' | 'failed' | 'timed-out' | 'missed' | 'skipped' | 'cancelled' | 'abandoned'
  >;
  error?: RunError | null;
  /** JSON-serialisable return value (kept by persistent stores only when it serialises). */
  result?: unknown;
  /** Set to try again: the run goes back to `pending` with this `notBefore`, keeping its attempt count. */
  retryAt?: Date | null;
}

/**
 * Filter for {@link Store.getRuns}. All given conditions must hold. Newest first: by scheduled fire time,
 * descending, and runs sharing a fire time by id, descending, by code point (run ids are UUIDs of version 7,
 * so the newest created comes first). The order is total and follows from the runs alone, so a caller paging
 * by fire time can tell where a run it saw stood, even once retention has deleted it.
 */
export interface RunFilter {
  jobId?: string;
  status?: RunStatus | RunStatus[];
  /** Scheduled fire time >= this. */
  from?: Date;
  /** Scheduled fire time < this. */
  to?: Date;
  /** Page size. @defaultValue 100 */
  limit?: number;
  /** Skip this many. @defaultValue 0 */
  offset?: number;
}

/** A change another process (or this one) made, announced to wake the scheduler early. */
export interface StoreChange {
  kind: 'job-added' | 'job-modified' | 'job-removed' | 'run-created' | 'run-finished';
  jobId?: string;
}

/**
 * One scheduler process as seen through the store, for {@link Store.registerNode} and {@link Store.getNodes}.
 * Observability only: no decision of any store or scheduler depends on it.
 */
export interface NodeInfo {
  /** The scheduler's `nodeId` (the lease owner of its runs). */
  id: string;
  /** Host name of the machine. */
  host: string;
  /** Process id on that host. */
  pid: number;
  /** When the scheduler started, in the store's time frame. */
  startedAt: Date;
  /** When the node last reported itself (set by the store, in its own time frame). */
  lastSeenAt: Date;
  /**
   * The store's clock minus this node's clock, in milliseconds, as last measured (0 for stores that use
   * the node's clock).
   */
  clockOffset: number;
  /** Runs leased to this node and `running` now (from the runs themselves where the store can count them). */
  runningRuns: number;
}

/** A measurement of {@link Store.measureClockOffset}. */
export interface ClockSample {
  /** The store's clock minus the node's clock, in milliseconds (positive: the node is slow). */
  offset: number;
  /** Round trip of the best sample, in milliseconds: the offset is exact within half of it. */
  roundTrip: number;
}

/** What the scheduler hands a store when it starts. */
export interface StoreStartContext {
  /** Id of this process (lease owner). */
  nodeId: string;
  /** Current time from the scheduler's clock, in epoch ms. */
  now(): number;
  /**
   * Reports a condition the operator should know of but that does not stop the store (the scheduler logs
   * it as a warning): a Redis server that keeps nothing on disk, for one.
   */
  warn?(message: string): void;
}

/**
 * A job store. Every method may reject with a `TickworkError` `STORE_ERROR` when the backend fails; the
 * scheduler then backs off and retries. None of them may lose or corrupt stored jobs on failure.
 *
 * Undecodable rows: a persistent store never throws for a whole listing or firing batch because one stored
 * job's JSON (trigger, args, retry) cannot be parsed, and never deletes or rewrites such a row when reading
 * it. It returns the job with the placeholder trigger
 * `{ type: '__invalid__', version: 0, raw, field, error }` (see `invalidTrigger` in `stores/common.ts`), which
 * `triggerFromJSON` rejects, so the planner quarantines the job (`plan.quarantine`: the store pauses it). An
 * `updateJob` writes only the changed columns, so repairing the trigger brings the job back.
 */
export interface Store {
  /** Short backend name for logs: `memory`, `sqlite`, `postgres`, `redis`. */
  readonly kind: string;
  /**
   * Whether jobs outlive the process. Persistent stores hold only JSON: jobs must refer to tasks by id and
   * their `args` must be JSON.
   */
  readonly persistent: boolean;
  /**
   * How many jobs the scheduler should fire per {@link Store.fireDueJobs} call when not told otherwise:
   * large for a database (fewer transactions), small for memory (the first runs of a burst start sooner).
   */
  readonly fireBatchSize?: number;
  /** Longest the scheduler should sleep between checks with this store, in milliseconds. */
  readonly maxWakeInterval: number;
  /**
   * Whether {@link Store.fireDueJobs} honours its `horizon` argument: it claims the jobs due by `horizon` (a
   * few milliseconds after `now`) and passes it to the planner, so the scheduler can fire a job just before its
   * fire time and start the run at that time (the memory store). The scheduler fires ahead only with a store
   * that is not `persistent`. Other stores leave it unset and ignore `horizon`.
   */
  readonly firesAhead?: boolean;

  /** Connects, applies migrations. Called once by `Scheduler.start()`. */
  start(context: StoreStartContext): Promise<void>;
  /** Releases what the store opened (never a caller-owned connection pool). */
  stop(): Promise<void>;

  /**
   * Adds a job. The record's `version` is set to 1 (`added`, `replaced`) by the store.
   *
   * On an id that exists: `error` rejects with `JOB_CONFLICT`; `keep` leaves the stored job untouched;
   * `replace` overwrites its definition (name, task, trigger, args, policy), except that a paused job stays
   * paused (an operator's pause survives the re-adding of the jobs at boot; `resumeJob` resumes it), and a job
   * that is not paused keeps its `nextRunTime` while the stored trigger is unchanged (deep-equal JSON), so
   * re-adding the same job at every boot does not erase fire times that are owed. A record with `paused: true`
   * pauses the job. When the definition is the same, `replace` writes nothing, keeps the version and announces
   * no change: the outcome is `unchanged`.
   */
  addJob(job: JobRecord, conflict: ConflictPolicy): Promise<AddJobResult>;
  /** The job, or `null`. */
  getJob(id: string): Promise<JobRecord | null>;
  /**
   * Jobs matching `filter`, in the order of `filter.sort` (by id when absent), skipping `filter.offset` of them
   * and returning at most `filter.limit`. The store sorts and pages (SQL `ORDER BY … LIMIT … OFFSET …`): only
   * the jobs of the page are read out and decoded, whatever the number of jobs.
   */
  getJobs(filter?: JobFilter): Promise<JobRecord[]>;
  /**
   * Optional: how many jobs match `filter` (all jobs when absent), counted in the store (SQL `count(*)`)
   * without reading them. Equal to `(await getJobs(filter)).length` at the same moment. A caller falls back to
   * that for a store without this method.
   */
  countJobs?(filter?: JobCountFilter): Promise<number>;
  /**
   * Applies `changes` and increments `version`. With `expectedVersion`, rejects with `JOB_VERSION_CONFLICT`
   * when the stored version differs. Rejects with `JOB_NOT_FOUND` for an unknown id.
   */
  updateJob(id: string, changes: JobChanges, expectedVersion?: number): Promise<JobRecord>;
  /**
   * Removes a job; its pending runs become `cancelled`; its history stays. Resolves to the removed job or
   * `null`. With `expectedVersion`, rejects with `JOB_VERSION_CONFLICT` (and removes nothing) when the stored
   * version differs: a removal decided from what the caller read (a trigger with no fire time left) does not
   * remove a job another process changed meanwhile.
   */
  removeJob(id: string, expectedVersion?: number): Promise<JobRecord | null>;
  /** Removes every job; resolves to how many. */
  removeAllJobs(): Promise<number>;

  /**
   * The atomic firing step. In one transaction (or an equivalent atomic unit):
   * 1. claim up to `limit` jobs with `paused = false` and `nextRunTime <= now`, earliest first, skipping jobs
   *    another process has claimed at this moment (they are not lost: that process fires them);
   * 2. for each, call `planner(job, { now, activeRuns })`;
   * 3. insert the planned runs, unique on (job id, scheduled fire time) for scheduled runs: an existing one
   *    is left as it is and not returned; a store that counts the active runs again here may store a
   *    `pending` run that no longer fits `maxInstances` as `skipped`, never a {@link PlannedRun.queued} one;
   * 4. set the job's `nextRunTime` (or remove or pause it per the plan) only if its `nextRunTime` and
   *    `version` are still those that were read (compare-and-set), incrementing `version`.
   * Either all of a job's runs and its advance are stored, or none. A store may divide one call's claim
   * among several such steps side by side (PostgreSQL's `fireConcurrency`); when some of them fail, it
   * returns what the others stored with `more: true` and the failure as {@link FireResult.error}.
   *
   * A store with {@link Store.firesAhead} claims in step 1 the jobs due at or before `horizon` (when given;
   * never earlier than `now`) instead of `now`, and passes `{ now, horizon, activeRuns }` to the planner. The
   * runs it creates are still due at their `notBefore` only.
   */
  fireDueJobs(now: Date, limit: number, planner: FirePlanner, horizon?: Date): Promise<FireResult>;

  /**
   * Creates a manual run (run now) for `jobId` at `now`, atomically with a `maxInstances` check: when
   * `activeRuns >= maxInstances`, a `skipped` run is recorded instead. Rejects with `JOB_NOT_FOUND`.
   */
  createManualRun(jobId: string, now: Date): Promise<RunRecord>;

  /**
   * Leases up to `limit` runs to `owner`: `pending` runs with `notBefore <= now` whose task is in `taskIds`
   * (all tasks when absent), oldest `notBefore` first. Each becomes `running` with `owner`, `attempt + 1`,
   * `startedAt = now` (the start of this attempt) and
   * `leaseExpiresAt = now + leaseMs`. A run is leased to one process at a time. A
   * {@link PlannedRun.queued | queued} run is passed over while a run of its job with an earlier scheduled
   * fire time is `pending` or `running`.
   */
  acquireRuns(
    owner: string,
    now: Date,
    limit: number,
    leaseMs: number,
    taskIds?: string[],
  ): Promise<AcquiredRun[]>;

  /**
   * Renews the leases of `runs` held by `owner` (same run id, owner and attempt, still `running`) to
   * `now + leaseMs`. Resolves to the ids still held; a run missing from the answer is lost: its task's
   * signal must be aborted.
   */
  heartbeatRuns(
    owner: string,
    runs: { id: string; attempt: number }[],
    now: Date,
    leaseMs: number,
  ): Promise<string[]>;

  /**
   * Records how a run ended, only if it is still `running` under (`owner`, `attempt`): resolves `false`
   * (changing nothing) when the lease was lost. With `outcome.retryAt`, the run returns to `pending`.
   */
  finishRun(runId: string, owner: string, attempt: number, now: Date, outcome: RunOutcome): Promise<boolean>;

  /**
   * Optional: {@link Store.finishRun} for many runs of one `owner` in one step (one statement on a SQL store),
   * for final outcomes only (no `retryAt`). Resolves to one boolean per item, in order: `true` when the run was
   * still `running` under (`owner`, `attempt`) and is now finished, `false` (changing nothing for that item)
   * otherwise. The scheduler groups the outcomes of runs that end while a previous group is being recorded,
   * so a store that has this records thousands of outcomes per second instead of one per round trip.
   */
  finishRuns?(
    owner: string,
    items: { runId: string; attempt: number; outcome: RunOutcome }[],
    now: Date,
  ): Promise<boolean[]>;

  /**
   * Reaps up to `limit` `running` runs whose lease ended before `now` (the process died or stalled), in one
   * atomic step, and resolves to them as stored afterwards.
   *
   * Without `retry` each becomes `abandoned`. With `retry`, the store asks it for each run, giving the run as
   * it was (`running`, with its attempt) and its job (the stored job; a job its trigger ended is still found;
   * `null` when the job was removed): a `Date` puts the run back to `pending` with that `notBefore` in the same
   * step (attempt kept, so the next lease makes it `attempt + 1`; owner and lease cleared), `null` makes it
   * `abandoned`. So a crash or a store failure can never leave a run abandoned that its policy would retry,
   * and a retried run never stops counting against its job's `maxInstances` in between. `retry` must not throw.
   */
  reapExpiredRuns(now: Date, limit: number, retry?: ReapRetry): Promise<RunRecord[]>;

  /**
   * Gives an `abandoned` run another attempt (its job's retry policy allows one): when the run is still
   * `abandoned` with this `attempt`, it goes back to `pending` with `notBefore`, keeping its attempt count
   * (the next lease makes it `attempt + 1`). Resolves `false`, changing nothing, otherwise.
   */
  requeueRun(runId: string, attempt: number, notBefore: Date): Promise<boolean>;

  /** One run, or `null`. */
  getRun(id: string): Promise<RunRecord | null>;
  /** Runs matching `filter`, newest scheduled fire time first, ties by id, descending (see {@link RunFilter}). */
  getRuns(filter?: RunFilter): Promise<RunRecord[]>;

  /**
   * The earliest instant at which something may become due: the smallest `nextRunTime` of an unpaused job,
   * `notBefore` of a pending run, or `leaseExpiresAt` of a running run. `null` when nothing is scheduled.
   * `taskIds`: count only the pending runs of these tasks (those the caller can start, as it passes them to
   * {@link Store.acquireRuns}): a run waiting for a process that defines its task must not keep waking, nor
   * delay, a process that cannot start it. Absent: every pending run.
   */
  getNextWakeTime(taskIds?: string[]): Promise<Date | null>;
  /**
   * Optional, for a store that is not {@link persistent}: the task ids its jobs (removed jobs with active runs
   * included) and its active runs refer to, read at once (synchronously). The scheduler drops the tasks it
   * made for jobs' own functions (an anonymous function, or another function of a name taken) once nothing
   * refers to them, which needs this; without it they are kept for the process's life.
   */
  taskIdsInUse?(): Set<string>;

  /**
   * Subscribes to changes made through any process sharing the store (a hint to wake early; correctness
   * never depends on it). Returns an unsubscribe function.
   */
  subscribe(listener: (change: StoreChange) => void): () => void;

  /**
   * Optional, for stores whose clock is not the node's (a database server): measures the store's clock
   * against `localNow` (the scheduler's clock, epoch ms) from the midpoint of a round trip, keeping the
   * sample with the shortest round trip. The scheduler arms its wake-up timers in the store's time frame
   * with it; correctness never depends on it (the store still decides what is due with its own clock).
   */
  measureClockOffset?(localNow: () => number): Promise<ClockSample>;

  /**
   * Optional: records (upserts) this node, its `lastSeenAt` set to the store's time. Called at start and
   * then periodically by the scheduler's loop. Observability only.
   */
  registerNode?(info: Omit<NodeInfo, 'lastSeenAt' | 'runningRuns'>): Promise<void>;

  /** Optional: forgets a node (clean shutdown). */
  unregisterNode?(id: string): Promise<void>;

  /** Optional: the nodes registered with {@link Store.registerNode}, by id, with their running runs. */
  getNodes?(): Promise<NodeInfo[]>;
}

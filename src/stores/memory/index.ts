/**
 * The default store: everything in this process's memory, gone when it exits.
 * @module
 */
import { TickworkError } from '../../core/errors.js';
import type { JobRecord, RunError, RunRecord, RunStatus } from '../../core/structures.js';
import { duration, integer, optionsObject, rejectUnknownKeys } from '../../core/validate.js';
import type {
  AcquiredRun,
  AddJobResult,
  ConflictPolicy,
  FireResult,
  FiredJob,
  FirePlanner,
  JobChanges,
  JobCountFilter,
  JobFilter,
  RunFilter,
  ReapRetry,
  RunOutcome,
  Store,
  StoreChange,
  StoreStartContext,
} from '../store.js';
import {
  emitChange,
  checkJobPage,
  cloneJob,
  compareCodePoints,
  uuidv7,
  freezeTrigger,
  jobComparator,
  replacementOf,
  unchangedByReplace,
  versionConflict,
} from '../common.js';
import { MinHeap, Smallest } from './heap.js';

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * How many finished runs to keep per job (oldest dropped first). They are dropped in chunks: a job holds up
   * to twice this many before its oldest are dropped down to this many.
   * @defaultValue 100
   */
  maxRunsPerJob?: number;
  /**
   * Finished runs older than this, in milliseconds, are dropped: runs whose finish and scheduled fire time
   * are both older than the time of the latest finish (a run cancelled before its fire time is kept until
   * that time is old too). With it, the history of removed jobs goes too (a process adding one-shot jobs
   * otherwise keeps a run and a few entries per job it ever ran); `null` keeps finished runs (subject to
   * `maxRunsPerJob`), as the other stores do by default.
   * @defaultValue null
   */
  maxRunAge?: number | null;
}

/**
 * Keeps jobs and runs in memory. Every method completes synchronously (the promise is already settled when
 * returned), so firing and leasing are trivially atomic. Not shared between processes: `persistent` is
 * false, so jobs may refer to functions that were never given a task id.
 */
export class MemoryStore implements Store {
  readonly kind = 'memory';
  readonly persistent: boolean = false;
  readonly maxWakeInterval = 30_000;
  /** Honours `horizon` in {@link fireDueJobs}: the scheduler may fire a few ms ahead. */
  readonly firesAhead = true;
  readonly fireBatchSize = 50;

  /** Stored jobs. Records are never mutated once stored: a change replaces the record. */
  private readonly jobs = new Map<string, JobRecord>();
  /**
   * Jobs that their own plan removed (the trigger has no more fire times) while runs of them are still active:
   * those runs need the job's args and policy when they start.
   */
  private readonly retired = new Map<string, JobRecord>();
  private readonly runs = new Map<string, MemRun>();
  /** The latest scheduled fire time of each job's runs, for the uniqueness rule. */
  private readonly latestFireTime = new Map<string, number>();
  /** Active (pending or running) runs per job. */
  private readonly active = new Map<string, Set<MemRun>>();
  /** Finished run ids per job, oldest first, for retention. */
  private readonly finished = new Map<string, string[]>();
  private readonly listeners = new Set<(change: StoreChange) => void>();
  private readonly maxRunsPerJob: number;
  private readonly maxRunAge: number | null;
  /** Finished runs by the time they become old enough for `maxRunAge` (the later of finish and fire time). */
  private readonly aging = new MinHeap<MemRun>();
  /**
   * Indexes, so that firing, leasing and reaping cost O(k log n) for k items rather than a scan of every job:
   * jobs by `nextRunTime`, pending runs by `notBefore`, running runs by lease expiry. Entries go stale when
   * their item changes (a job record is replaced, a run leaves the state); a stale entry is dropped when it
   * reaches the top, and a heap is rebuilt when stale entries outnumber the live ones.
   */
  private readonly dueJobs = new MinHeap<JobRecord>();
  private readonly pendingRuns = new MinHeap<MemRun>();
  private readonly leases = new MinHeap<MemRun>();
  private lastTaskIds: { list: string[]; length: number; set: Set<string> } | null = null;

  constructor(options: MemoryStoreOptions = {}) {
    const opts = optionsObject(options, 'options');
    rejectUnknownKeys(opts, ['maxRunsPerJob', 'maxRunAge']);
    this.maxRunsPerJob =
      opts.maxRunsPerJob === undefined ? 100 : integer(opts.maxRunsPerJob, 'maxRunsPerJob', 0);
    this.maxRunAge =
      opts.maxRunAge === undefined || opts.maxRunAge === null ? null : duration(opts.maxRunAge, 'maxRunAge');
  }

  async start(_context: StoreStartContext): Promise<void> {}

  async stop(): Promise<void> {}

  async addJob(job: JobRecord, conflict: ConflictPolicy): Promise<AddJobResult> {
    const existing = this.jobs.get(job.id);
    if (existing) {
      if (conflict === 'error') {
        throw new TickworkError('JOB_CONFLICT', `A job with id "${job.id}" exists already`, {
          field: 'id',
          value: job.id,
        });
      }
      if (conflict === 'keep') return { job: cloneJob(existing), outcome: 'kept' };
      if (unchangedByReplace(existing, job)) return { job: cloneJob(existing), outcome: 'unchanged' };
      const stored: JobRecord = {
        ...replacementOf(existing, cloneJob(job)),
        trigger: freezeTrigger(job.trigger),
      };
      this.setJob(stored);
      this.emit({ kind: 'job-modified', jobId: job.id });
      return { job: cloneJob(stored), outcome: 'replaced' };
    }
    const stored: JobRecord = { ...cloneJob(job), trigger: freezeTrigger(job.trigger), version: 1 };
    this.setJob(stored);
    this.emit({ kind: 'job-added', jobId: job.id });
    return { job: cloneJob(stored), outcome: 'added' };
  }

  async getJob(id: string): Promise<JobRecord | null> {
    const job = this.jobs.get(id);
    return job ? cloneJob(job) : null;
  }

  /**
   * Filters in one pass over the jobs; a page (`limit`) is chosen by a bounded heap (`offset + limit`
   * smallest), not by sorting every job: a page by name out of 100,000 jobs took about 0.3 s sorted, which
   * the scheduler's timers on the same thread would wait for.
   */
  async getJobs(filter: JobFilter = {}): Promise<JobRecord[]> {
    const sort = checkJobPage(filter);
    const ids = filter.ids === undefined ? null : new Set(filter.ids);
    const { taskId, paused, afterId } = filter;
    const offset = filter.offset ?? 0;
    const compare = jobComparator(sort);
    const all: JobRecord[] = [];
    const page = filter.limit === undefined ? null : new Smallest<JobRecord>(offset + filter.limit, compare);
    for (const j of ids !== null && ids.size < this.jobs.size ? this.byIds(ids) : this.jobs.values()) {
      if (ids !== null && !ids.has(j.id)) continue;
      if (taskId !== undefined && j.taskId !== taskId) continue;
      if (paused !== undefined && j.paused !== paused) continue;
      if (afterId !== undefined && compareCodePoints(j.id, afterId) <= 0) continue;
      if (page === null) all.push(j);
      else page.offer(j);
    }
    const list = page === null ? all.sort(compare) : page.sorted();
    return list.slice(offset).map(cloneJob);
  }

  /** The stored jobs of these ids. */
  private *byIds(ids: Set<string>): Iterable<JobRecord> {
    for (const id of ids) {
      const j = this.jobs.get(id);
      if (j !== undefined) yield j;
    }
  }

  async countJobs(filter: JobCountFilter = {}): Promise<number> {
    if (filter.taskId === undefined && filter.paused === undefined) return this.jobs.size;
    let n = 0;
    for (const j of this.jobs.values()) {
      if (filter.taskId !== undefined && j.taskId !== filter.taskId) continue;
      if (filter.paused !== undefined && j.paused !== filter.paused) continue;
      n++;
    }
    return n;
  }

  async updateJob(id: string, changes: JobChanges, expectedVersion?: number): Promise<JobRecord> {
    const job = this.jobs.get(id);
    if (!job) throw notFound(id);
    if (expectedVersion !== undefined && job.version !== expectedVersion) {
      throw new TickworkError(
        'JOB_VERSION_CONFLICT',
        `Job "${id}" changed meanwhile (version ${job.version}, expected ${expectedVersion})`,
        { field: 'version', value: expectedVersion },
      );
    }
    const updated: JobRecord = cloneJob({ ...job, ...changes, version: job.version + 1 });
    // Pausing or resuming is the operator's decision: it ends a quarantine.
    if (changes.paused !== undefined) updated.quarantine = null;
    if (changes.trigger) updated.trigger = freezeTrigger(changes.trigger);
    this.setJob(updated);
    this.emit({ kind: 'job-modified', jobId: id });
    return cloneJob(updated);
  }

  async removeJob(id: string, expectedVersion?: number): Promise<JobRecord | null> {
    const job = this.jobs.get(id);
    if (!job) return null;
    if (expectedVersion !== undefined && job.version !== expectedVersion)
      throw versionConflict(id, job.version, expectedVersion);
    this.jobs.delete(id);
    for (const run of [...(this.active.get(id) ?? [])]) {
      if (run.status !== 'pending') continue;
      if (!run.manual && run.created < run.sft && run.attempt === 0) {
        // Fired ahead of its fire time (the scheduler's fireAhead) and removed before it started: as if never
        // fired, so a job re-added under this id fires that time. (One that ran, and waits for a retry, is
        // history: cancelled below.)
        this.active.get(id)!.delete(run);
        this.runs.delete(run.id);
        run.status = 'cancelled'; // its pending-index entry is dropped when it reaches the top
      } else {
        this.finalize(run, 'cancelled', run.created);
      }
    }
    if (this.active.get(id)?.size === 0) this.active.delete(id);
    this.emit({ kind: 'job-removed', jobId: id });
    return cloneJob(job);
  }

  async removeAllJobs(): Promise<number> {
    const ids = [...this.jobs.keys()];
    for (const id of ids) await this.removeJob(id);
    return ids.length;
  }

  async fireDueJobs(now: Date, limit: number, planner: FirePlanner, horizon?: Date): Promise<FireResult> {
    const t = now.getTime();
    const until = horizon !== undefined && horizon.getTime() > t ? horizon.getTime() : t;
    const context = { now, horizon: until === t ? now : new Date(until), activeRuns: 0 };
    const due: JobRecord[] = [];
    while (due.length < limit) {
      const job = this.topDueJob();
      if (job === undefined || job.nextRunTime!.getTime() > until) break;
      this.dueJobs.pop();
      due.push(job);
    }
    const top = this.topDueJob();
    const more = top !== undefined && top.nextRunTime!.getTime() <= until;
    const fired: FiredJob[] = [];
    for (const job of due) {
      // The stored record is immutable, so the planner and the caller may share it.
      const plan = planner(job, { ...context, activeRuns: this.active.get(job.id)?.size ?? 0 });
      const runs: MemRun[] = [];
      for (const planned of plan.runs) {
        const fireTime = planned.scheduledFireTime.getTime();
        // Unique (job, fire time) among the retained runs. Fire times only grow, so a later one than the
        // latest is new; an earlier one (a changed trigger) is checked against the job's runs.
        const latest = this.latestFireTime.get(job.id);
        if (latest !== undefined && fireTime <= latest && this.hasScheduledRun(job.id, fireTime)) continue;
        if (latest === undefined || fireTime > latest) this.latestFireTime.set(job.id, fireTime);
        const run = newRun(job, fireTime, planned.notBefore.getTime(), t, false);
        if (planned.status !== 'pending') {
          run.status = planned.status;
          run.finished = t;
        } else if (planned.queued === true) run.queued = true;
        this.insertRun(run);
        runs.push(run);
      }
      if (plan.quarantine !== undefined) {
        this.setJob({
          ...job,
          paused: true,
          nextRunTime: null,
          quarantine: plan.quarantine,
          version: job.version + 1,
          updatedAt: now,
        });
      } else if (plan.remove) {
        this.jobs.delete(job.id);
        if ((this.active.get(job.id)?.size ?? 0) > 0) this.retired.set(job.id, job);
        else this.active.delete(job.id);
      } else {
        this.setJob(advanced(job, plan.nextRunTime, now));
      }
      fired.push(new MemFired(job, plan, runs));
    }
    return { now, fired, more };
  }

  async createManualRun(jobId: string, now: Date): Promise<RunRecord> {
    const job = this.jobs.get(jobId);
    if (!job) throw notFound(jobId);
    const t = now.getTime();
    const run = newRun(job, t, t, t, true);
    if ((this.active.get(jobId)?.size ?? 0) >= job.maxInstances) {
      run.status = 'skipped';
      run.finished = t;
    }
    this.insertRun(run);
    // The run as created: a listener may start it at once.
    const record = toRecord(run);
    this.emit({ kind: 'run-created', jobId });
    return record;
  }

  async acquireRuns(
    owner: string,
    now: Date,
    limit: number,
    leaseMs: number,
    taskIds?: string[],
  ): Promise<AcquiredRun[]> {
    const t = now.getTime();
    const tasks = taskIds ? this.taskSet(taskIds) : null;
    const out: AcquiredRun[] = [];
    /** Due runs of tasks the caller does not have, and queued runs that wait: put back afterwards. */
    let others: MemRun[] | null = null;
    while (out.length < limit) {
      const run = this.topPendingRun();
      if (run === undefined || run.notBefore > t) break;
      this.pendingRuns.pop();
      if ((tasks && !tasks.has(run.taskId)) || (run.queued && this.waitsBehind(run))) {
        (others ??= []).push(run);
        continue;
      }
      run.status = 'running';
      run.owner = owner;
      run.attempt += 1;
      run.started = t;
      run.lease = t + leaseMs;
      this.leases.push(run.lease, run);
      // Job records are immutable once stored: share, do not copy.
      out.push({ run: toRecord(run), job: this.jobs.get(run.jobId) ?? this.retired.get(run.jobId) ?? null });
    }
    if (others) for (const run of others) this.pendingRuns.push(run.notBefore, run);
    return out;
  }

  async heartbeatRuns(
    owner: string,
    runs: { id: string; attempt: number }[],
    now: Date,
    leaseMs: number,
  ): Promise<string[]> {
    const held: string[] = [];
    for (const { id, attempt } of runs) {
      const run = this.runs.get(id);
      if (run && run.status === 'running' && run.owner === owner && run.attempt === attempt) {
        run.lease = now.getTime() + leaseMs;
        this.leases.push(run.lease, run);
        held.push(id);
      }
    }
    return held;
  }

  async finishRun(
    runId: string,
    owner: string,
    attempt: number,
    now: Date,
    outcome: RunOutcome,
  ): Promise<boolean> {
    const run = this.runs.get(runId);
    if (!run || run.status !== 'running' || run.owner !== owner || run.attempt !== attempt) return false;
    run.error = outcome.error ?? null;
    if (outcome.retryAt) {
      run.status = 'pending';
      run.notBefore = outcome.retryAt.getTime();
      run.owner = null;
      run.lease = null;
      this.pendingRuns.push(run.notBefore, run);
      this.emit({ kind: 'run-created', jobId: run.jobId });
      return true;
    }
    run.result = outcome.result;
    this.finalize(run, outcome.status, now.getTime());
    if (this.listeners.size > 0) this.emit({ kind: 'run-finished', jobId: run.jobId });
    return true;
  }

  async finishRuns(
    owner: string,
    items: { runId: string; attempt: number; outcome: RunOutcome }[],
    now: Date,
  ): Promise<boolean[]> {
    const out: boolean[] = [];
    for (const i of items) {
      out.push(!i.outcome.retryAt && (await this.finishRun(i.runId, owner, i.attempt, now, i.outcome)));
    }
    return out;
  }

  async reapExpiredRuns(now: Date, limit: number, retry?: ReapRetry): Promise<RunRecord[]> {
    const t = now.getTime();
    const expired: MemRun[] = [];
    while (expired.length < limit) {
      const run = this.topLease();
      if (run === undefined || run.lease! >= t) break;
      this.leases.pop();
      expired.push(run);
    }
    return expired.map((run) => {
      const job = this.jobs.get(run.jobId) ?? this.retired.get(run.jobId) ?? null;
      const at = retry ? retry(toRecord(run), job ? cloneJob(job) : null) : null;
      if (at === null) {
        this.finalize(run, 'abandoned', t);
      } else {
        // Still in the job's active set: it never stops counting against maxInstances.
        run.status = 'pending';
        run.notBefore = at.getTime();
        run.owner = null;
        run.lease = null;
        run.finished = null;
        this.pendingRuns.push(run.notBefore, run);
        this.emit({ kind: 'run-created', jobId: run.jobId });
      }
      return toRecord(run);
    });
  }

  async requeueRun(runId: string, attempt: number, notBefore: Date): Promise<boolean> {
    const run = this.runs.get(runId);
    if (!run || run.status !== 'abandoned' || run.attempt !== attempt) return false;
    const list = this.finished.get(run.jobId);
    const i = list ? list.indexOf(run.id) : -1;
    if (list && i >= 0) list.splice(i, 1);
    run.status = 'pending';
    run.notBefore = notBefore.getTime();
    run.owner = null;
    run.lease = null;
    run.finished = null;
    let set = this.active.get(run.jobId);
    if (!set) this.active.set(run.jobId, (set = new Set()));
    set.add(run);
    this.pendingRuns.push(run.notBefore, run);
    this.emit({ kind: 'run-created', jobId: run.jobId });
    return true;
  }

  async getRun(id: string): Promise<RunRecord | null> {
    const run = this.runs.get(id);
    return run ? toRecord(run) : null;
  }

  async getRuns(filter: RunFilter = {}): Promise<RunRecord[]> {
    const statuses = filter.status === undefined ? null : new Set([filter.status].flat());
    const from = filter.from?.getTime();
    const to = filter.to?.getTime();
    const list: MemRun[] = [];
    for (const run of this.runs.values()) {
      if (filter.jobId !== undefined && run.jobId !== filter.jobId) continue;
      if (statuses && !statuses.has(run.status)) continue;
      if (from !== undefined && run.sft < from) continue;
      if (to !== undefined && run.sft >= to) continue;
      list.push(run);
    }
    list.sort((a, b) => b.sft - a.sft || compareCodePoints(b.id, a.id));
    const offset = filter.offset ?? 0;
    return list.slice(offset, offset + (filter.limit ?? 100)).map(toRecord);
  }

  async getNextWakeTime(taskIds?: string[]): Promise<Date | null> {
    let min = Infinity;
    const job = this.topDueJob();
    if (job !== undefined) min = job.nextRunTime!.getTime();
    const pending = this.topPendingRun();
    const tasks = taskIds ? this.taskSet(taskIds) : null;
    if (pending !== undefined && (tasks === null || tasks.has(pending.taskId))) {
      if (pending.notBefore < min) min = pending.notBefore;
    } else if (pending !== undefined) {
      // The earliest pending run is of another task: look through them all (rare: a memory store's runs are
      // of this process's tasks).
      for (const run of this.runs.values())
        if (run.status === 'pending' && tasks!.has(run.taskId) && run.notBefore < min) min = run.notBefore;
    }
    const leased = this.topLease();
    if (leased !== undefined && leased.lease! < min) min = leased.lease!;
    return min === Infinity ? null : new Date(min);
  }

  /**
   * `new Set(taskIds)`, cached while the caller passes the same array (the scheduler keeps one, and appends the
   * tasks it defines to it): ids appended since the last call are added, not the whole set made again.
   */
  private taskSet(taskIds: string[]): Set<string> {
    const last = this.lastTaskIds;
    if (last?.list === taskIds && last.length < taskIds.length) {
      for (let i = last.length; i < taskIds.length; i++) last.set.add(taskIds[i]!);
      last.length = taskIds.length;
    } else if (last?.list !== taskIds || last.length !== taskIds.length) {
      this.lastTaskIds = { list: taskIds, length: taskIds.length, set: new Set(taskIds) };
    }
    return this.lastTaskIds!.set;
  }

  /** The task ids of the jobs, of the removed jobs that have active runs, and of the active runs. */
  taskIdsInUse(): Set<string> {
    const ids = new Set<string>();
    for (const j of this.jobs.values()) ids.add(j.taskId);
    for (const j of this.retired.values()) ids.add(j.taskId);
    for (const runs of this.active.values()) for (const r of runs) ids.add(r.taskId);
    return ids;
  }

  /** Stores a job record (replacing any other under its id) and indexes it when it is due at some time. */
  private setJob(job: JobRecord): void {
    this.jobs.set(job.id, job);
    if (!job.paused && job.nextRunTime !== null) {
      this.dueJobs.push(job.nextRunTime.getTime(), job);
      if (this.dueJobs.size > 2 * this.jobs.size + 1024) this.dueJobs.filter((e) => this.isDue(e.item));
    }
  }

  private isDue(job: JobRecord): boolean {
    return this.jobs.get(job.id) === job && !job.paused && job.nextRunTime !== null;
  }

  /** The job with the earliest `nextRunTime` (stale index entries on top are dropped), left in the index. */
  private topDueJob(): JobRecord | undefined {
    for (;;) {
      const e = this.dueJobs.peek();
      if (e === undefined || this.isDue(e.item)) return e?.item;
      this.dueJobs.pop();
    }
  }

  /** The pending run with the earliest `notBefore`, left in the index. */
  private topPendingRun(): MemRun | undefined {
    for (;;) {
      const e = this.pendingRuns.peek();
      if (e === undefined || (e.item.status === 'pending' && e.item.notBefore === e.key)) return e?.item;
      this.pendingRuns.pop();
    }
  }

  /** The running run whose lease expires first, left in the index. */
  private topLease(): MemRun | undefined {
    for (;;) {
      const e = this.leases.peek();
      if (e === undefined || (e.item.status === 'running' && e.item.lease === e.key)) return e?.item;
      this.leases.pop();
    }
  }

  subscribe(listener: (change: StoreChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(change: StoreChange): void {
    emitChange(this.listeners, change);
  }

  private insertRun(run: MemRun): void {
    this.runs.set(run.id, run);
    if (run.status === 'pending') {
      let set = this.active.get(run.jobId);
      if (!set) this.active.set(run.jobId, (set = new Set()));
      set.add(run);
      this.pendingRuns.push(run.notBefore, run);
    } else {
      this.retain(run);
    }
  }

  /** Whether a run of `run`'s job with an earlier fire time is pending or running (see `PlannedRun.queued`). */
  private waitsBehind(run: MemRun): boolean {
    for (const other of this.active.get(run.jobId) ?? []) if (other.sft < run.sft) return true;
    return false;
  }

  /** Whether a retained scheduled (not manual) run of `jobId` has fire time `sft`. */
  private hasScheduledRun(jobId: string, sft: number): boolean {
    for (const run of this.active.get(jobId) ?? []) if (!run.manual && run.sft === sft) return true;
    for (const id of this.finished.get(jobId) ?? []) {
      const run = this.runs.get(id);
      if (run && !run.manual && run.sft === sft) return true;
    }
    return false;
  }

  /** Moves a run out of the active set into history, then applies retention. */
  private finalize(run: MemRun, status: RunStatus, at: number): void {
    run.status = status;
    run.finished = at;
    run.lease = null;
    const set = this.active.get(run.jobId);
    if (set) {
      set.delete(run);
      // The empty set is kept while the job exists (it fires again soon): no Set per fire for the collector.
      if (set.size === 0 && !this.jobs.has(run.jobId)) {
        this.active.delete(run.jobId);
        this.retired.delete(run.jobId);
      }
    }
    this.retain(run);
  }

  private retain(run: MemRun): void {
    let list = this.finished.get(run.jobId);
    if (!list) this.finished.set(run.jobId, (list = []));
    list.push(run.id);
    if (list.length > this.maxRunsPerJob * 2) {
      // Drop in chunks: one splice per maxRunsPerJob finishes instead of a shift per finish.
      for (const old of list.splice(0, list.length - this.maxRunsPerJob)) this.runs.delete(old);
    }
    if (this.maxRunAge !== null) {
      this.aging.push(Math.max(run.finished!, run.sft), run);
      this.dropOlderThan(run.finished! - this.maxRunAge);
    }
  }

  /**
   * Drops the finished runs whose finish and fire time are both before `cutoff`, and what the store keeps
   * for a removed job once none of its runs is left.
   */
  private dropOlderThan(cutoff: number): void {
    for (let top = this.aging.peek(); top !== undefined && top.key < cutoff; top = this.aging.peek()) {
      this.aging.pop();
      const run = top.item;
      // Dropped already (maxRunsPerJob); or requeued since: active again, or finished again later (its entry
      // of that finish comes later).
      if (this.runs.get(run.id) !== run || run.finished === null || Math.max(run.finished, run.sft) >= cutoff)
        continue;
      this.runs.delete(run.id);
      const list = this.finished.get(run.jobId);
      if (list === undefined) continue;
      const i = list[0] === run.id ? 0 : list.indexOf(run.id);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) {
        this.finished.delete(run.jobId);
        if (!this.jobs.has(run.jobId) && !this.active.has(run.jobId)) this.latestFireTime.delete(run.jobId);
      }
    }
  }
}

/** A {@link FiredJob} whose run records are made only when someone reads them. */
class MemFired implements FiredJob {
  constructor(
    readonly job: JobRecord,
    readonly plan: FiredJob['plan'],
    private readonly memRuns: MemRun[],
  ) {}

  get runs(): RunRecord[] {
    return this.memRuns.map(toRecord);
  }
}

/** A run as kept in memory: times as epoch ms (fewer objects for the garbage collector). */
interface MemRun {
  id: string;
  jobId: string;
  taskId: string;
  sft: number;
  notBefore: number;
  status: RunStatus;
  manual: boolean;
  attempt: number;
  owner: string | null;
  lease: number | null;
  started: number | null;
  finished: number | null;
  error: RunError | null;
  result: unknown;
  created: number;
  /** `PlannedRun.queued`: leased only once the job's runs with earlier fire times have finished. */
  queued: boolean;
}

/** `job` with a new `nextRunTime` (an explicit literal: much cheaper than a spread on the hot path). */
function advanced(job: JobRecord, nextRunTime: Date | null, now: Date): JobRecord {
  return {
    id: job.id,
    name: job.name,
    taskId: job.taskId,
    trigger: job.trigger,
    args: job.args,
    maxInstances: job.maxInstances,
    misfireGraceTime: job.misfireGraceTime,
    coalesce: job.coalesce,
    jitter: job.jitter,
    timeout: job.timeout,
    retry: job.retry,
    paused: job.paused,
    nextRunTime,
    quarantine: job.quarantine,
    version: job.version + 1,
    createdAt: job.createdAt,
    updatedAt: now,
  };
}

function newRun(job: JobRecord, fireTime: number, notBefore: number, now: number, manual: boolean): MemRun {
  return {
    // (a UUID version 7 of the creation time: runs sharing a fire time list newest created first, by id)
    id: uuidv7(now),
    jobId: job.id,
    taskId: job.taskId,
    sft: fireTime,
    notBefore,
    status: 'pending',
    manual,
    attempt: 0,
    owner: null,
    lease: null,
    started: null,
    finished: null,
    error: null,
    result: undefined,
    created: now,
    queued: false,
  };
}

const date = (t: number | null): Date | null => (t === null ? null : new Date(t));

function toRecord(run: MemRun): RunRecord {
  const record: RunRecord = {
    id: run.id,
    jobId: run.jobId,
    taskId: run.taskId,
    scheduledFireTime: new Date(run.sft),
    notBefore: new Date(run.notBefore),
    status: run.status,
    manual: run.manual,
    attempt: run.attempt,
    owner: run.owner,
    leaseExpiresAt: date(run.lease),
    startedAt: date(run.started),
    finishedAt: date(run.finished),
    error: run.error ? { ...run.error } : null,
    createdAt: new Date(run.created),
  };
  if (run.result !== undefined) record.result = run.result;
  return record;
}

function notFound(id: string): TickworkError {
  return new TickworkError('JOB_NOT_FOUND', `No job with id "${id}"`, { field: 'id', value: id });
}

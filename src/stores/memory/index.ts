/**
 * The default store: everything in this process's memory, gone when it exits.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { TickworkError } from '../../core/errors.js';
import type { JobRecord, RunError, RunRecord, RunStatus } from '../../core/structures.js';
import { integer, optionsObject, rejectUnknownKeys } from '../../core/validate.js';
import type {
  AcquiredRun,
  AddJobResult,
  ConflictPolicy,
  FireResult,
  FiredJob,
  FirePlanner,
  JobChanges,
  JobFilter,
  RunFilter,
  RunOutcome,
  Store,
  StoreChange,
  StoreStartContext,
} from '../store.js';
import { cloneJob, freezeTrigger, sameTrigger } from '../common.js';

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * How many finished runs to keep per job (oldest dropped first).
   * @defaultValue 100
   */
  maxRunsPerJob?: number;
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
  readonly fireBatchSize = 50;

  /** Stored jobs. Records are never mutated once stored: a change replaces the record. */
  private readonly jobs = new Map<string, JobRecord>();
  /**
   * Jobs that their own plan removed (the trigger has no more fire times) while runs of them are still active:
   * those runs need the job's args and policy when they start.
   */
  private readonly retired = new Map<string, JobRecord>();
  private readonly runs = new Map<string, MemRun>();
  /** Fire times of the retained scheduled runs of each job, for the uniqueness rule. */
  private readonly scheduledTimes = new Map<string, Set<number>>();
  /** Active (pending or running) runs per job. */
  private readonly active = new Map<string, Set<MemRun>>();
  /** Finished run ids per job, oldest first, for retention. */
  private readonly finished = new Map<string, string[]>();
  private readonly listeners = new Set<(change: StoreChange) => void>();
  private readonly maxRunsPerJob: number;

  constructor(options: MemoryStoreOptions = {}) {
    const opts = optionsObject(options, 'options');
    rejectUnknownKeys(opts, ['maxRunsPerJob']);
    this.maxRunsPerJob =
      opts.maxRunsPerJob === undefined ? 100 : integer(opts.maxRunsPerJob, 'maxRunsPerJob', 0);
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
      const keepNext = !existing.paused && !job.paused && sameTrigger(existing.trigger, job.trigger);
      const stored: JobRecord = {
        ...cloneJob(job),
        trigger: freezeTrigger(job.trigger),
        nextRunTime: keepNext ? existing.nextRunTime : job.nextRunTime,
        version: existing.version + 1,
        createdAt: existing.createdAt,
      };
      this.jobs.set(job.id, stored);
      this.emit({ kind: 'job-modified', jobId: job.id });
      return { job: cloneJob(stored), outcome: 'replaced' };
    }
    const stored: JobRecord = { ...cloneJob(job), trigger: freezeTrigger(job.trigger), version: 1 };
    this.jobs.set(job.id, stored);
    this.emit({ kind: 'job-added', jobId: job.id });
    return { job: cloneJob(stored), outcome: 'added' };
  }

  async getJob(id: string): Promise<JobRecord | null> {
    const job = this.jobs.get(id);
    return job ? cloneJob(job) : null;
  }

  async getJobs(filter: JobFilter = {}): Promise<JobRecord[]> {
    let list = [...this.jobs.values()];
    if (filter.ids) {
      const ids = new Set(filter.ids);
      list = list.filter((j) => ids.has(j.id));
    }
    if (filter.taskId !== undefined) list = list.filter((j) => j.taskId === filter.taskId);
    if (filter.paused !== undefined) list = list.filter((j) => j.paused === filter.paused);
    list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    if (filter.afterId !== undefined) list = list.filter((j) => j.id > filter.afterId!);
    if (filter.limit !== undefined) list = list.slice(0, filter.limit);
    return list.map(cloneJob);
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
    if (changes.trigger) updated.trigger = freezeTrigger(changes.trigger);
    this.jobs.set(id, updated);
    this.emit({ kind: 'job-modified', jobId: id });
    return cloneJob(updated);
  }

  async removeJob(id: string): Promise<JobRecord | null> {
    const job = this.jobs.get(id);
    if (!job) return null;
    this.jobs.delete(id);
    for (const run of [...(this.active.get(id) ?? [])]) {
      if (run.status === 'pending') this.finalize(run, 'cancelled', run.created);
    }
    this.emit({ kind: 'job-removed', jobId: id });
    return cloneJob(job);
  }

  async removeAllJobs(): Promise<number> {
    const ids = [...this.jobs.keys()];
    for (const id of ids) await this.removeJob(id);
    return ids.length;
  }

  async fireDueJobs(now: Date, limit: number, planner: FirePlanner): Promise<FireResult> {
    const t = now.getTime();
    const due: JobRecord[] = [];
    for (const job of this.jobs.values()) {
      if (!job.paused && job.nextRunTime !== null && job.nextRunTime.getTime() <= t) due.push(job);
    }
    if (due.length > limit) due.sort((a, b) => a.nextRunTime!.getTime() - b.nextRunTime!.getTime());
    const n = Math.min(limit, due.length);
    const fired: FiredJob[] = [];
    for (let i = 0; i < n; i++) {
      const job = due[i]!;
      // The stored record is immutable, so the planner and the caller may share it.
      const plan = planner(job, { now, activeRuns: this.active.get(job.id)?.size ?? 0 });
      const runs: RunRecord[] = [];
      for (const planned of plan.runs) {
        const fireTime = planned.scheduledFireTime.getTime();
        let times = this.scheduledTimes.get(job.id);
        if (!times) this.scheduledTimes.set(job.id, (times = new Set()));
        if (times.has(fireTime)) continue;
        times.add(fireTime);
        const run = newRun(job, fireTime, planned.notBefore.getTime(), t, false);
        if (planned.status !== 'pending') {
          run.status = planned.status;
          run.finished = t;
        }
        this.insertRun(run);
        runs.push(toRecord(run));
      }
      if (plan.quarantine !== undefined) {
        this.jobs.set(job.id, {
          ...job,
          paused: true,
          nextRunTime: null,
          version: job.version + 1,
          updatedAt: now,
        });
      } else if (plan.remove) {
        this.jobs.delete(job.id);
        if (this.active.has(job.id)) this.retired.set(job.id, job);
      } else {
        this.jobs.set(job.id, advanced(job, plan.nextRunTime, now));
      }
      fired.push({ job, plan, runs });
    }
    return { now, fired, more: due.length > limit };
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
    this.emit({ kind: 'run-created', jobId });
    return toRecord(run);
  }

  async acquireRuns(
    owner: string,
    now: Date,
    limit: number,
    leaseMs: number,
    taskIds?: string[],
  ): Promise<AcquiredRun[]> {
    const t = now.getTime();
    const tasks = taskIds ? new Set(taskIds) : null;
    const candidates: MemRun[] = [];
    for (const set of this.active.values()) {
      for (const run of set) {
        if (run.status === 'pending' && run.notBefore <= t && (!tasks || tasks.has(run.taskId)))
          candidates.push(run);
      }
    }
    if (candidates.length > limit) candidates.sort((a, b) => a.notBefore - b.notBefore);
    const out: AcquiredRun[] = [];
    const n = Math.min(limit, candidates.length);
    for (let i = 0; i < n; i++) {
      const run = candidates[i]!;
      run.status = 'running';
      run.owner = owner;
      run.attempt += 1;
      run.started = t;
      run.lease = t + leaseMs;
      // Job records are immutable once stored: share, do not copy.
      out.push({ run: toRecord(run), job: this.jobs.get(run.jobId) ?? this.retired.get(run.jobId) ?? null });
    }
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
      this.emit({ kind: 'run-created', jobId: run.jobId });
      return true;
    }
    run.result = outcome.result;
    this.finalize(run, outcome.status, now.getTime());
    if (this.listeners.size > 0) this.emit({ kind: 'run-finished', jobId: run.jobId });
    return true;
  }

  async reapExpiredRuns(now: Date, limit: number): Promise<RunRecord[]> {
    const t = now.getTime();
    const expired: MemRun[] = [];
    outer: for (const set of this.active.values()) {
      for (const run of set) {
        if (run.status === 'running' && run.lease !== null && run.lease < t) {
          expired.push(run);
          if (expired.length >= limit) break outer;
        }
      }
    }
    return expired.map((run) => {
      this.finalize(run, 'abandoned', t);
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
    list.sort((a, b) => b.sft - a.sft || b.created - a.created);
    const offset = filter.offset ?? 0;
    return list.slice(offset, offset + (filter.limit ?? 100)).map(toRecord);
  }

  async getNextWakeTime(): Promise<Date | null> {
    let min = Infinity;
    for (const job of this.jobs.values()) {
      if (!job.paused && job.nextRunTime !== null) {
        const t = job.nextRunTime.getTime();
        if (t < min) min = t;
      }
    }
    for (const set of this.active.values()) {
      for (const run of set) {
        const t = run.status === 'pending' ? run.notBefore : (run.lease ?? Infinity);
        if (t < min) min = t;
      }
    }
    return min === Infinity ? null : new Date(min);
  }

  subscribe(listener: (change: StoreChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(change: StoreChange): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch {
        // listeners are hints; a failing one must not break the store
      }
    }
  }

  private insertRun(run: MemRun): void {
    this.runs.set(run.id, run);
    if (run.status === 'pending') {
      let set = this.active.get(run.jobId);
      if (!set) this.active.set(run.jobId, (set = new Set()));
      set.add(run);
    } else {
      this.retain(run);
    }
  }

  /** Moves a run out of the active set into history, then applies retention. */
  private finalize(run: MemRun, status: RunStatus, at: number): void {
    run.status = status;
    run.finished = at;
    run.lease = null;
    const set = this.active.get(run.jobId);
    if (set) {
      set.delete(run);
      if (set.size === 0) {
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
      for (const old of list.splice(0, list.length - this.maxRunsPerJob)) {
        const dropped = this.runs.get(old);
        this.runs.delete(old);
        if (dropped && !dropped.manual) this.scheduledTimes.get(dropped.jobId)?.delete(dropped.sft);
      }
    }
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
    version: job.version + 1,
    createdAt: job.createdAt,
    updatedAt: now,
  };
}

function newRun(job: JobRecord, fireTime: number, notBefore: number, now: number, manual: boolean): MemRun {
  return {
    id: randomUUID(),
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

/**
 * The default store: everything in this process's memory, gone when it exits.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { TickworkError } from '../../core/errors.js';
import type { JobRecord, RunRecord } from '../../core/structures.js';
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
import { cloneJob, cloneRun, sameTrigger } from '../common.js';

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
  readonly persistent = false;
  readonly maxWakeInterval = 30_000;

  private readonly jobs = new Map<string, JobRecord>();
  private readonly runs = new Map<string, RunRecord>();
  /** Scheduled runs by `${jobId}\u0000${fireTime}` for the uniqueness rule. */
  private readonly scheduledKeys = new Map<string, string>();
  /** Active (pending or running) run ids per job. */
  private readonly active = new Map<string, Set<string>>();
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
        nextRunTime: keepNext ? existing.nextRunTime : job.nextRunTime,
        version: existing.version + 1,
        createdAt: existing.createdAt,
      };
      this.jobs.set(job.id, stored);
      this.emit({ kind: 'job-modified', jobId: job.id });
      return { job: cloneJob(stored), outcome: 'replaced' };
    }
    const stored: JobRecord = { ...cloneJob(job), version: 1 };
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
    this.jobs.set(id, updated);
    this.emit({ kind: 'job-modified', jobId: id });
    return cloneJob(updated);
  }

  async removeJob(id: string): Promise<JobRecord | null> {
    const job = this.jobs.get(id);
    if (!job) return null;
    this.jobs.delete(id);
    for (const runId of this.active.get(id) ?? []) {
      const run = this.runs.get(runId);
      if (run && run.status === 'pending') {
        this.finalize(run, { ...run, status: 'cancelled', finishedAt: run.createdAt });
      }
    }
    this.emit({ kind: 'job-removed', jobId: id });
    return job;
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
    due.sort((a, b) => a.nextRunTime!.getTime() - b.nextRunTime!.getTime());
    const batch = due.slice(0, limit);
    const fired: FiredJob[] = [];
    for (const job of batch) {
      const snapshot = cloneJob(job);
      const plan = planner(snapshot, { now: new Date(t), activeRuns: this.active.get(job.id)?.size ?? 0 });
      const runs: RunRecord[] = [];
      for (const planned of plan.runs) {
        const key = `${job.id}\u0000${planned.scheduledFireTime.getTime()}`;
        if (this.scheduledKeys.has(key)) continue;
        const run = this.newRun(job, planned.scheduledFireTime, planned.notBefore, now, false);
        if (planned.status !== 'pending') {
          run.status = planned.status;
          run.finishedAt = new Date(t);
        }
        this.scheduledKeys.set(key, run.id);
        this.insertRun(run);
        runs.push(cloneRun(run));
      }
      if (plan.quarantine !== undefined) {
        this.jobs.set(job.id, { ...job, paused: true, nextRunTime: null, version: job.version + 1 });
      } else if (plan.remove) {
        this.jobs.delete(job.id);
      } else {
        this.jobs.set(job.id, {
          ...job,
          nextRunTime: plan.nextRunTime,
          version: job.version + 1,
          updatedAt: now,
        });
      }
      fired.push({ job: snapshot, plan, runs });
    }
    return { now: new Date(t), fired, more: due.length > limit };
  }

  async createManualRun(jobId: string, now: Date): Promise<RunRecord> {
    const job = this.jobs.get(jobId);
    if (!job) throw notFound(jobId);
    const run = this.newRun(job, now, now, now, true);
    if ((this.active.get(jobId)?.size ?? 0) >= job.maxInstances) {
      run.status = 'skipped';
      run.finishedAt = new Date(now.getTime());
    }
    this.insertRun(run);
    this.emit({ kind: 'run-created', jobId });
    return cloneRun(run);
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
    const candidates: RunRecord[] = [];
    for (const ids of this.active.values()) {
      for (const id of ids) {
        const run = this.runs.get(id)!;
        if (run.status === 'pending' && run.notBefore.getTime() <= t && (!tasks || tasks.has(run.taskId))) {
          candidates.push(run);
        }
      }
    }
    candidates.sort((a, b) => a.notBefore.getTime() - b.notBefore.getTime());
    const out: AcquiredRun[] = [];
    for (const run of candidates.slice(0, limit)) {
      run.status = 'running';
      run.owner = owner;
      run.attempt += 1;
      run.startedAt = new Date(t);
      run.leaseExpiresAt = new Date(t + leaseMs);
      const job = this.jobs.get(run.jobId);
      out.push({ run: cloneRun(run), job: job ? cloneJob(job) : null });
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
        run.leaseExpiresAt = new Date(now.getTime() + leaseMs);
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
    if (outcome.retryAt) {
      run.status = 'pending';
      run.notBefore = new Date(outcome.retryAt.getTime());
      run.owner = null;
      run.leaseExpiresAt = null;
      run.error = outcome.error ?? null;
      this.emit({ kind: 'run-created', jobId: run.jobId });
      return true;
    }
    this.finalize(run, {
      ...run,
      status: outcome.status,
      error: outcome.error ?? null,
      result: outcome.result,
      finishedAt: new Date(now.getTime()),
      leaseExpiresAt: null,
    });
    this.emit({ kind: 'run-finished', jobId: run.jobId });
    return true;
  }

  async reapExpiredRuns(now: Date, limit: number): Promise<RunRecord[]> {
    const t = now.getTime();
    const out: RunRecord[] = [];
    for (const ids of this.active.values()) {
      for (const id of ids) {
        const run = this.runs.get(id)!;
        if (run.status === 'running' && run.leaseExpiresAt !== null && run.leaseExpiresAt.getTime() < t) {
          out.push(run);
          if (out.length >= limit) break;
        }
      }
      if (out.length >= limit) break;
    }
    return out.map((run) => {
      const done: RunRecord = { ...run, status: 'abandoned', finishedAt: new Date(t), leaseExpiresAt: null };
      this.finalize(run, done);
      return cloneRun(done);
    });
  }

  async getRun(id: string): Promise<RunRecord | null> {
    const run = this.runs.get(id);
    return run ? cloneRun(run) : null;
  }

  async getRuns(filter: RunFilter = {}): Promise<RunRecord[]> {
    const statuses = filter.status === undefined ? null : new Set([filter.status].flat());
    const from = filter.from?.getTime();
    const to = filter.to?.getTime();
    const list: RunRecord[] = [];
    for (const run of this.runs.values()) {
      if (filter.jobId !== undefined && run.jobId !== filter.jobId) continue;
      if (statuses && !statuses.has(run.status)) continue;
      const s = run.scheduledFireTime.getTime();
      if (from !== undefined && s < from) continue;
      if (to !== undefined && s >= to) continue;
      list.push(run);
    }
    list.sort(
      (a, b) =>
        b.scheduledFireTime.getTime() - a.scheduledFireTime.getTime() ||
        b.createdAt.getTime() - a.createdAt.getTime(),
    );
    const offset = filter.offset ?? 0;
    return list.slice(offset, offset + (filter.limit ?? 100)).map(cloneRun);
  }

  async getNextWakeTime(): Promise<Date | null> {
    let min = Infinity;
    for (const job of this.jobs.values()) {
      if (!job.paused && job.nextRunTime !== null) min = Math.min(min, job.nextRunTime.getTime());
    }
    for (const ids of this.active.values()) {
      for (const id of ids) {
        const run = this.runs.get(id)!;
        if (run.status === 'pending') min = Math.min(min, run.notBefore.getTime());
        else if (run.leaseExpiresAt) min = Math.min(min, run.leaseExpiresAt.getTime());
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

  private newRun(job: JobRecord, fireTime: Date, notBefore: Date, now: Date, manual: boolean): RunRecord {
    return {
      id: randomUUID(),
      jobId: job.id,
      taskId: job.taskId,
      scheduledFireTime: new Date(fireTime.getTime()),
      notBefore: new Date(notBefore.getTime()),
      status: 'pending',
      manual,
      attempt: 0,
      owner: null,
      leaseExpiresAt: null,
      startedAt: null,
      finishedAt: null,
      error: null,
      createdAt: new Date(now.getTime()),
    };
  }

  private insertRun(run: RunRecord): void {
    this.runs.set(run.id, run);
    if (run.status === 'pending') {
      let set = this.active.get(run.jobId);
      if (!set) this.active.set(run.jobId, (set = new Set()));
      set.add(run.id);
    } else {
      this.retain(run);
    }
  }

  /** Moves a run out of the active set into history, then applies retention. */
  private finalize(run: RunRecord, done: RunRecord): void {
    this.runs.set(run.id, done);
    const set = this.active.get(run.jobId);
    if (set) {
      set.delete(run.id);
      if (set.size === 0) this.active.delete(run.jobId);
    }
    this.retain(done);
  }

  private retain(run: RunRecord): void {
    let list = this.finished.get(run.jobId);
    if (!list) this.finished.set(run.jobId, (list = []));
    list.push(run.id);
    while (list.length > this.maxRunsPerJob) {
      const old = list.shift()!;
      const dropped = this.runs.get(old);
      this.runs.delete(old);
      if (dropped && !dropped.manual) {
        this.scheduledKeys.delete(`${dropped.jobId}\u0000${dropped.scheduledFireTime.getTime()}`);
      }
    }
  }
}

function notFound(id: string): TickworkError {
  return new TickworkError('JOB_NOT_FOUND', `No job with id "${id}"`, { field: 'id', value: id });
}

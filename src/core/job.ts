/**
 * Job options, their defaults and validation, and the `Job` handle users get back.
 * @module
 */
import { TickworkError, invalidOption } from './errors.js';
import type { JobRecord, RetryPolicy, RunRecord } from './structures.js';
import { formatDateTime, toInstant } from './timezone.js';
import {
  boolean,
  displayName,
  duration,
  identifier,
  integer,
  optionsObject,
  rejectUnknownKeys,
} from './validate.js';
import type { Trigger } from '../triggers/trigger.js';
import type { ConflictPolicy } from '../stores/store.js';

/**
 * Per-job policy. Every duration is in milliseconds. Semantics after APScheduler 3's job options.
 */
export interface JobPolicy {
  /**
   * How many runs of the job may be going at once (pending or running), across every process sharing the
   * store. A fire time that comes due while that many are going is skipped with a `job:max-instances`
   * event and a warning (APScheduler's `max_instances`); a backlog's queued runs count too (see
   * {@link JobPolicy.coalesce}). An integer from 1 to 2,147,483,647.
   * @defaultValue 1
   */
  maxInstances?: number;
  /**
   * How late, in milliseconds, a run may start after its fire time and still run; a later one is recorded as
   * `missed` with a `job:missed` event and a warning. `null` = no limit.
   *
   * The default is `null`, not APScheduler's 1 s: a 1 s window silently drops runs whenever the process is
   * busy, paused by a debugger or restarted, which is that library's most reported confusion. A late run is
   * almost always better than a silently missing one, and with `coalesce` on (the default) a backlog after
   * downtime collapses to one run. Set a limit for jobs whose late run would do harm (a "09:00 reminder"
   * that must not arrive at 15:00).
   * @defaultValue null
   */
  misfireGraceTime?: number | null;
  /**
   * When several fire times are due at once (after downtime or a stall), run once, for the latest, instead
   * of once for each (APScheduler's `coalesce`, Quartz's "fire once now" misfire instruction). With `false`,
   * each owed fire time is a run of its own: as many as there are free `maxInstances` slots start at once,
   * and the others wait (queued, `pending`) until every earlier run of the job has finished, so with the
   * default of 1 they run one after another, as APScheduler 3 runs a backlog in one instance. A queued run
   * is still subject to `misfireGraceTime` when its turn comes; with no free slot at all, the backlog is
   * skipped.
   * @defaultValue true
   */
  coalesce?: boolean;
  /**
   * Maximum random delay in milliseconds added to each run's start, to spread load; fire times themselves
   * (and so idempotency keys) stay on the trigger's grid. `null` = the trigger's `jitter`, or none.
   * @defaultValue null
   */
  jitter?: number | null;
  /**
   * Run timeout in milliseconds: when it passes, the run's `AbortSignal` fires, the run is recorded as
   * `timed-out` and stops counting against `maxInstances` (even if the task ignores the signal). `null` = none.
   * @defaultValue null
   */
  timeout?: number | null;
  /**
   * Retries of a failed, timed-out or abandoned run: a number of attempts in all (`3`: `{ attempts: 3,
   * backoff: 'fixed', delay: 1000, jitter: false }`), or a policy whose missing fields default to `backoff:
   * 'exponential'`, `delay: 1000` (ms), `maxDelay: max(delay, 300000)` (ms), and `jitter: true` with
   * exponential backoff, `false` with fixed (a fixed delay is what it says). `null` = no retries.
   * @defaultValue null
   */
  retry?: number | Partial<RetryPolicy> | null;
}

/** Options of `Scheduler.addJob`. */
export interface JobOptions extends JobPolicy {
  /** Unique id. @defaultValue a random UUID */
  id?: string;
  /** Name shown in logs and the API. @defaultValue the task id */
  name?: string;
  /** Positional arguments for the task (JSON values with a persistent store). @defaultValue [] */
  args?: unknown[];
  /**
   * First fire time, instead of the trigger's; `null` adds the job paused (APScheduler's `next_run_time`).
   * A `replaceExisting` add over a stored job with the same trigger keeps the stored next fire time (the
   * backlog owed since it is not erased), even when this is given: set it with `modifyJob` instead.
   */
  nextRunTime?: Date | number | string | null;
  /** Add the job paused. @defaultValue false */
  paused?: boolean;
  /**
   * Replace a job with the same id (APScheduler's `replace_existing`); when its trigger is unchanged, its
   * `nextRunTime` is kept so fire times owed since the last run are not erased. Same as `conflict: 'replace'`.
   * @defaultValue false
   */
  replaceExisting?: boolean;
  /** What to do when the id exists: `error` (default), `replace`, or `keep` the stored job. */
  conflict?: ConflictPolicy;
  /** Task id for a function argument. @defaultValue the function's name */
  taskId?: string;
}

/** The keys of {@link JobOptions}; in the shorthand form, every other key goes to the trigger. */
export const JOB_OPTION_KEYS = [
  'id',
  'name',
  'args',
  'maxInstances',
  'misfireGraceTime',
  'coalesce',
  'jitter',
  'timeout',
  'retry',
  'nextRunTime',
  'paused',
  'replaceExisting',
  'conflict',
  'taskId',
] as const;

/** Keys of {@link JobPolicy}. */
export const JOB_POLICY_KEYS = [
  'maxInstances',
  'misfireGraceTime',
  'coalesce',
  'jitter',
  'timeout',
  'retry',
] as const;

/** Resolved policy with every default filled in. */
export type ResolvedPolicy = Pick<
  JobRecord,
  'maxInstances' | 'misfireGraceTime' | 'coalesce' | 'jitter' | 'timeout' | 'retry'
>;

/** The built-in defaults of {@link JobPolicy}. */
export const DEFAULT_POLICY: Readonly<ResolvedPolicy> = Object.freeze({
  maxInstances: 1,
  misfireGraceTime: null,
  coalesce: true,
  jitter: null,
  timeout: null,
  retry: null,
});

/** Validates the policy keys present in `opts` (prefixing field names with `prefix`). */
export function validatePolicy(opts: Record<string, unknown>, prefix = ''): Partial<ResolvedPolicy> {
  const out: Partial<ResolvedPolicy> = {};
  if (opts.maxInstances !== undefined) {
    out.maxInstances = integer(opts.maxInstances, prefix + 'maxInstances', 1);
    // PostgreSQL's integer (checked apart, so the usual message stays "an integer >= 1")
    if (out.maxInstances > 2_147_483_647)
      throw invalidOption(prefix + 'maxInstances', 'an integer <= 2147483647', out.maxInstances);
  }
  if (opts.misfireGraceTime !== undefined) {
    out.misfireGraceTime =
      opts.misfireGraceTime === null ? null : duration(opts.misfireGraceTime, prefix + 'misfireGraceTime');
  }
  if (opts.coalesce !== undefined) out.coalesce = boolean(opts.coalesce, prefix + 'coalesce');
  if (opts.jitter !== undefined)
    out.jitter = opts.jitter === null ? null : duration(opts.jitter, prefix + 'jitter');
  if (opts.timeout !== undefined) {
    out.timeout = opts.timeout === null ? null : duration(opts.timeout, prefix + 'timeout', 1);
  }
  if (opts.retry !== undefined) out.retry = validateRetry(opts.retry, prefix + 'retry');
  return out;
}

function validateRetry(value: unknown, field: string): RetryPolicy | null {
  if (value === null) return null;
  if (typeof value === 'number') {
    return {
      attempts: integer(value, field, 1, 1000),
      backoff: 'fixed',
      delay: 1000,
      maxDelay: 1000,
      jitter: false,
    };
  }
  const o = optionsObject(value, field);
  rejectUnknownKeys(o, ['attempts', 'backoff', 'delay', 'maxDelay', 'jitter'], field + '.');
  const backoff = o.backoff ?? 'exponential';
  if (backoff !== 'fixed' && backoff !== 'exponential') {
    throw invalidOption(field + '.backoff', '"fixed" or "exponential"', backoff);
  }
  const delay = o.delay === undefined ? 1000 : duration(o.delay, field + '.delay');
  return {
    attempts: integer(o.attempts ?? 3, field + '.attempts', 1, 1000),
    backoff,
    delay,
    maxDelay: o.maxDelay === undefined ? Math.max(delay, 300_000) : duration(o.maxDelay, field + '.maxDelay'),
    // Full jitter spreads exponential retries; a fixed delay stays fixed unless asked.
    jitter: o.jitter === undefined ? backoff === 'exponential' : boolean(o.jitter, field + '.jitter'),
  };
}

/** Delay in ms before retry number `attempt` (1 = the first retry), per `policy`. */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number): number {
  const base = policy.backoff === 'fixed' ? policy.delay : policy.delay * 2 ** Math.max(0, attempt - 1);
  const capped = Math.min(base, policy.maxDelay);
  return policy.jitter ? Math.floor(random() * capped) : capped;
}

/** Validated non-policy job options. */
export interface ResolvedJobOptions {
  id?: string;
  name?: string;
  args: unknown[];
  nextRunTime?: Date | null;
  paused: boolean;
  conflict: ConflictPolicy;
  taskId?: string;
  policy: Partial<ResolvedPolicy>;
}

/** Validates `addJob` options. `timezone` reads a local `nextRunTime`. */
export function validateJobOptions(options: Record<string, unknown>, timezone: string): ResolvedJobOptions {
  rejectUnknownKeys(options, JOB_OPTION_KEYS);
  const out: ResolvedJobOptions = {
    args: [],
    paused: options.paused === undefined ? false : boolean(options.paused, 'paused'),
    conflict: 'error',
    policy: validatePolicy(options),
  };
  if (options.id !== undefined) out.id = identifier(options.id, 'id');
  if (options.name !== undefined) out.name = displayName(options.name, 'name');
  if (options.taskId !== undefined) out.taskId = identifier(options.taskId, 'taskId');
  if (options.args !== undefined) {
    if (!Array.isArray(options.args)) throw invalidOption('args', 'an array', options.args);
    out.args = options.args;
  }
  if (options.nextRunTime !== undefined) {
    out.nextRunTime =
      options.nextRunTime === null ? null : toInstant(options.nextRunTime, 'nextRunTime', timezone);
  }
  if (options.replaceExisting !== undefined && boolean(options.replaceExisting, 'replaceExisting')) {
    out.conflict = 'replace';
  }
  if (options.conflict !== undefined) {
    if (options.conflict !== 'error' && options.conflict !== 'replace' && options.conflict !== 'keep') {
      throw invalidOption('conflict', '"error", "replace" or "keep"', options.conflict);
    }
    if (options.replaceExisting === true && options.conflict !== 'replace') {
      throw new TickworkError(
        'INVALID_OPTION',
        'Give either `replaceExisting: true` or `conflict`, not both',
        {
          field: 'conflict',
          value: options.conflict,
        },
      );
    }
    out.conflict = options.conflict;
  }
  return out;
}

/** Operations a {@link Job} handle delegates to its scheduler. */
export interface JobOwner {
  readonly timezone: string;
  pauseJob(id: string): Promise<Job>;
  resumeJob(id: string): Promise<Job | null>;
  removeJob(id: string): Promise<void>;
  modifyJob(id: string, changes: JobChanges): Promise<Job>;
  rescheduleJob(id: string, trigger: Trigger): Promise<Job>;
  runJob(id: string): Promise<RunRecord>;
}

/** Changes accepted by `modifyJob`: options, and a new `trigger` written with them (all or nothing). */
export type JobChanges = Omit<JobOptions, 'id' | 'replaceExisting' | 'conflict' | 'paused'> & {
  trigger?: Trigger;
};

/**
 * A snapshot of a stored job, with methods that act on it through its scheduler. Read it again
 * (`scheduler.getJob(id)`) to see later changes.
 */
export class Job {
  /** The job's id. */
  readonly id: string;
  /** The name shown in logs and the API. */
  readonly name: string;
  /** The id of the task it runs. */
  readonly taskId: string;
  /** Its trigger. */
  readonly trigger: Trigger;
  /** The task's positional arguments. */
  readonly args: readonly unknown[];
  /** See {@link JobPolicy.maxInstances}. */
  readonly maxInstances: number;
  /** In ms, or `null` for no limit; see {@link JobPolicy.misfireGraceTime}. */
  readonly misfireGraceTime: number | null;
  /** See {@link JobPolicy.coalesce}. */
  readonly coalesce: boolean;
  /** In ms, or `null`; see {@link JobPolicy.jitter}. */
  readonly jitter: number | null;
  /** In ms, or `null`; see {@link JobPolicy.timeout}. */
  readonly timeout: number | null;
  /** The resolved retry policy (delays in ms), or `null`; see {@link JobPolicy.retry}. */
  readonly retry: RetryPolicy | null;
  /** Whether the job is paused (not fired until resumed); see `quarantine` for a pause of the scheduler's own. */
  readonly paused: boolean;
  /** Next fire time; `null` when paused. */
  readonly nextRunTime: Date | null;
  /**
   * Why the scheduler paused the job because it could not plan it (quarantined: a stored row that cannot be
   * read, a trigger that threw), or `null`. Unlike an operator's pause, a quarantine ends with a
   * `replaceExisting` add of the job (the next boot's definition) as well as with `resumeJob`/`pauseJob`.
   */
  readonly quarantine: string | null;
  /** Stored version (incremented on every change). */
  readonly version: number;
  /** Whether the job is waiting for the scheduler to start (APScheduler's "pending"). */
  readonly pending: boolean;

  constructor(
    private readonly owner: JobOwner,
    record: JobRecord,
    trigger: Trigger,
    pending = false,
  ) {
    this.id = record.id;
    this.name = record.name;
    this.taskId = record.taskId;
    this.trigger = trigger;
    this.args = record.args;
    this.maxInstances = record.maxInstances;
    this.misfireGraceTime = record.misfireGraceTime;
    this.coalesce = record.coalesce;
    this.jitter = record.jitter;
    this.timeout = record.timeout;
    this.retry = record.retry;
    this.paused = record.paused;
    this.nextRunTime = record.nextRunTime;
    this.quarantine = record.quarantine;
    this.version = record.version;
    this.pending = pending;
  }

  /** Pauses the job. @throws as `Scheduler.pauseJob` (rejects with `JOB_NOT_FOUND`). */
  pause(): Promise<Job> {
    return this.owner.pauseJob(this.id);
  }
  /**
   * Resumes the job; resolves to `null` if its trigger has no more fire times (the job is then removed).
   * @throws as `Scheduler.resumeJob` (rejects with `JOB_NOT_FOUND`, `JOB_UNREADABLE`, `JOB_VERSION_CONFLICT`).
   */
  resume(): Promise<Job | null> {
    return this.owner.resumeJob(this.id);
  }
  /** Removes the job. @throws as `Scheduler.removeJob` (rejects with `JOB_NOT_FOUND`). */
  remove(): Promise<void> {
    return this.owner.removeJob(this.id);
  }
  /** Changes options of the job. @throws as `Scheduler.modifyJob`. */
  modify(changes: JobChanges): Promise<Job> {
    return this.owner.modifyJob(this.id, changes);
  }
  /** Replaces the trigger. @throws as `Scheduler.rescheduleJob`. */
  reschedule(trigger: Trigger): Promise<Job> {
    return this.owner.rescheduleJob(this.id, trigger);
  }
  /**
   * Runs the job now, outside its schedule (still counted against `maxInstances`).
   * @throws as `Scheduler.runJob` (rejects with `JOB_NOT_FOUND`, `SCHEDULER_NOT_RUNNING`).
   */
  runNow(): Promise<RunRecord> {
    return this.owner.runJob(this.id);
  }

  /**
   * APScheduler's `Job.__str__`: `tick (trigger: interval[0:00:01], next run at: 2024-04-25 07:37:48 UTC)`,
   * or `..., paused)` / `..., pending)`.
   */
  toString(): string {
    return describeJob(this.name, this.trigger, this.nextRunTime, this.owner.timezone, this.pending);
  }

  /** Plain JSON. */
  toJSON(): Record<string, unknown> {
    return {
      id: this.id,
      name: this.name,
      taskId: this.taskId,
      trigger: this.trigger.toJSON(),
      triggerText: this.trigger.toString(),
      description: this.trigger.describe(),
      args: this.args,
      maxInstances: this.maxInstances,
      misfireGraceTime: this.misfireGraceTime,
      coalesce: this.coalesce,
      jitter: this.jitter,
      timeout: this.timeout,
      retry: this.retry,
      paused: this.paused,
      nextRunTime: this.nextRunTime?.toISOString() ?? null,
      quarantine: this.quarantine,
      version: this.version,
    };
  }
}

/** `NAME (trigger: TRIGGER, next run at: TIME)` as APScheduler prints a job. */
export function describeJob(
  name: string,
  trigger: Trigger | string,
  nextRunTime: Date | null,
  timezone: string,
  pending = false,
): string {
  const status = pending
    ? 'pending'
    : nextRunTime
      ? `next run at: ${formatDateTime(nextRunTime, timezone)}`
      : 'paused';
  return `${name} (trigger: ${String(trigger)}, ${status})`;
}

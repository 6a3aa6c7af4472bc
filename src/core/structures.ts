/**
 * The records the scheduler and the stores exchange. Plain data: no functions, no trigger objects, so they
 * can be stored anywhere and cross processes.
 * @module
 */
import type { TriggerJSON } from '../triggers/trigger.js';

/**
 * What became of one run.
 *
 * - `pending`: created for a fire time, not yet started (waiting for its jitter delay or a free slot).
 * - `running`: started by a process that holds its lease.
 * - `succeeded`, `failed`: the task returned or threw.
 * - `timed-out`: the run's `timeout` passed; its `AbortSignal` fired.
 * - `missed`: the fire time was later than the misfire grace time allowed; the task did not run.
 * - `skipped`: `maxInstances` runs of the job were still going; the task did not run.
 * - `abandoned`: the process running it died or lost its lease.
 * - `cancelled`: the scheduler shut down or the job was removed before it started.
 */
export type RunStatus =
  | 'pending'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'timed-out'
  | 'missed'
  | 'skipped'
  | 'abandoned'
  | 'cancelled';

/** Statuses of a run that still counts against `maxInstances`. */
export const ACTIVE_RUN_STATUSES: readonly RunStatus[] = ['pending', 'running'];

/** Statuses after which nothing more happens to a run. */
export const FINAL_RUN_STATUSES: readonly RunStatus[] = [
  'succeeded',
  'failed',
  'timed-out',
  'missed',
  'skipped',
  'abandoned',
  'cancelled',
];

/**
 * Retry policy of a job: a failed (or timed-out, or abandoned) run is tried again as a new attempt of the
 * same run, after a delay.
 */
export interface RetryPolicy {
  /** Total attempts, the first included (1 = no retry). */
  attempts: number;
  /** `fixed`: every retry waits `delay`; `exponential`: `delay * 2^(attempt-1)`, capped at `maxDelay`. */
  backoff: 'fixed' | 'exponential';
  /** Base delay in milliseconds. */
  delay: number;
  /** Cap on the delay in milliseconds. */
  maxDelay: number;
  /**
   * Whether to randomise each delay (full jitter: uniform in [0, delay)). Given as a policy without it: `true`
   * for exponential backoff, `false` for fixed.
   */
  jitter: boolean;
}

/** A job as stored. */
export interface JobRecord {
  /** Unique id. */
  id: string;
  /** Human-readable name (APScheduler: the function's name by default). */
  name: string;
  /** Id of the task the job runs. */
  taskId: string;
  /** The trigger, serialised. */
  trigger: TriggerJSON;
  /** Positional arguments passed to the task (JSON values for persistent stores). */
  args: unknown[];
  /** Maximum runs of this job going at once (pending or running), across all processes. */
  maxInstances: number;
  /** How late a run may start, in milliseconds, before it is reported missed; `null` = no limit. */
  misfireGraceTime: number | null;
  /** Whether to collapse several due fire times into one run (the latest). */
  coalesce: boolean;
  /** Maximum random delay in milliseconds added to each run's start; `null` = the trigger's, or none. */
  jitter: number | null;
  /** Run timeout in milliseconds; `null` = none. */
  timeout: number | null;
  /** Retry policy; `null` = no retries. */
  retry: RetryPolicy | null;
  /** Paused jobs are not fired; their `nextRunTime` is `null`. */
  paused: boolean;
  /** Next fire time; `null` when paused or when the trigger has no more fire times. */
  nextRunTime: Date | null;
  /**
   * Why the store paused the job because it could not be planned (quarantined: a stored row that cannot be
   * read, a trigger that throws), or `null`. A quarantine is not an operator's pause: a `replaceExisting` add
   * of the job brings it back, and any change that resumes the job clears it.
   */
  quarantine: string | null;
  /** Incremented on every change; used for compare-and-set. */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

/** The error of a failed run, as stored. */
export interface RunError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
}

/** One execution of a job for one scheduled fire time. */
export interface RunRecord {
  id: string;
  jobId: string;
  taskId: string;
  /** The fire time this run is for (or the request time for a manual run). */
  scheduledFireTime: Date;
  /** Earliest start: the fire time plus the jitter delay, or the retry time. */
  notBefore: Date;
  status: RunStatus;
  /** Started by `runJob` (run now), outside the schedule. */
  manual: boolean;
  /** 0 before the first start, then 1, 2, ... for each attempt. */
  attempt: number;
  /** Id of the process holding the lease while `running`, or that held it last; `null` before the first start. */
  owner: string | null;
  /** When the lease ends unless renewed. */
  leaseExpiresAt: Date | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  error: RunError | null;
  /** The task's return value when JSON-serialisable (persistent stores), else `undefined`. */
  result?: unknown;
  createdAt: Date;
}

/** Plain, JSON-friendly view of a run for events and the API. */
export function runToJSON(run: RunRecord): Record<string, unknown> {
  return {
    ...run,
    scheduledFireTime: run.scheduledFireTime.toISOString(),
    notBefore: run.notBefore.toISOString(),
    leaseExpiresAt: run.leaseExpiresAt?.toISOString() ?? null,
    startedAt: run.startedAt?.toISOString() ?? null,
    finishedAt: run.finishedAt?.toISOString() ?? null,
    createdAt: run.createdAt.toISOString(),
  };
}

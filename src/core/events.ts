/**
 * The scheduler's events: a typed map of namespaced names to plain-JSON payloads (they can cross processes).
 * Times are ISO 8601 strings; durations are milliseconds.
 * @module
 */
import type { Logger } from './logger.js';

/** Fields every job event carries. */
export interface JobEventBase {
  jobId: string;
  /** The job's name. */
  name: string;
}

/** Fields every run event carries. */
export interface RunEventBase extends JobEventBase {
  runId: string;
  /** The fire time the run is for, ISO 8601. */
  scheduledFireTime: string;
  attempt: number;
}

/** Error as carried in events. */
export interface EventError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
}

/** Every event and its payload. */
export interface SchedulerEvents {
  'scheduler:started': { nodeId: string; store: string };
  'scheduler:paused': { nodeId: string };
  'scheduler:resumed': { nodeId: string };
  'scheduler:shutdown': { nodeId: string; aborted: number };
  'scheduler:error': { message: string; error: EventError };
  'job:added': JobEventBase & {
    trigger: string;
    nextRunTime: string | null;
    outcome: 'added' | 'replaced' | 'kept' | 'unchanged';
  };
  'job:modified': JobEventBase & { changes: string[]; nextRunTime: string | null };
  'job:removed': JobEventBase;
  'job:paused': JobEventBase;
  'job:resumed': JobEventBase & { nextRunTime: string | null };
  /** A run was handed to the executor. */
  'job:submitted': RunEventBase & { manual: boolean };
  /**
   * A run succeeded. `returnValue` is the task's return value after a JSON round trip (a `Date` becomes its ISO
   * string), or `null` when it is `undefined` or cannot be serialised. Not emitted when the store refused the
   * outcome (the run's lease ran out and it was reaped while the task went on): a warning is logged instead.
   */
  'job:executed': RunEventBase & {
    returnValue: unknown;
    duration: number;
    startedAt: string;
    finishedAt: string;
  };
  /**
   * A run failed or timed out (`status`). Not emitted when the store refused the outcome (as for
   * `job:executed`); the task's error is logged all the same.
   */
  'job:error': RunEventBase & {
    status: 'failed' | 'timed-out';
    error: EventError;
    duration: number;
    willRetry: boolean;
  };
  /** A fire time was later than the misfire grace time allowed; the task did not run. */
  'job:missed': JobEventBase & { scheduledFireTime: string; lateBy: number; misfireGraceTime: number | null };
  /** `maxInstances` runs were going; the fire time was skipped. */
  'job:max-instances': JobEventBase & { scheduledFireTime: string; maxInstances: number; running: number };
  /** A run's lease expired (its process died or stalled). */
  'job:abandoned': RunEventBase & { owner: string | null; willRetry: boolean };
  /** A job could not be planned (unknown task, undecodable trigger) and was paused. */
  'job:quarantined': JobEventBase & { reason: string };
  /**
   * A job fired whose task is not defined in this process. Its runs wait (pending) for a process that has
   * the task; the job is never deleted or run blind. Emitted once per job and process.
   */
  'job:task-missing': JobEventBase & { taskId: string };
}

/** An event name. */
export type SchedulerEventName = keyof SchedulerEvents;

/** Every scheduler event name (`on`, `GET /events?events=`); the type keeps it complete. */
export const EVENT_NAMES: Record<SchedulerEventName, true> = {
  'scheduler:started': true,
  'scheduler:paused': true,
  'scheduler:resumed': true,
  'scheduler:shutdown': true,
  'scheduler:error': true,
  'job:added': true,
  'job:modified': true,
  'job:removed': true,
  'job:paused': true,
  'job:resumed': true,
  'job:submitted': true,
  'job:executed': true,
  'job:error': true,
  'job:missed': true,
  'job:max-instances': true,
  'job:abandoned': true,
  'job:quarantined': true,
  'job:task-missing': true,
};

/** A listener for event `K`. */
export type Listener<K extends SchedulerEventName> = (payload: SchedulerEvents[K]) => unknown;

/**
 * A small typed emitter. A listener that throws (or rejects) is logged and never breaks the scheduler or the
 * other listeners.
 */
export class EventHub {
  private readonly listeners = new Map<
    SchedulerEventName | '*',
    Set<(payload: never, name: never) => unknown>
  >();

  constructor(private readonly logger: () => Logger) {}

  /** Adds a listener; returns a function that removes it. */
  on<K extends SchedulerEventName>(name: K, listener: Listener<K>): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener as (payload: never, name: never) => unknown);
    return () => this.off(name, listener);
  }

  /** Adds a listener called once. */
  once<K extends SchedulerEventName>(name: K, listener: Listener<K>): () => void {
    const off = this.on(name, (payload) => {
      off();
      return listener(payload);
    });
    return off;
  }

  /** Listens to every event: `(payload, name)`. */
  onAny(
    listener: <K extends SchedulerEventName>(payload: SchedulerEvents[K], name: K) => unknown,
  ): () => void {
    let set = this.listeners.get('*');
    if (!set) this.listeners.set('*', (set = new Set()));
    set.add(listener as (payload: never, name: never) => unknown);
    return () => set.delete(listener as (payload: never, name: never) => unknown);
  }

  /** Removes a listener. */
  off<K extends SchedulerEventName>(name: K, listener: Listener<K>): void {
    this.listeners.get(name)?.delete(listener as (payload: never, name: never) => unknown);
  }

  /** Whether anybody listens to `name`. */
  has(name: SchedulerEventName): boolean {
    return (this.listeners.get(name)?.size ?? 0) > 0 || (this.listeners.get('*')?.size ?? 0) > 0;
  }

  /** Calls the listeners of `name` synchronously, in order of registration. */
  emit<K extends SchedulerEventName>(name: K, payload: SchedulerEvents[K]): void {
    for (const key of [name, '*'] as const) {
      const set = this.listeners.get(key);
      if (!set) continue;
      for (const l of [...set]) {
        try {
          const r = (l as (p: SchedulerEvents[K], n: K) => unknown)(payload, name);
          if (r && typeof (r as Promise<unknown>).then === 'function') {
            (r as Promise<unknown>).then(undefined, (err: unknown) => this.report(name, err));
          }
        } catch (err) {
          this.report(name, err);
        }
      }
    }
  }

  private report(name: string, err: unknown): void {
    try {
      this.logger().error({ err, event: name }, `A listener of event "${name}" threw`);
    } catch {
      // A logger that throws too: the listener's error is dropped, but it must not reach the emitter (a run
      // whose `job:submitted` listener threw would never be started nor recorded).
    }
  }
}

/** An error as a plain object for events and run records. */
export function errorToJSON(err: unknown): EventError {
  // Whatever a task rejects with (a circular object, a BigInt, an Error whose getters throw), this must
  // not throw: the run has to be recorded.
  const text = (read: () => unknown, fallback: string): string => {
    try {
      const v = read();
      return typeof v === 'string' ? v : v === undefined ? fallback : String(v);
    } catch {
      return fallback;
    }
  };
  try {
    if (err instanceof Error) {
      const out: EventError = { name: text(() => err.name, 'Error'), message: text(() => err.message, '') };
      const stack = text(() => err.stack, '');
      if (stack) out.stack = stack;
      const code = text(() => (err as { code?: unknown }).code, '');
      if (code && typeof (err as { code?: unknown }).code === 'string') out.code = code;
      return out;
    }
    if (typeof err === 'string') return { name: 'Error', message: err };
    let message: string;
    try {
      message = JSON.stringify(err) ?? String(err);
    } catch {
      message = text(() => String(err), Object.prototype.toString.call(err));
    }
    return { name: 'Error', message };
  } catch {
    return { name: 'Error', message: 'unreadable error value' };
  }
}

/**
 * The one source of "now" and of timers. The scheduler never calls `Date.now()` or `setTimeout` itself.
 * @module
 */

/** An armed timer; pass it back to {@link Clock.clearTimeout}. */
export interface TimerHandle {
  /** The clock time (epoch ms) at which the timer was armed to fire. */
  readonly dueAt: number;
}

/**
 * Where the scheduler reads the time and arms its timers.
 *
 * `setTimeout` callbacks may return a promise; {@link ManualClock} (in `tickwork/testing`) awaits it before
 * reporting the advance done, so tests can await the work a timer causes.
 */
export interface Clock {
  /** Current time in epoch milliseconds. */
  now(): number;
  /** Calls `callback` after `delayMs` milliseconds (clamped to >= 0). */
  setTimeout(callback: () => unknown, delayMs: number): TimerHandle;
  /** Cancels a timer; a no-op for a timer that fired or was cleared. */
  clearTimeout(handle: TimerHandle): void;
  /** Resolves after `delayMs` milliseconds of this clock's time, or rejects when `signal` aborts. */
  sleep(delayMs: number, signal?: AbortSignal): Promise<void>;
}

/**
 * The largest delay Node's `setTimeout` accepts; longer delays overflow and fire at once. The scheduler
 * never arms a timer longer than its own (much smaller) cap anyway.
 */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

class SystemTimer implements TimerHandle {
  constructor(
    readonly dueAt: number,
    readonly timeout: NodeJS.Timeout,
  ) {}
}

/** The real clock: `Date.now()` and Node's timers (each delay capped at {@link MAX_TIMER_DELAY}). */
export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }

  setTimeout(callback: () => unknown, delayMs: number): TimerHandle {
    const delay = Math.min(Math.max(0, delayMs), MAX_TIMER_DELAY);
    const t = setTimeout(() => {
      void callback();
    }, delay);
    return new SystemTimer(Date.now() + delay, t);
  }

  clearTimeout(handle: TimerHandle): void {
    if (handle instanceof SystemTimer) clearTimeout(handle.timeout);
  }

  sleep(delayMs: number, signal?: AbortSignal): Promise<void> {
    return sleepWith(this, delayMs, signal);
  }
}

/** `Clock.sleep` built on a clock's own timers. */
export function sleepWith(clock: Clock, delayMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clock.clearTimeout(handle);
      reject(signal!.reason);
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, delayMs);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

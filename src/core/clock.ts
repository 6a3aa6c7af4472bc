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
  /**
   * Calls `callback` after `delayMs` milliseconds (clamped to >= 0). With `precise`, the clock tries to call
   * it within the millisecond the delay ends in, rather than a millisecond or two later as Node's timers do.
   */
  setTimeout(callback: () => unknown, delayMs: number, options?: { precise?: boolean }): TimerHandle;
  /** Cancels a timer; a no-op for a timer that fired or was cleared. */
  clearTimeout(handle: TimerHandle): void;
  /** Resolves after `delayMs` milliseconds of this clock's time, or rejects when `signal` aborts. */
  sleep(delayMs: number, signal?: AbortSignal): Promise<void>;
  /**
   * Optional: calls `listener` when the wall clock steps against the elapsed time (NTP, a manual change, the
   * host resuming from suspend), with the size of the step in ms (negative: back). Returns a function that
   * removes the listener. The scheduler listens while running and wakes its loop at a step, so the fire
   * times a step forward makes due fire now; a clock without it has them noticed at the loop's next wake-up
   * (at most `maxWakeInterval` later), as armed timers count elapsed time.
   */
  onStep?(listener: (stepMs: number) => void): () => void;
}

/**
 * The largest delay Node's `setTimeout` accepts; longer delays overflow and fire at once. The scheduler
 * never arms a timer longer than its own (much smaller) cap anyway.
 */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

class SystemTimer implements TimerHandle {
  timeout: NodeJS.Timeout | null = null;
  immediate: NodeJS.Immediate | null = null;
  constructor(readonly dueAt: number) {}
}

/**
 * How early a precise timer is armed, in ms. Node's timers fire up to about 2 ms after their due time (libuv
 * keeps its loop time in whole milliseconds and the poll timeout rounds up); arming 3 ms early and polling
 * for the rest covers that.
 */
const PRECISE_MARGIN = 3;
/** Time precise timers may spend waiting out their last {@link PRECISE_MARGIN} ms: at most this many ms per second. */
const POLL_BUDGET_PER_SECOND = 20;
/** The longest the event loop is held by one sleep of a precise timer, in ms. */
const WAIT_SLICE = 0.5;
/** What `Atomics.wait` sleeps on (nothing ever notifies it: each wait runs to its timeout). */
const sleeper = new Int32Array(new SharedArrayBuffer(4));
/**
 * How far `Date.now()` may stray from the elapsed (monotonic) time before a timer takes it for a step of the
 * wall clock, in ms: this plus {@link DRIFT_ALLOWANCE} of the time elapsed (far more than clocks drift or
 * are slewed, far less than any step worth the name). Within it, the wall clock decides when a timer is due.
 */
const STEP_TOLERANCE = 5;
/**
 * How fast the wall clock may run apart from the elapsed time without being taken for a step, in ms per ms
 * elapsed: 10 ms per second. NTP slews a clock by at most 0.5 ms per second, but the wall clock of a virtual
 * machine has been seen running 5 ms per second ahead of its monotonic clock for minutes.
 */
const DRIFT_ALLOWANCE = 0.01;
/** How often {@link SystemClock.onStep} compares the wall clock with the elapsed time, in ms. */
const STEP_CHECK_INTERVAL = 1000;

/**
 * `Date.now()` minus `performance.now()`, in ms. The wall clock's read is bracketed by two reads of the
 * elapsed time and the offset taken from their midpoint, so that a pause between the reads (the thread
 * descheduled on a loaded machine, a garbage collection) does not pass for a step of the wall clock: a
 * bracket wider than 1 ms is read again, up to 5 times, and the narrowest one is used (its error is at most
 * half its width).
 */
function wallOffset(): number {
  let width = Infinity;
  let offset = 0;
  for (let i = 0; i < 5 && width > 1; i++) {
    const before = performance.now();
    const wall = Date.now();
    const after = performance.now();
    if (after - before < width) {
      width = after - before;
      offset = wall - (before + after) / 2;
    }
  }
  return offset;
}

/**
 * The real clock: `Date.now()` and Node's timers (each delay capped at {@link MAX_TIMER_DELAY}).
 *
 * A `precise` timer is armed {@link PRECISE_MARGIN} ms early and then waits out the rest in slices of at most
 * {@link WAIT_SLICE} ms: each slice sleeps in `Atomics.wait` (no CPU spent, no garbage made) until the due time
 * read from the sub-millisecond clock, then yields to the event loop with `setImmediate` (I/O still runs
 * between slices), until `Date.now()` reaches the due time. The callback so runs within about 0.1 ms of its due
 * millisecond rather than one or two ms later, and the event loop is never held for more than one slice.
 * Precise waiting is budgeted: at most 20 ms of it per second, so a process that wakes hundreds of times a
 * second falls back to plain timers; only the scheduler's wake-up timer asks for precision.
 *
 * Delays are elapsed time, as with Node's own timers: a step of the wall clock (NTP, a manual change) moves
 * `now()` but neither holds an armed timer for the size of a step back nor runs it early after a step forward.
 */
export class SystemClock implements Clock {
  /** Polling time still allowed (ms), refilled at {@link POLL_BUDGET_PER_SECOND} per second. */
  private budget = POLL_BUDGET_PER_SECOND;
  private budgetAt = performance.now();
  private readonly stepListeners = new Set<(stepMs: number) => void>();
  private stepCheck: NodeJS.Timeout | null = null;
  /** `Date.now()` minus `performance.now()` at the last check for a step. */
  private stepBase = 0;

  /**
   * Listens for steps of the wall clock: while a listener is registered, the clock compares `Date.now()`
   * with the elapsed time every {@link STEP_CHECK_INTERVAL} ms (an unreferenced timer: it never keeps the
   * process alive) and reports a difference since the last check of more than {@link STEP_TOLERANCE} ms
   * plus {@link DRIFT_ALLOWANCE} of the time elapsed (15 ms a second): a clock that drifts or is slewed
   * (NTP: at most 0.5 ms a second) never reads as a step.
   */
  onStep(listener: (stepMs: number) => void): () => void {
    this.stepListeners.add(listener);
    if (this.stepCheck === null) {
      this.stepBase = wallOffset();
      let checkedAt = performance.now();
      this.stepCheck = setInterval(() => {
        const base = wallOffset();
        const step = base - this.stepBase;
        const at = performance.now();
        const tolerance = STEP_TOLERANCE + (at - checkedAt) * DRIFT_ALLOWANCE;
        this.stepBase = base;
        checkedAt = at;
        if (Math.abs(step) <= tolerance) return;
        for (const l of [...this.stepListeners]) {
          try {
            l(step);
          } catch {
            // A listener's failure is its own; the others are still told.
          }
        }
      }, STEP_CHECK_INTERVAL);
      this.stepCheck.unref();
    }
    return () => {
      this.stepListeners.delete(listener);
      if (this.stepListeners.size === 0 && this.stepCheck !== null) {
        clearInterval(this.stepCheck);
        this.stepCheck = null;
      }
    };
  }

  now(): number {
    return Date.now();
  }

  setTimeout(callback: () => unknown, delayMs: number, options?: { precise?: boolean }): TimerHandle {
    const delay = Math.min(Math.max(0, delayMs), MAX_TIMER_DELAY);
    const timer = new SystemTimer(Date.now() + delay);
    const monoDue = performance.now() + delay;
    // The wall clock may run up to DRIFT_ALLOWANCE ahead of the elapsed time: the first look comes that much
    // before the delay has elapsed, and what is left then is waited out by the wall clock (see remaining).
    const early = delay * DRIFT_ALLOWANCE;
    const tolerance = STEP_TOLERANCE + early;
    /**
     * What is left of the delay, in ms: until `Date.now()` reaches the due time (so a callback never runs
     * before the millisecond it is due), unless the wall clock stepped since the timer was armed (it strays
     * from the elapsed time by more than the tolerance): then the elapsed (monotonic) time decides, so that a
     * step neither holds the timer for the size of a step back nor runs it early after a step forward.
     * `precise` (for sleeping): a sub-millisecond lower bound of the wall clock's part. `Date.now()` was read
     * whole at arming, up to 1 ms behind the true time, so the wall clock reaches the due time at most 1 ms
     * before `monoDue`: sleeping until then never oversleeps it and leaves at most 1 ms to poll. (Not
     * `performance.timeOrigin + performance.now()`: that origin is read once at process start and may stray
     * from `Date.now()` by several ms for the life of a busy process.)
     */
    const remaining = (precise = false): number => {
      const mono = monoDue - performance.now();
      const wall = timer.dueAt - Date.now();
      if (Math.abs(wall - mono) > tolerance) return mono;
      return precise ? Math.min(wall, mono - 1) : wall;
    };
    if (!options?.precise || delay <= 0 || !this.mayPoll()) {
      // Node's timers count whole milliseconds of the loop's cached time: one can fire up to a
      // millisecond or so before the delay has elapsed. Such an early call waits out the rest.
      const fire = (): void => {
        const left = remaining();
        if (left > 0) timer.timeout = setTimeout(fire, left);
        else {
          timer.timeout = null;
          void callback();
        }
      };
      timer.timeout = setTimeout(fire, delay - early);
      return timer;
    }
    let pollStart = 0;
    const check = (): void => {
      timer.timeout = null;
      timer.immediate = null;
      const left = remaining();
      if (left > PRECISE_MARGIN) {
        timer.timeout = setTimeout(check, left - PRECISE_MARGIN);
        return;
      }
      const t = performance.now();
      if (pollStart === 0) pollStart = t;
      if (left > 0) {
        const sleep = Math.min(WAIT_SLICE, remaining(true));
        if (sleep > 0) Atomics.wait(sleeper, 0, 0, sleep);
        if (remaining() > 0) {
          timer.immediate = setImmediate(check);
          return;
        }
      }
      this.budget -= performance.now() - pollStart;
      void callback();
    };
    const first = delay - PRECISE_MARGIN - early;
    if (first <= 0) timer.immediate = setImmediate(check);
    else timer.timeout = setTimeout(check, first);
    return timer;
  }

  /** Refills the polling budget for the time elapsed; whether a precise timer may poll now. */
  private mayPoll(): boolean {
    const t = performance.now();
    this.budget = Math.min(
      POLL_BUDGET_PER_SECOND,
      this.budget + ((t - this.budgetAt) * POLL_BUDGET_PER_SECOND) / 1000,
    );
    this.budgetAt = t;
    return this.budget >= PRECISE_MARGIN;
  }

  clearTimeout(handle: TimerHandle): void {
    if (handle instanceof SystemTimer) {
      if (handle.timeout) clearTimeout(handle.timeout);
      if (handle.immediate) clearImmediate(handle.immediate);
      handle.timeout = null;
      handle.immediate = null;
    }
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

class ChainedTimer implements TimerHandle {
  inner: TimerHandle | null = null;
  cancelled = false;
  constructor(readonly dueAt: number) {}
}

/**
 * Timers of any length built from timers of at most `cap` ms on `clock`, counted in elapsed time (a wall-clock
 * step does not move them). The scheduler arms every timer through one of these, so none is longer than its
 * `maxWakeInterval` and a long run timeout cannot overflow Node's 2^31-1 ms limit and fire at once.
 */
export class CappedTimers {
  constructor(
    private readonly clock: Clock,
    private readonly cap: number,
  ) {}

  setTimeout(callback: () => unknown, delayMs: number): TimerHandle {
    const total = Math.max(0, Number.isFinite(delayMs) ? delayMs : 0);
    const timer = new ChainedTimer(this.clock.now() + total);
    const arm = (remaining: number): void => {
      const step = Math.min(remaining, this.cap);
      timer.inner = this.clock.setTimeout(() => {
        timer.inner = null;
        if (timer.cancelled) return undefined;
        if (remaining > step) return arm(remaining - step);
        return callback();
      }, step);
    };
    arm(total);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    if (!(handle instanceof ChainedTimer)) return;
    handle.cancelled = true;
    if (handle.inner) this.clock.clearTimeout(handle.inner);
    handle.inner = null;
  }
}

class SkewedTimer implements TimerHandle {
  constructor(
    readonly inner: TimerHandle,
    readonly dueAt: number,
  ) {}
}

/**
 * A clock whose `now()` is another clock's plus a fixed `skew` in ms (timers unchanged, as delays are
 * elapsed time): a machine whose wall clock is wrong. For tests and the chaos harness; with a store that has
 * a clock of its own (PostgreSQL) such a node must still never fire early or twice.
 */
export class SkewedClock implements Clock {
  constructor(
    readonly skew: number,
    private readonly base: Clock = new SystemClock(),
  ) {}

  now(): number {
    return this.base.now() + this.skew;
  }

  setTimeout(callback: () => unknown, delayMs: number, options?: { precise?: boolean }): TimerHandle {
    const inner = this.base.setTimeout(callback, delayMs, options);
    return new SkewedTimer(inner, inner.dueAt + this.skew);
  }

  clearTimeout(handle: TimerHandle): void {
    if (handle instanceof SkewedTimer) this.base.clearTimeout(handle.inner);
  }

  sleep(delayMs: number, signal?: AbortSignal): Promise<void> {
    return sleepWith(this, delayMs, signal);
  }
}

/**
 * A clock driven by hand, for tests: time stands still until {@link ManualClock.advance} moves it.
 * Exported from `tickwork/testing`.
 * @module
 */
import { sleepWith, type Clock, type TimerHandle } from './clock.js';
import { instant } from './validate.js';

interface ManualTimer extends TimerHandle {
  readonly seq: number;
  /** Monotonic due time (unaffected by {@link ManualClock.jump}). */
  readonly monoDue: number;
  readonly callback: () => unknown;
}

/** Options of {@link ManualClock}. */
export interface ManualClockOptions {
  /**
   * How many event-loop turns (`setImmediate`) to let pass after each batch of timers, so that the
   * asynchronous work they start (store calls, task bodies up to their next timer) can settle.
   * @defaultValue 25
   */
  settleTurns?: number;
}

/**
 * A {@link Clock} whose time moves only when told.
 *
 * - `advance(ms)` fires every timer that falls due on the way, in due order. Timers due at the same instant
 *   fire together (in the order they were armed) before any of their asynchronous continuations run; then
 *   the promises their callbacks returned are awaited and the event loop is let run for a few turns.
 * - `jump(ms)` moves the wall clock without firing anything: timers keep their elapsed delays, as Node's
 *   timers do when the system clock is changed.
 *
 * @example
 * ```ts
 * const clock = new ManualClock('2024-01-01T00:00:00Z');
 * const scheduler = new Scheduler({ clock });
 * await scheduler.start();
 * await clock.advance(3_000); // runs everything due in the next 3 s of simulated time
 * ```
 */
export class ManualClock implements Clock {
  private mono: number;
  private wallOffset = 0;
  private seq = 0;
  private timers: ManualTimer[] = [];
  private readonly stepListeners = new Set<(stepMs: number) => void>();
  private readonly settleTurns: number;

  /** @param start the initial time: a `Date`, epoch ms or an ISO 8601 string with an offset. */
  constructor(start: Date | number | string = 0, options: ManualClockOptions = {}) {
    this.mono = instant(start, 'start').getTime();
    this.settleTurns = options.settleTurns ?? 25;
  }

  now(): number {
    return this.mono + this.wallOffset;
  }

  /** The current time as a `Date`. */
  date(): Date {
    return new Date(this.now());
  }

  setTimeout(callback: () => unknown, delayMs: number): TimerHandle {
    const monoDue = this.mono + Math.max(0, Number.isFinite(delayMs) ? delayMs : 0);
    const timer: ManualTimer = { seq: this.seq++, monoDue, dueAt: monoDue + this.wallOffset, callback };
    this.timers.push(timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    const i = this.timers.indexOf(handle as ManualTimer);
    if (i >= 0) this.timers.splice(i, 1);
  }

  sleep(delayMs: number, signal?: AbortSignal): Promise<void> {
    return sleepWith(this, delayMs, signal);
  }

  /** Number of armed timers. */
  get pendingTimers(): number {
    return this.timers.length;
  }

  /** The wall time at which the next timer is due, or `null`. */
  nextTimerAt(): number | null {
    let min: number | null = null;
    for (const t of this.timers) if (min === null || t.monoDue < min) min = t.monoDue;
    return min === null ? null : min + this.wallOffset;
  }

  /**
   * Moves time forward by `ms` milliseconds, firing the timers that fall due on the way, and resolves when
   * the work they caused has settled.
   */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`advance() needs a duration >= 0 in ms, got ${ms}`);
    const target = this.mono + ms;
    await this.settle();
    for (;;) {
      let due: number | null = null;
      for (const t of this.timers)
        if (t.monoDue <= target && (due === null || t.monoDue < due)) due = t.monoDue;
      if (due === null) break;
      this.mono = due;
      const batch = this.timers.filter((t) => t.monoDue === due).sort((a, b) => a.seq - b.seq);
      this.timers = this.timers.filter((t) => t.monoDue !== due);
      const results: unknown[] = [];
      for (const t of batch) {
        try {
          results.push(t.callback());
        } catch {
          // A throwing callback is the caller's bug; the clock goes on, as Node's timers would not.
        }
      }
      await Promise.allSettled(results);
      await this.settle();
    }
    this.mono = target;
    await this.settle();
  }

  /** Advances to the given instant (no-op if it is in the past). */
  async advanceTo(to: Date | number | string): Promise<void> {
    const t = instant(to, 'to').getTime();
    await this.advance(Math.max(0, t - this.now()));
  }

  /**
   * Changes the wall clock by `ms` (negative: backwards) without firing timers, like an NTP step or a
   * suspended laptop waking up. Armed timers keep their elapsed delays.
   */
  jump(ms: number): void {
    this.wallOffset += ms;
    if (ms === 0) return;
    for (const l of [...this.stepListeners]) {
      try {
        l(ms);
      } catch {
        // A listener's failure is its own; the others are still told (as `SystemClock` does).
      }
    }
  }

  /**
   * Calls `listener` at each {@link ManualClock.jump} (synchronously, with the jump in ms); a listener that
   * throws neither stops the jump nor the other listeners.
   */
  onStep(listener: (stepMs: number) => void): () => void {
    this.stepListeners.add(listener);
    return () => this.stepListeners.delete(listener);
  }

  /** Lets the event loop turn a few times so pending promise chains and immediates run. */
  async settle(): Promise<void> {
    for (let i = 0; i < this.settleTurns; i++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}

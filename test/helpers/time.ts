import { readFileSync } from 'node:fs';
import { sleepWith, type Clock, type TimerHandle } from '../../src/core/clock.js';

/** Epoch milliseconds of an ISO 8601 string. */
export function at(iso: string): number {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) throw new Error(`bad ISO date ${iso}`);
  return t;
}

/** A reference vector file from `test/vectors/` (verbatim copies of `../shared/vectors/`). */
export function loadVectors<T = Record<string, unknown>>(file: string): T[] {
  const url = new URL(`../vectors/${file}`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as T[];
}

/** One vector by id, failing loudly when it is absent. */
export function vector<T extends { id: string }>(list: T[], id: string): T {
  const found = list.find((c) => c.id === id);
  if (!found) throw new Error(`vector ${id} not found`);
  return found;
}

/**
 * A clock that delegates to another and records the delay of every timer armed through it. With `early`,
 * every timer longer than `2 * early` fires `early` ms before it is due (a platform timer waking early).
 */
export class WrappedClock implements Clock {
  readonly delays: number[] = [];

  constructor(
    private readonly inner: Clock,
    private readonly early = 0,
  ) {}

  now(): number {
    return this.inner.now();
  }

  setTimeout(callback: () => unknown, delayMs: number): TimerHandle {
    this.delays.push(delayMs);
    const d = this.early > 0 && delayMs > 2 * this.early ? delayMs - this.early : delayMs;
    return this.inner.setTimeout(callback, d);
  }

  clearTimeout(handle: TimerHandle): void {
    this.inner.clearTimeout(handle);
  }

  sleep(delayMs: number, signal?: AbortSignal): Promise<void> {
    return sleepWith(this, delayMs, signal);
  }

  /** The longest delay armed so far. */
  get maxDelay(): number {
    return this.delays.reduce((a, b) => Math.max(a, b), 0);
  }
}

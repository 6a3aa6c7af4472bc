// Task modules for the worker-pool tests: each export runs in a worker thread.
import { execSync } from 'node:child_process';
import { parentPort, threadId } from 'node:worker_threads';
import type { TaskContext as Ctx } from '../../src/index.js';

export default async function add(a: number, b: number, ctx: Ctx) {
  return {
    sum: a + b,
    threadId,
    jobId: ctx.jobId,
    runId: ctx.runId,
    scheduledFireTime: ctx.scheduledFireTime instanceof Date ? ctx.scheduledFireTime.toISOString() : null,
    attempt: ctx.attempt,
    idempotencyKey: ctx.idempotencyKey,
    manual: ctx.manual,
    signal: ctx.signal instanceof AbortSignal && !ctx.signal.aborted,
  };
}

export function fails(): never {
  const err = new Error('no thumbnails today') as Error & { code?: string };
  err.name = 'ThumbnailError';
  err.code = 'E_THUMB';
  throw err;
}

/** Returns only when its run is aborted, with the reason it was given. */
export function waits(ctx: Ctx): Promise<never> {
  return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
}

/** CPU-bound and deaf to its signal. */
export function spins(): never {
  for (;;) {
    // never returns
  }
}

/** Busy for `ms` of the thread's time, then returns. */
export function busy(ms: number): string {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // CPU-bound work
  }
  return 'done';
}

export function exits(): void {
  process.exit(3);
}

export function returnsFunction(): () => number {
  return () => 1;
}

export const notAFunction = 42;

/** Allocates until the thread's heap limit ends it. */
export function hog(): never {
  const kept: number[][] = [];
  for (;;) kept.push(new Array(100_000).fill(kept.length));
}

/** Posts messages of its own on the thread's port (progress reports, a library's), then returns. */
export async function postsToParent(): Promise<string> {
  for (const m of [null, undefined, 42, 'progress', { progress: 50 }, { type: 'done' }])
    parentPort!.postMessage(m);
  await new Promise((r) => setTimeout(r, 50));
  return 'ok';
}

/** Returns, and leaves a rejection nobody handles: the thread ends a moment after the run succeeded. */
export function rejectsLater(): string {
  setTimeout(() => void Promise.reject(new Error('late failure')), 20);
  return 'returned';
}

/** Blocked in a system call for `seconds` (a program run synchronously): a terminate waits for it. */
export function blocksInSyscall(seconds: number): string {
  execSync(`sleep ${seconds}`);
  return 'slept';
}

/** Throws what is not an Error. */
export function throwsString(): never {
  throw 'no thumbnails today';
}

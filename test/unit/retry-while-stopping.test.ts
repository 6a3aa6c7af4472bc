// A run that fails while its scheduler is paused or shutting down keeps its retries when the store is
// persistent: the retry is stored `pending`, for this process after resume() or for another process (a
// rolling deploy shuts each process down with runs going; a kill -9 of the same process retried them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IntervalTrigger, Scheduler, silentLogger } from '../../src/index.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';
import type { ManualClock } from '../../src/testing.js';
import { onSqlite } from '../helpers/sqlite.js';
import { at } from '../helpers/time.js';

const T = at('2024-01-01T00:00:00Z');

async function failingJob(scheduler: Scheduler): Promise<{ release: () => void; attempts: number[] }> {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const attempts: number[] = [];
  scheduler.defineTask('flaky', async (ctx: { attempt: number }) => {
    attempts.push(ctx.attempt);
    if (ctx.attempt === 1) await gate;
    throw new Error(`boom ${ctx.attempt}`);
  });
  await scheduler.addJob('flaky', new IntervalTrigger({ hours: 1, startDate: new Date(T) }), {
    id: 'j',
    retry: { attempts: 3, backoff: 'fixed', delay: 1000, jitter: false },
  });
  return { release, attempts };
}

/**
 * Another process on the database file finds job `j`'s run pending at attempt 1 (its error of code
 * `errorCode`, when given) and runs its retry, attempt 2, with task `taskId`, which succeeds 1 s later.
 */
async function retriedElsewhere(
  clock: ManualClock,
  path: string,
  taskId: string,
  why: string,
  errorCode?: string,
): Promise<void> {
  const other = new Scheduler({ clock, store: new SqliteStore({ path }), logger: silentLogger });
  const attempts: number[] = [];
  other.defineTask(taskId, (ctx: { attempt: number }) => void attempts.push(ctx.attempt));
  await other.start({ paused: true });
  const [run] = await other.getRuns({ jobId: 'j' });
  assert.equal(run!.status, 'pending', why);
  assert.equal(run!.attempt, 1);
  if (errorCode !== undefined) assert.equal(run!.error?.code, errorCode);
  other.resume();
  await clock.advance(1000);
  assert.deepEqual(attempts, [2]);
  assert.equal((await other.getRuns({ jobId: 'j' }))[0]!.status, 'succeeded');
  await other.shutdown();
}

test('a run failing while its scheduler is paused is retried after resume()', async () => {
  await onSqlite(async ({ clock, scheduler }) => {
    const { release, attempts } = await failingJob(scheduler);
    await scheduler.start();
    await clock.advance(0); // the run at T starts and waits at the gate
    assert.deepEqual(attempts, [1]);
    scheduler.pause();
    release();
    await clock.advance(0);
    const [run] = await scheduler.getRuns({ jobId: 'j' });
    assert.equal(run!.status, 'pending', 'the failure leaves a retry');
    assert.equal(run!.attempt, 1);
    scheduler.resume();
    await clock.advance(1000);
    await clock.advance(1000);
    assert.deepEqual(attempts, [1, 2, 3]);
    assert.equal((await scheduler.getRuns({ jobId: 'j' }))[0]!.status, 'failed');
    await scheduler.shutdown();
  });
});

test('a run failing while its scheduler shuts down is stored pending for another process', async () => {
  await onSqlite(async ({ clock, scheduler, path }) => {
    const { release } = await failingJob(scheduler);
    await scheduler.start();
    await clock.advance(0);
    const stopped = scheduler.shutdown(); // waits for the run
    await clock.advance(0);
    release();
    await stopped;
    await retriedElsewhere(clock, path, 'flaky', 'the failure leaves a retry');
  });
});

test('a run aborted at the shutdown timeout is stored pending for another process when its job has attempts left', async () => {
  await onSqlite(async ({ clock, scheduler, path }) => {
    const attempts: number[] = [];
    scheduler.defineTask('slow', async (ctx: { attempt: number; signal: AbortSignal }) => {
      attempts.push(ctx.attempt);
      // Longer than the shutdown waits: ends when aborted.
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
    });
    await scheduler.addJob('slow', new IntervalTrigger({ hours: 1, startDate: new Date(T) }), {
      id: 'j',
      retry: { attempts: 3, backoff: 'fixed', delay: 1000, jitter: false },
    });
    await scheduler.start();
    await clock.advance(0);
    assert.deepEqual(attempts, [1]);
    const stopped = scheduler.shutdown({ timeout: 500 });
    await clock.advance(500);
    await stopped;
    await retriedElsewhere(
      clock,
      path,
      'slow',
      'the abort leaves a retry, as a kill -9 would',
      'SHUTDOWN_TIMEOUT',
    );
  });
});

test('a run aborted at the shutdown timeout without attempts left is recorded cancelled', async () => {
  await onSqlite(async ({ clock, scheduler, path }) => {
    scheduler.defineTask('slow', async (ctx: { signal: AbortSignal }) => {
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
    });
    await scheduler.addJob('slow', new IntervalTrigger({ hours: 1, startDate: new Date(T) }), { id: 'j' });
    await scheduler.start();
    await clock.advance(0);
    const stopped = scheduler.shutdown({ timeout: 500 });
    await clock.advance(500);
    await stopped;
    const store = new SqliteStore({ path });
    await store.start({ nodeId: 'check', now: () => clock.now() });
    const [run] = await store.getRuns({ jobId: 'j' });
    assert.equal(run!.status, 'cancelled');
    assert.equal(run!.error?.code, 'SHUTDOWN_TIMEOUT');
    await store.stop();
  });
});

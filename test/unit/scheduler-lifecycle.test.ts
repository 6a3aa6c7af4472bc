// Scheduler lifecycle: start (paused), pause/resume with the misfire rules, bounded shutdown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TickworkError } from '../../src/index.js';
import { IntervalTrigger, MemoryStore, Scheduler, type TaskContext } from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';
import { captureLogger } from '../helpers/logger.js';
import { at } from '../helpers/time.js';

const T = at('2024-01-01T00:00:00Z');
const iso = (t: number) => new Date(t).toISOString();

function setup() {
  const clock = new ManualClock(T - 1000);
  const logger = captureLogger();
  const scheduler = new Scheduler({ clock, logger });
  return { clock, logger, scheduler };
}

test('start({ paused: true }) fires nothing until resume(); then the owed fire times coalesce to one run', async () => {
  const { clock, scheduler } = setup();
  const ran: string[] = [];
  await scheduler.addJob(
    (ctx: TaskContext) => void ran.push(ctx.scheduledFireTime.toISOString()),
    new IntervalTrigger({ seconds: 1, startDate: new Date(T) }),
  );
  await scheduler.start({ paused: true });
  assert.equal(scheduler.state, 'paused');
  assert.equal(scheduler.running, true);
  await clock.advance(1000 + 5500);
  assert.deepEqual(ran, []);
  scheduler.resume();
  assert.equal(scheduler.state, 'running');
  await clock.advance(0);
  assert.deepEqual(ran, [iso(T + 5000)], 'fire times 0..5 s coalesce to the latest');
  await clock.advance(500);
  assert.deepEqual(ran, [iso(T + 5000), iso(T + 6000)]);
  await assert.rejects(scheduler.start(), (e: TickworkError) => e.code === 'SCHEDULER_ALREADY_RUNNING');
  await scheduler.shutdown();
  assert.equal(scheduler.state, 'stopped');
});

test('pause() stops firing; resume() applies misfireGraceTime to what came due meanwhile', async () => {
  const { clock, scheduler, logger } = setup();
  const ran: string[] = [];
  const missed: string[] = [];
  const events: string[] = [];
  scheduler.on('job:missed', (e) => missed.push(e.scheduledFireTime));
  scheduler.on('scheduler:paused', () => events.push('paused'));
  scheduler.on('scheduler:resumed', () => events.push('resumed'));
  await scheduler.addJob(
    (ctx: TaskContext) => void ran.push(ctx.scheduledFireTime.toISOString()),
    new IntervalTrigger({ seconds: 10, startDate: new Date(T) }),
    {
      id: 'ten',
      coalesce: false,
      misfireGraceTime: 3000,
      maxInstances: 3,
    },
  );
  await scheduler.start();
  await clock.advance(1000);
  assert.deepEqual(ran, [iso(T)]);
  scheduler.pause();
  assert.equal(scheduler.state, 'paused');
  await clock.advance(22_000); // now T + 22 s: 10 s (late 12 s) and 20 s (late 2 s) came due
  assert.deepEqual(ran, [iso(T)]);
  scheduler.resume();
  await clock.advance(0);
  assert.deepEqual(ran, [iso(T), iso(T + 20_000)]);
  assert.deepEqual(missed, [iso(T + 10_000)]);
  assert.ok(logger.messages('warn').some((m) => m.endsWith('was missed by 0:00:12')));
  assert.deepEqual(events, ['paused', 'resumed']);
  await scheduler.shutdown();
  assert.throws(
    () => scheduler.pause(),
    (e: TickworkError) => e.code === 'SCHEDULER_NOT_RUNNING',
  );
});

test('a run that fails while the scheduler is paused keeps its retry: the next attempt runs after resume()', async () => {
  const { clock, scheduler } = setup();
  const attempts: number[] = [];
  const errors: { attempt: number; willRetry: boolean }[] = [];
  scheduler.on('job:error', (e) => errors.push({ attempt: e.attempt, willRetry: e.willRetry }));
  await scheduler.addJob(
    async (ctx: TaskContext) => {
      attempts.push(ctx.attempt);
      await clock.sleep(500);
      if (ctx.attempt === 1) throw new Error('first attempt fails');
    },
    'date',
    { runDate: new Date(T), id: 'flaky', retry: { attempts: 3, backoff: 'fixed', delay: 100 } },
  );
  await scheduler.start();
  await clock.advance(1100); // the run starts at T
  scheduler.pause();
  await clock.advance(1000); // it fails at T + 500 ms, while the scheduler is paused
  assert.deepEqual(errors, [{ attempt: 1, willRetry: true }]);
  assert.deepEqual(attempts, [1], 'a paused scheduler starts nothing, retries included');
  scheduler.resume();
  await clock.advance(1000);
  assert.deepEqual(attempts, [1, 2]);
  const runs = await scheduler.getRuns({ jobId: 'flaky' });
  assert.deepEqual(
    runs.map((r) => [r.status, r.attempt]),
    [['succeeded', 2]],
  );
  await scheduler.shutdown();
});

test('shutdown({ timeout }) is bounded: a task that never ends is aborted at the timeout and recorded cancelled', async () => {
  const { clock, scheduler } = setup();
  let signal = null as AbortSignal | null;
  let abortedAt: number | null = null;
  const shutdownEvents: number[] = [];
  scheduler.on('scheduler:shutdown', (e) => shutdownEvents.push(e.aborted));
  await scheduler.addJob(
    (ctx: TaskContext) => {
      signal = ctx.signal;
      ctx.signal.addEventListener('abort', () => (abortedAt = clock.now()));
      return new Promise(() => {}); // never settles, ignores its signal
    },
    new IntervalTrigger({ hours: 1, startDate: new Date(T) }),
    { id: 'forever' },
  );
  await scheduler.start();
  await clock.advance(1000);
  assert.ok(signal, 'the run started');
  const stopAt = clock.now();
  let resolvedAt: number | null = null;
  const done = scheduler.shutdown({ wait: true, timeout: 5000 }).then(() => (resolvedAt = clock.now()));
  await clock.advance(4999);
  assert.equal(resolvedAt, null, 'still waiting before the timeout');
  assert.equal(signal!.aborted, false);
  await clock.advance(1);
  await done;
  assert.equal(resolvedAt, stopAt + 5000);
  assert.equal(abortedAt, stopAt + 5000);
  assert.equal((signal!.reason as TickworkError).code, 'SHUTDOWN_TIMEOUT');
  const runs = await scheduler.store.getRuns({ jobId: 'forever' });
  assert.equal(runs.length, 1);
  assert.equal(runs[0]!.status, 'cancelled');
  assert.equal(runs[0]!.error!.code, 'SHUTDOWN_TIMEOUT');
  assert.deepEqual(shutdownEvents, [1]);
  assert.equal(scheduler.state, 'stopped');
  await scheduler.shutdown(); // idempotent
  assert.deepEqual(shutdownEvents, [1]);
});

test('shutdown({ wait: false }) aborts running runs at once; nothing fires afterwards', async () => {
  const { clock, scheduler } = setup();
  const starts: number[] = [];
  let reason: unknown = null;
  await scheduler.addJob(
    async (ctx: TaskContext) => {
      starts.push(clock.now());
      await clock.sleep(10_000, ctx.signal).catch((e: unknown) => (reason = e));
    },
    new IntervalTrigger({ seconds: 1, startDate: new Date(T) }),
  );
  await scheduler.start();
  await clock.advance(1000);
  await scheduler.shutdown({ wait: false });
  await clock.advance(0);
  assert.equal((reason as TickworkError).code, 'SHUTDOWN_TIMEOUT');
  await clock.advance(60_000);
  assert.deepEqual(starts, [T]);
  assert.equal(clock.pendingTimers, 0, 'no timer left armed after shutdown');
});

test('shutdown that waits longer than the lease keeps renewing the running run, which is never abandoned', async () => {
  const clock = new ManualClock(T - 1000);
  const store = new MemoryStore();
  // Lease 3 s, heartbeat every 1 s: the 10 s shutdown wait below is more than three leases long.
  const scheduler = new Scheduler({
    clock,
    logger: captureLogger(),
    store,
    leaseDuration: 3000,
    heartbeatInterval: 1000,
  });
  let finish!: () => void;
  const started: number[] = [];
  await scheduler.addJob(
    () => {
      started.push(clock.now());
      return new Promise<void>((resolve) => (finish = resolve));
    },
    new IntervalTrigger({ hours: 1, startDate: new Date(T) }),
    { id: 'slow' },
  );
  await scheduler.start();
  await clock.advance(1000);
  assert.deepEqual(started, [T]);
  const done = scheduler.shutdown({ wait: true, timeout: 60_000 });
  for (let i = 0; i < 10; i++) {
    await clock.advance(1000);
    const [run] = await store.getRuns({ jobId: 'slow' });
    assert.equal(run!.status, 'running', `${i + 1} s into the shutdown`);
    assert.ok(run!.leaseExpiresAt!.getTime() > clock.now(), `lease held ${i + 1} s into the shutdown`);
  }
  // Another process reaping now would find nothing expired.
  assert.deepEqual(await store.reapExpiredRuns(new Date(clock.now()), 100), []);
  finish();
  await clock.advance(0);
  await done;
  const [run] = await store.getRuns({ jobId: 'slow' });
  assert.equal(run!.status, 'succeeded');
  assert.deepEqual(started, [T], 'started once');
});

test('shutdown during a wake-up that is leasing runs waits for the runs that wake-up starts', async () => {
  const clock = new ManualClock(T - 1000);
  let gate = null as (() => void) | null;
  let leasing = false;
  class SlowLeasing extends MemoryStore {
    override async acquireRuns(...args: Parameters<MemoryStore['acquireRuns']>) {
      // Held once: the first leasing at or after the fire time.
      if (!leasing && args[1].getTime() >= T) {
        leasing = true;
        await new Promise<void>((resolve) => (gate = resolve));
      }
      return super.acquireRuns(...args);
    }
  }
  const store = new SlowLeasing();
  const scheduler = new Scheduler({ clock, logger: captureLogger(), store });
  const order: string[] = [];
  scheduler.on('scheduler:shutdown', () => order.push('shutdown'));
  await scheduler.addJob(
    async () => {
      order.push('task started');
      await clock.sleep(2000);
      order.push('task ended');
    },
    new IntervalTrigger({ hours: 1, startDate: new Date(T) }),
    { id: 'j' },
  );
  await scheduler.start();
  await clock.advance(1000);
  assert.ok(gate, 'the wake-up is leasing');
  const done = scheduler.shutdown({ wait: true, timeout: 60_000 });
  await clock.advance(0);
  (gate as unknown as () => void)();
  await clock.advance(0);
  assert.deepEqual(order, ['task started']);
  await clock.advance(2000);
  await done;
  assert.deepEqual(order, ['task started', 'task ended', 'shutdown']);
  const [run] = await store.getRuns({ jobId: 'j' });
  assert.equal(run!.status, 'succeeded');
});

test('before start() job reads answer from the queued jobs; after shutdown() they reject with SCHEDULER_NOT_RUNNING, never an empty answer', async () => {
  const store = new MemoryStore();
  const clock = new ManualClock(T);
  const scheduler = new Scheduler({ clock, store, logger: captureLogger() });
  scheduler.defineTask('work', () => {});
  await scheduler.addJob('work', 'interval', { id: 'queued', seconds: 10 });
  // A queued id added again: a rejected promise (as once started), not a synchronous throw.
  let again: Promise<unknown> | undefined;
  assert.doesNotThrow(() => {
    again = scheduler.addJob('work', 'interval', { id: 'queued', seconds: 10 });
  });
  await assert.rejects(again!, (e: TickworkError) => e.code === 'JOB_CONFLICT');
  assert.deepEqual(
    (await scheduler.getJobs()).map((j) => j.id),
    ['queued'],
  );
  assert.equal(await scheduler.countJobs(), 1);
  assert.equal(await scheduler.getJob('other'), null);
  await scheduler.start();
  await scheduler.addJob('work', 'interval', { id: 'stored', seconds: 10 });
  await scheduler.shutdown();
  assert.equal((await store.getJobs()).length, 2, 'the jobs are still stored');
  const notRunning = (e: TickworkError) => e.code === 'SCHEDULER_NOT_RUNNING';
  await assert.rejects(scheduler.getJobs(), notRunning);
  await assert.rejects(scheduler.getJob('stored'), notRunning);
  await assert.rejects(scheduler.countJobs(), notRunning);
  await assert.rejects(scheduler.resumeJob('stored'), notRunning);
  await assert.rejects(scheduler.rescheduleJob('stored', 'interval', { seconds: 5 }), notRunning);
  await assert.rejects(scheduler.removeJob('stored'), notRunning);
  await assert.rejects(scheduler.removeAllJobs(), notRunning);
  // addJob too (a job queued now would wait for a start() that may never come), as a rejected promise.
  let added: Promise<unknown> | undefined;
  assert.doesNotThrow(() => {
    added = scheduler.addJob('work', 'interval', { id: 'late', seconds: 10 });
  });
  await assert.rejects(added!, notRunning);
  assert.equal((await store.getJobs()).length, 2, 'nothing removed, nothing added');
  // Started again, it reads the store.
  await scheduler.start();
  assert.deepEqual(
    (await scheduler.getJobs()).map((j) => j.id),
    ['queued', 'stored'],
  );
  await scheduler.shutdown();
});

test('while shutdown() waits for a running job, job reads still answer from the store', async () => {
  const clock = new ManualClock(T);
  const scheduler = new Scheduler({ clock, logger: captureLogger() });
  let release!: () => void;
  scheduler.defineTask('slow', () => new Promise<void>((r) => (release = r)));
  await scheduler.start();
  await scheduler.addJob('slow', 'interval', { id: 'a', seconds: 10 });
  await clock.advance(10_000); // a's run is going
  const down = scheduler.shutdown();
  assert.equal(scheduler.state, 'stopping');
  assert.deepEqual(
    (await scheduler.getJobs()).map((j) => j.id),
    ['a'],
  );
  assert.equal((await scheduler.getJob('a'))?.id, 'a');
  assert.equal(await scheduler.countJobs(), 1);
  release();
  await down;
  await assert.rejects(scheduler.getJobs(), (e: TickworkError) => e.code === 'SCHEDULER_NOT_RUNNING');
});

test('a start() that fails while storing the queued jobs closes the store it opened', async () => {
  let stops = 0;
  class Tracking extends MemoryStore {
    override async stop(): Promise<void> {
      stops++;
      return super.stop();
    }
  }
  const store = new Tracking();
  const first = new Scheduler({ clock: new ManualClock(T), store, logger: captureLogger() });
  first.defineTask('work', () => {});
  await first.start();
  await first.addJob('work', 'interval', { id: 'a', seconds: 10 });
  await first.shutdown();
  stops = 0;
  const second = new Scheduler({ clock: new ManualClock(T), store, logger: captureLogger() });
  second.defineTask('work', () => {});
  await second.addJob('work', 'interval', { id: 'a', seconds: 10 }); // no replaceExisting: a conflict
  await assert.rejects(second.start(), (e: TickworkError) => e.code === 'JOB_CONFLICT');
  assert.equal(second.state, 'stopped');
  assert.equal(stops, 1, 'the store was stopped');
});

test('shutdown() called while start() is still opening the store waits for it: every queued job is stored, then all is closed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tickwork-race-'));
  const path = join(dir, 'jobs.db');
  try {
    const scheduler = new Scheduler({
      clock: new ManualClock(T),
      store: new SqliteStore({ path }),
      logger: captureLogger(),
    });
    scheduler.defineTask('work', () => {});
    for (let i = 0; i < 50; i++) await scheduler.addJob('work', 'interval', { id: `j${i}`, seconds: 10 });
    const started = scheduler.start();
    const stopped = scheduler.shutdown();
    await started;
    await stopped;
    assert.equal(scheduler.state, 'stopped');
    assert.equal(scheduler.queuedJobCount(), 0, 'none left queued');
    const check = new SqliteStore({ path });
    await check.start({ nodeId: 'check', now: () => T });
    assert.equal((await check.getJobs()).length, 50, 'all 50 stored');
    await check.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('shutdown() of a scheduler never started: addJob rejects with SCHEDULER_NOT_RUNNING until start()', async () => {
  const scheduler = new Scheduler({ clock: new ManualClock(T), logger: captureLogger() });
  scheduler.defineTask('work', () => {});
  await scheduler.shutdown();
  await assert.rejects(
    scheduler.addJob('work', 'interval', { seconds: 10 }),
    (e: TickworkError) => e.code === 'SCHEDULER_NOT_RUNNING',
  );
  await scheduler.start();
  await scheduler.addJob('work', 'interval', { id: 'after', seconds: 10 });
  assert.equal((await scheduler.getJobs()).length, 1);
  await scheduler.shutdown();
});

test('start() called while shutdown() is in progress waits for it and starts again', async () => {
  const clock = new ManualClock(T);
  const scheduler = new Scheduler({ clock, logger: captureLogger() });
  scheduler.defineTask('work', () => {});
  await scheduler.start();
  const stopped = scheduler.shutdown();
  assert.equal(scheduler.state, 'stopping');
  await scheduler.start();
  await stopped;
  assert.equal(scheduler.state, 'running');
  await scheduler.addJob('work', 'interval', { id: 'again', seconds: 10 });
  assert.equal((await scheduler.getJobs()).length, 1);
  await scheduler.shutdown();
});

// A backlog not coalesced (coalesce: false) whose fire times outnumber the free maxInstances slots: as in
// APScheduler 3, where one instance runs the owed fire times one after another, the fire times that find no
// slot wait (queued) behind the earlier ones instead of being skipped. Expected times are worked out by hand:
// interval 10 s from T, the scheduler paused until T+25 s, so T, T+10 s and T+20 s are owed at T+25 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IntervalTrigger, Scheduler, silentLogger, type TaskContext } from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';
import { captureLogger } from '../helpers/logger.js';
import { onSqlite } from '../helpers/sqlite.js';
import { at } from '../helpers/time.js';

const T = at('2024-01-01T00:00:00Z');
const iso = (t: number) => new Date(t).toISOString();
const s = (n: number) => T + n * 1000;

/** A job every 10 s from T whose runs take `durationMs`, with the scheduler paused until T+25 s. */
async function owedThree(durationMs: number, options: Record<string, unknown>) {
  const clock = new ManualClock(T - 1000);
  const logger = captureLogger();
  const scheduler = new Scheduler({ clock, logger });
  const runs: { fireTime: string; start: number; end: number }[] = [];
  const skipped: string[] = [];
  const missed: string[] = [];
  scheduler.on('job:max-instances', (e) => skipped.push(e.scheduledFireTime));
  scheduler.on('job:missed', (e) => missed.push(e.scheduledFireTime));
  await scheduler.addJob(
    async (ctx: TaskContext) => {
      const start = clock.now();
      await clock.sleep(durationMs);
      runs.push({ fireTime: ctx.scheduledFireTime.toISOString(), start, end: clock.now() });
    },
    new IntervalTrigger({ seconds: 10, startDate: new Date(T) }),
    { id: 'tick', name: 'tick', coalesce: false, ...options },
  );
  await scheduler.start({ paused: true });
  await clock.advance(1000 + 25_000);
  scheduler.resume();
  return { clock, logger, scheduler, runs, skipped, missed };
}

test('maxInstances 1: the owed fire times run one after another; a fire time due meanwhile is skipped', async () => {
  const { clock, scheduler, runs, skipped, logger } = await owedThree(3000, {});
  await clock.advance(20_000);
  // T 25-28 s, T+10 s 28-31 s, T+20 s 31-34 s; at 30 s the job's instance is busy with the backlog: skipped;
  // T+40 s on time.
  assert.deepEqual(runs, [
    { fireTime: iso(T), start: s(25), end: s(28) },
    { fireTime: iso(s(10)), start: s(28), end: s(31) },
    { fireTime: iso(s(20)), start: s(31), end: s(34) },
    { fireTime: iso(s(40)), start: s(40), end: s(43) },
  ]);
  assert.deepEqual(skipped, [iso(s(30))]);
  assert.deepEqual(
    logger.messages('warn').filter((m) => m.includes('skipped')),
    [
      'Execution of job "tick (trigger: interval[0:00:10], next run at: 2024-01-01 00:00:30 UTC)" skipped: maximum number of running instances reached (1)',
    ],
  );
  const history = (await scheduler.getRuns({ jobId: 'tick' })).map((r) => [
    r.scheduledFireTime.toISOString(),
    r.status,
  ]);
  assert.deepEqual(history, [
    [iso(s(40)), 'succeeded'],
    [iso(s(30)), 'skipped'],
    [iso(s(20)), 'succeeded'],
    [iso(s(10)), 'succeeded'],
    [iso(T), 'succeeded'],
  ]);
  await scheduler.shutdown();
});

test('maxInstances 2: two owed fire times start at once; the third waits until both have finished', async () => {
  const { clock, scheduler, runs, skipped } = await owedThree(3000, { maxInstances: 2 });
  await clock.advance(10_000);
  // T and T+10 s 25-28 s; T+20 s 28-31 s. At 30 s only T+20 s is active (1 < 2): T+30 s runs on time.
  assert.deepEqual(
    runs.sort((a, b) => a.start - b.start || a.fireTime.localeCompare(b.fireTime)),
    [
      { fireTime: iso(T), start: s(25), end: s(28) },
      { fireTime: iso(s(10)), start: s(25), end: s(28) },
      { fireTime: iso(s(20)), start: s(28), end: s(31) },
      { fireTime: iso(s(30)), start: s(30), end: s(33) },
    ],
  );
  assert.deepEqual(skipped, []);
  await scheduler.shutdown();
});

test('a queued fire time that waited longer than misfireGraceTime is missed when its turn comes', async () => {
  // Grace 16 s: T (late 25 s) is missed at once; T+10 s (late 15 s) takes the slot and runs 25-37 s; T+20 s
  // waits behind it and at 37 s is late 17 s: missed. T+30 s finds the slot taken (and T+20 s queued):
  // skipped. T+40 s runs on time.
  const { clock, scheduler, runs, skipped, missed } = await owedThree(12_000, {
    misfireGraceTime: 16_000,
  });
  await clock.advance(16_000);
  assert.deepEqual(runs, [{ fireTime: iso(s(10)), start: s(25), end: s(37) }]);
  assert.deepEqual(missed, [iso(T), iso(s(20))]);
  assert.deepEqual(skipped, [iso(s(30))]);
  const [last] = await scheduler.getRuns({ jobId: 'tick', limit: 1 });
  assert.equal(last!.scheduledFireTime.toISOString(), iso(s(40)));
  assert.equal(last!.status, 'running');
  await clock.advance(12_000);
  await scheduler.shutdown();
});

test('with no free slot at all, the whole backlog is skipped, as APScheduler skips the submission', async () => {
  const clock = new ManualClock(T - 1000);
  const scheduler = new Scheduler({ clock, logger: captureLogger() });
  const started: string[] = [];
  const skipped: string[] = [];
  scheduler.on('job:max-instances', (e) => skipped.push(e.scheduledFireTime));
  // A manual run, requested while paused, holds the only slot when the backlog is fired at 25 s; it starts
  // then and runs until 35 s.
  await scheduler.addJob(
    async (ctx: TaskContext) => {
      started.push(ctx.manual ? 'manual' : ctx.scheduledFireTime.toISOString());
      await clock.sleep(ctx.manual ? 10_000 : 1000);
    },
    new IntervalTrigger({ seconds: 10, startDate: new Date(T) }),
    { id: 'tick', coalesce: false },
  );
  await scheduler.start({ paused: true });
  await scheduler.runJob('tick');
  await clock.advance(1000 + 25_000);
  scheduler.resume();
  await clock.advance(1);
  assert.deepEqual(started, ['manual']);
  assert.deepEqual(skipped, [iso(T), iso(s(10)), iso(s(20))]);
  await clock.advance(15_000);
  // 30 s: still busy, skipped; the manual run ends at 35 s, so T+40 s runs.
  assert.deepEqual(started, ['manual', iso(s(40))]);
  assert.deepEqual(skipped, [iso(T), iso(s(10)), iso(s(20)), iso(s(30))]);
  await clock.advance(1000);
  await scheduler.shutdown();
});

test('SQLite, after a restart: the fire times owed while no process ran go one after another', async () => {
  await onSqlite(async ({ clock, scheduler, path }) => {
    // The file's scheduler adds the job at 00:00:00 (= T) and stops at once; the next process starts at 25 s.
    const runs: { fireTime: string; start: number; end: number }[] = [];
    const task = async (ctx: TaskContext) => {
      const start = clock.now();
      await clock.sleep(3000);
      runs.push({ fireTime: ctx.scheduledFireTime.toISOString(), start, end: clock.now() });
    };
    scheduler.defineTask('tick', task);
    await scheduler.start({ paused: true });
    await scheduler.addJob('tick', new IntervalTrigger({ seconds: 10, startDate: new Date(T) }), {
      id: 'tick',
      coalesce: false,
    });
    await scheduler.shutdown();
    await clock.advance(25_000);
    const next = new Scheduler({ clock, store: new SqliteStore({ path }), logger: silentLogger });
    next.defineTask('tick', task);
    await next.start();
    await clock.advance(20_000);
    assert.deepEqual(runs, [
      { fireTime: iso(T), start: s(25), end: s(28) },
      { fireTime: iso(s(10)), start: s(28), end: s(31) },
      { fireTime: iso(s(20)), start: s(31), end: s(34) },
      { fireTime: iso(s(40)), start: s(40), end: s(43) },
    ]);
    const history = (await next.getRuns({ jobId: 'tick' })).map((r) => [
      r.scheduledFireTime.toISOString(),
      r.status,
    ]);
    assert.deepEqual(history, [
      [iso(s(40)), 'succeeded'],
      [iso(s(30)), 'skipped'],
      [iso(s(20)), 'succeeded'],
      [iso(s(10)), 'succeeded'],
      [iso(T), 'succeeded'],
    ]);
    await next.shutdown();
  });
});

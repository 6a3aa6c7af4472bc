// fireAhead: a job is fired (its run created, its next fire time computed) a few ms before its fire time, and
// its run starts at the fire time, never before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IntervalTrigger, Scheduler, TickworkError, type TaskContext } from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';
import { captureLogger } from '../helpers/logger.js';
import { at } from '../helpers/time.js';

const T = at('2024-01-01T00:00:00Z');

test('fireAhead (default 10 ms): the run is created ahead and starts at its fire time exactly', async () => {
  const clock = new ManualClock(T);
  const scheduler = new Scheduler({ clock, logger: captureLogger() });
  const starts: { at: number; scheduled: number }[] = [];
  await scheduler.addJob(
    (ctx: TaskContext) => {
      starts.push({ at: clock.now(), scheduled: ctx.scheduledFireTime.getTime() });
    },
    new IntervalTrigger({ seconds: 1, startDate: new Date(T + 1000) }),
    { id: 'tick' },
  );
  await scheduler.start();
  await clock.advance(989);
  assert.deepEqual(await scheduler.getRuns(), [], 'nothing fired 11 ms before the fire time');
  assert.equal((await scheduler.getJob('tick'))!.nextRunTime!.getTime(), T + 1000);
  await clock.advance(1); // T + 990: fired, 10 ms ahead
  const [pending] = await scheduler.getRuns();
  assert.equal(pending?.status, 'pending');
  assert.equal(pending.scheduledFireTime.getTime(), T + 1000);
  assert.equal(pending.notBefore.getTime(), T + 1000);
  assert.equal((await scheduler.getJob('tick'))!.nextRunTime!.getTime(), T + 2000, 'next fire time computed');
  await clock.advance(9); // T + 999
  assert.equal(starts.length, 0, 'not started before its fire time');
  await clock.advance(1); // T + 1000
  assert.deepEqual(starts, [{ at: T + 1000, scheduled: T + 1000 }]);
  await clock.advance(3000);
  assert.deepEqual(
    starts.map((s) => s.at - s.scheduled),
    [0, 0, 0, 0],
    'every run starts at its fire time',
  );
  await scheduler.shutdown();
});

test('fireAhead: 0 fires at the fire time: no run exists before it', async () => {
  const clock = new ManualClock(T);
  const scheduler = new Scheduler({ clock, logger: captureLogger(), fireAhead: 0 });
  let started = 0;
  await scheduler.addJob(
    () => {
      started = clock.now();
    },
    'date',
    { runDate: new Date(T + 1000), id: 'once' },
  );
  await scheduler.start();
  await clock.advance(999);
  assert.deepEqual(await scheduler.getRuns(), []);
  assert.ok(await scheduler.getJob('once'), 'the date job is still there');
  await clock.advance(1);
  assert.equal(started, T + 1000);
  await scheduler.shutdown();
});

test('fireAhead: maxInstances is checked when the job is fired, so a run ending within the window still counts', async () => {
  // max 1 instance; the first run lasts 995 ms, so it ends 5 ms before the next fire time. Fired 10 ms
  // ahead, that fire time sees it running (skipped); fired at the fire time (fireAhead: 0), it runs.
  for (const [fireAhead, expected] of [
    [10, ['run@1000', 'skip@2000', 'run@3000']],
    [0, ['run@1000', 'run@2000', 'run@3000']],
  ] as const) {
    const clock = new ManualClock(T);
    const scheduler = new Scheduler({ clock, logger: captureLogger(), fireAhead });
    const seen: string[] = [];
    scheduler.on('job:max-instances', (e) => seen.push(`skip@${Date.parse(e.scheduledFireTime) - T}`));
    let first = true;
    await scheduler.addJob(
      async (ctx: TaskContext) => {
        seen.push(`run@${ctx.scheduledFireTime.getTime() - T}`);
        if (first) {
          first = false;
          await clock.sleep(995);
        }
      },
      new IntervalTrigger({ seconds: 1, startDate: new Date(T + 1000) }),
      { id: 'j', maxInstances: 1 },
    );
    await scheduler.start();
    await clock.advance(3000);
    assert.deepEqual(seen, expected, `fireAhead ${fireAhead}`);
    await scheduler.shutdown();
  }
});

test('fireAhead: a job missed by more than its grace time is still judged against the real time', async () => {
  // Fired ahead, the planner must not count the window as lateness: a job due at start with a 1 ms grace
  // runs (it is 0 ms late, not 50).
  const clock = new ManualClock(T);
  const scheduler = new Scheduler({ clock, logger: captureLogger(), fireAhead: 50 });
  const seen: string[] = [];
  scheduler.on('job:missed', (e) => seen.push(`missed ${e.lateBy}`));
  await scheduler.addJob(
    (ctx: TaskContext) => {
      seen.push(`run@${ctx.scheduledFireTime.getTime() - T} at ${clock.now() - T}`);
    },
    new IntervalTrigger({ seconds: 1, startDate: new Date(T) }),
    { id: 'j', misfireGraceTime: 1 },
  );
  await scheduler.start();
  await clock.advance(2000);
  assert.deepEqual(seen, ['run@0 at 0', 'run@1000 at 1000', 'run@2000 at 2000']);
  await scheduler.shutdown();
});

test('fireAhead: a negative, non-number or over 1000 ms value is INVALID_OPTION naming fireAhead', () => {
  for (const bad of [-1, Number.NaN, '10', Infinity, 1001]) {
    assert.throws(
      () => new Scheduler({ fireAhead: bad as number }),
      (err: unknown) =>
        err instanceof TickworkError && err.code === 'INVALID_OPTION' && err.details.field === 'fireAhead',
      `fireAhead ${String(bad)}`,
    );
  }
});

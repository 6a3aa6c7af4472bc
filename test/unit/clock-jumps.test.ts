// Wake-ups at the wrong moment: early timers, the wall clock stepping back, a jump of a year forward.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CronTrigger,
  DateTrigger,
  IntervalTrigger,
  MemoryStore,
  OrTrigger,
  Scheduler,
  type TaskContext,
} from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';
import { job } from '../contract/store-contract.js';
import { captureLogger } from '../helpers/logger.js';
import { at, WrappedClock } from '../helpers/time.js';

const T = at('2024-01-01T00:00:00Z');

test('timers that fire 5 ms early never run a job early or twice', async () => {
  const clock = new ManualClock(T - 1000);
  const early = new WrappedClock(clock, 5);
  const scheduler = new Scheduler({ clock: early, logger: captureLogger() });
  const starts: { at: number; slot: number }[] = [];
  await scheduler.addJob(
    (ctx: TaskContext) => void starts.push({ at: clock.now(), slot: ctx.scheduledFireTime.getTime() }),
    new IntervalTrigger({ seconds: 1, startDate: new Date(T) }),
    { maxInstances: 3 },
  );
  await scheduler.start();
  await clock.advance(1000 + 9_500);
  assert.deepEqual(
    starts.map((s) => s.slot - T),
    [0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000],
  );
  for (const s of starts) assert.equal(s.at, s.slot, 'started exactly at its slot, not before');
  assert.ok(early.delays.length > 0 && early.maxDelay <= 30_000);
  await scheduler.shutdown();
});

test('the wall clock stepping back after a run does not run the slot again', async () => {
  const clock = new ManualClock(T - 1000);
  const scheduler = new Scheduler({ clock, logger: captureLogger() });
  const slots: number[] = [];
  await scheduler.addJob(
    (ctx: TaskContext) => void slots.push(ctx.scheduledFireTime.getTime() - T),
    new IntervalTrigger({ seconds: 10, startDate: new Date(T) }),
  );
  await scheduler.start();
  await clock.advance(1000 + 500);
  assert.deepEqual(slots, [0]);
  clock.jump(-60_000); // NTP steps the clock back a minute
  await clock.advance(65_000);
  assert.deepEqual(slots, [0], 'nothing runs again before the wall clock is back past 10 s');
  await clock.advance(5_000);
  assert.deepEqual(slots, [0, 10_000]);
  await scheduler.shutdown();
});

test(
  'a clock jump of a year forward with a 1 s job runs once (coalesced, capped) and goes on',
  { timeout: 10_000 },
  async () => {
    const clock = new ManualClock(T - 1000);
    const logger = captureLogger();
    // Fired at the fire time (fireAhead 0): the backlog's run is the latest fire time owed at the step.
    const scheduler = new Scheduler({ clock, logger, fireAhead: 0 });
    const slots: number[] = [];
    await scheduler.addJob(
      (ctx: TaskContext) => void slots.push(ctx.scheduledFireTime.getTime()),
      new IntervalTrigger({ seconds: 1, startDate: new Date(T) }),
      { id: 'tick' },
    );
    await scheduler.start();
    await clock.advance(1000);
    assert.deepEqual(slots, [T]);
    const year = 366 * 86_400_000;
    clock.jump(year);
    const jumped = clock.now();
    await clock.settle(); // no time passes: the step itself wakes the loop
    assert.equal(slots.length, 2, 'one coalesced run for a year of missed fire times, at the step');
    // By hand: fire times are T + k s, and the step lands on one (T + 366 days).
    assert.equal(slots[1], jumped, 'for the latest fire time owed');
    assert.equal(logger.messages('warn').filter((m) => m.includes('were due at once; those from')).length, 1);
    const next = (await scheduler.getJob('tick'))!.nextRunTime!.getTime();
    assert.equal(next, jumped + 1000, 'the schedule continues from now');
    await clock.advance(3000);
    assert.equal(slots.length, 5, 'then one run per second again');
    const runs = await scheduler.getRuns({ jobId: 'tick', limit: 1000 });
    assert.equal(runs.length, 5, 'no run records for the skipped year');
    await scheduler.shutdown();
  },
);

test('a jump forward between two fire times: the step wakes the loop, and the coalesced run carries the latest one owed', async () => {
  const clock = new ManualClock(T - 1000);
  const scheduler = new Scheduler({ clock, logger: captureLogger() });
  const slots: number[] = [];
  await scheduler.addJob(
    (ctx: TaskContext) => void slots.push(ctx.scheduledFireTime.getTime() - T),
    new IntervalTrigger({ seconds: 1, startDate: new Date(T) }),
    { id: 'tick', misfireGraceTime: null },
  );
  await scheduler.start();
  await clock.advance(1000);
  assert.deepEqual(slots, [0]);
  clock.jump(3_600_300); // an hour and 300 ms: 3,600 fire times owed, more than maxCatchUp (1,000)
  await clock.settle(); // the step wakes the loop at T + 3,600,300 ms
  // By hand: the fire times are T + k s; the latest at or before T + 3,600.3 s is T + 3,600 s.
  assert.deepEqual(slots, [0, 3_600_000]);
  await clock.advance(700);
  assert.deepEqual(slots, [0, 3_600_000, 3_601_000], 'and the schedule goes on from there');
  await scheduler.shutdown();
});

test('a wall-clock step forward longer than the lease: the running run is renewed, not abandoned', async () => {
  const clock = new ManualClock(T - 1000);
  const scheduler = new Scheduler({ clock, logger: captureLogger() }); // lease 30 s, heartbeat 10 s
  const started: number[] = [];
  const abandoned: string[] = [];
  scheduler.on('job:abandoned', (e) => abandoned.push(e.runId));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  await scheduler.addJob(
    async (ctx: TaskContext) => {
      started.push(ctx.scheduledFireTime.getTime() - T);
      await gate;
    },
    new IntervalTrigger({ seconds: 5, startDate: new Date(T) }),
    { id: 'slow', maxInstances: 1 },
  );
  await scheduler.start();
  await clock.advance(1000);
  assert.deepEqual(started, [0]);
  clock.jump(45_000); // NTP steps the wall clock 45 s forward while the run is going
  await clock.advance(20_000);
  assert.deepEqual(abandoned, [], 'the run still going here is not abandoned by its own process');
  assert.deepEqual(started, [0], 'so maxInstances still holds: no second instance');
  release();
  await clock.advance(5_000);
  assert.equal(started.length, 2, 'once it ends, the job runs again');
  const runs = await scheduler.getRuns({ jobId: 'slow', limit: 100 });
  const first = runs.find((r) => r.scheduledFireTime.getTime() === T)!;
  assert.equal(first.status, 'succeeded', 'and the first run is recorded as succeeded');
  await scheduler.shutdown();
});

test('an or with a passed date and an every-second cron: a 2-hour jump runs once and goes on from now (no loop back to the date)', async () => {
  const clock = new ManualClock(T);
  const logger = captureLogger();
  const scheduler = new Scheduler({ clock, logger });
  const ran: number[] = [];
  scheduler.defineTask('work', (ctx: TaskContext) => void ran.push(ctx.scheduledFireTime.getTime()));
  await scheduler.start();
  const trigger = new OrTrigger([new DateTrigger(new Date(T - 86_400_000)), new CronTrigger('* * * * * *')]);
  const job = await scheduler.addJob('work', trigger, { id: 'j' });
  assert.equal(job.nextRunTime!.getTime(), T, 'the passed date is not the first fire time');
  await clock.advance(0);
  clock.jump(7_200_000); // 7,200 fire times owed: more than maxCatchUp (1,000)
  await clock.advance(2000);
  const now = clock.now();
  // T, then the latest owed (coalesced) at the jump, then one a second: a handful, not thousands.
  assert.ok(ran.length >= 2 && ran.length <= 5, `runs: ${ran.length}`);
  assert.ok(
    ran.every((t) => t === T || t >= T + 7_200_000),
    'nothing ran for times before the jump but T',
  );
  const next = (await scheduler.getJob('j'))!.nextRunTime!.getTime();
  assert.ok(
    next > now - 1000 && next <= now + 1000,
    `next run ${new Date(next).toISOString()}, now ${new Date(now).toISOString()}`,
  );
  assert.ok(logger.messages('warn').filter((m) => m.includes('were due at once')).length <= 1);
  await scheduler.shutdown();
});

test('an outage of more than maxCatchUp fire times keeps an interval without startDate on its schedule', async () => {
  const clock = new ManualClock(T);
  const scheduler = new Scheduler({ clock, logger: captureLogger() });
  const slots: number[] = [];
  // No startDate: the first fire time is 10 s after it was added, the next ones 10 s apart from there.
  await scheduler.addJob(
    (ctx: TaskContext) => void slots.push(ctx.scheduledFireTime.getTime() - T),
    'interval',
    {
      id: 'tick',
      seconds: 10,
    },
  );
  await scheduler.start();
  await clock.advance(10_000);
  assert.deepEqual(slots, [10_000]);
  clock.jump(20_000_000 + 2_350); // 2,000 fire times owed, more than maxCatchUp (1000)
  await clock.advance(20_000);
  // The step wakes the loop at 20,012,350 ms by the wall clock. By hand: fire times are 10 s + k × 10 s; the
  // latest at or before it is 20,010,000 (coalesced), then 20,020,000 and 20,030,000 within the advance.
  assert.deepEqual(slots, [10_000, 20_010_000, 20_020_000, 20_030_000]);
  await scheduler.shutdown();
});

test('after a wall-clock step back of an hour, a run whose holder died is abandoned when its lease ends, not an hour later', async () => {
  const store = new MemoryStore();
  const clock = new ManualClock(T);
  const scheduler = new Scheduler({ clock, store, logger: captureLogger() }); // heartbeat 10 s, wake-up 30 s at most
  await scheduler.start();
  await clock.advance(20_000); // the loop has reaped (found nothing) at least once
  clock.jump(-3_600_000); // NTP steps the host's wall clock back an hour
  // Another process leases a run with a 5 s lease, then dies (it never renews it).
  await store.addJob(
    job('elsewhere', {
      taskId: 'defined-elsewhere', // not defined here: this scheduler never starts the run itself
      retry: null,
      nextRunTime: new Date(T + 365 * 86_400_000),
    }),
    'error',
  );
  const run = await store.createManualRun('elsewhere', new Date(clock.now()));
  const [held] = await store.acquireRuns('dead-node', new Date(clock.now()), 1, 5000);
  assert.equal(held?.run.id, run.id);
  // The lease ends 5 s later; reaping comes within one wake-up (30 s) and one heartbeat interval (10 s).
  for (let i = 0; i < 60; i++) await clock.advance(1000);
  assert.equal((await store.getRun(run.id))?.status, 'abandoned');
  await scheduler.shutdown();
});

test('a cron job at minute 30: after it ran, a step back of an hour does not run the repeated 10:30 again; the next run is 11:30 by the wall clock', async () => {
  const clock = new ManualClock('2024-01-01T10:29:00Z');
  const scheduler = new Scheduler({ clock, logger: captureLogger() });
  const fired: string[] = [];
  await scheduler.addJob(
    (ctx: TaskContext) => void fired.push(ctx.scheduledFireTime.toISOString()),
    new CronTrigger({ expression: '30 * * * *', timezone: 'UTC' }),
  );
  await scheduler.start();
  await clock.advance(90_000); // 10:30:30
  assert.deepEqual(fired, ['2024-01-01T10:30:00.000Z']);
  clock.jump(-3_600_000); // the wall clock steps back to 09:30:30
  await clock.advance(3_600_000 + 60_000); // the wall clock passes 10:30 again (10:31:30)
  assert.deepEqual(fired, ['2024-01-01T10:30:00.000Z'], '10:30 ran once');
  await clock.advance(3_600_000); // 11:31:30 by the wall clock
  assert.deepEqual(fired, ['2024-01-01T10:30:00.000Z', '2024-01-01T11:30:00.000Z']);
  await scheduler.shutdown();
});

test('an idle scheduler notices a step of the wall clock forward at once, not at its next wake-up', async () => {
  const clock = new ManualClock(T);
  const scheduler = new Scheduler({ clock, logger: captureLogger() }); // memory store: wake-ups 30 s apart at most
  const ran: number[] = [];
  await scheduler.addJob(
    (ctx: TaskContext) => void ran.push(clock.now() - ctx.scheduledFireTime.getTime()),
    new DateTrigger(new Date(T + 20 * 60_000)),
    { id: 'report' },
  );
  await scheduler.start();
  await clock.advance(1000); // idle: the loop's timer is armed 30 s ahead (elapsed time)
  assert.deepEqual(ran, []);
  clock.jump(25 * 60_000); // NTP (or a resume from suspend) steps the wall clock 25 minutes forward
  await clock.settle(); // no time passes
  // By hand: the fire time T + 20 min; the clock reads T + 1 s + 25 min; the run starts 5 min 1 s late.
  assert.deepEqual(ran, [5 * 60_000 + 1000], 'the run owed since the step starts now');
  await scheduler.shutdown();
  clock.jump(60_000); // a shut-down scheduler no longer listens: nothing runs, nothing throws
  await clock.settle();
  assert.equal(scheduler.state, 'stopped');
});

test('a custom clock whose onStep throws: start() goes on (with a warning), steps are seen at the next wake-up', async () => {
  const inner = new ManualClock(T);
  const clock = customClock(inner, () => {
    throw new Error('no step listening here');
  });
  const logger = captureLogger();
  const scheduler = new Scheduler({ clock, logger });
  const ran: number[] = [];
  await scheduler.addJob(() => void ran.push(inner.now() - T), new DateTrigger(new Date(T + 60_000)), {
    id: 'once',
  });
  await scheduler.start();
  assert.equal(logger.messages('warn').filter((m) => m.includes('onStep')).length, 1);
  await inner.advance(0); // the first pass: idle, its timer armed 30 s ahead (elapsed time)
  inner.jump(120_000);
  await inner.settle();
  assert.deepEqual(ran, [], 'not at the step');
  await inner.advance(30_000); // the memory store's wake-up interval
  assert.deepEqual(ran, [150_000], 'at the next wake-up');
  await scheduler.shutdown();
});

test('a custom clock whose onStep answers no function, or whose remover throws: shutdown() still stops the scheduler and its store', async () => {
  for (const variant of ['returns an object', 'remover throws'] as const) {
    const inner = new ManualClock(T);
    const clock = customClock(inner, (listener) => {
      const off = inner.onStep(listener);
      if (variant === 'returns an object') return { unsubscribe: off } as never; // (an RxJS habit)
      return () => {
        off();
        throw new Error('cannot remove');
      };
    });
    const logger = captureLogger();
    const store = new MemoryStore();
    let stopped = false;
    const stop = store.stop.bind(store);
    store.stop = async () => {
      stopped = true;
      await stop();
    };
    const scheduler = new Scheduler({ clock, logger, store });
    const ran: number[] = [];
    await scheduler.addJob(() => void ran.push(inner.now() - T), new DateTrigger(new Date(T + 60_000)), {
      id: 'once',
    });
    await scheduler.start();
    await inner.advance(0);
    inner.jump(120_000); // the listener is registered all the same: the step wakes the loop
    await inner.settle();
    assert.deepEqual(ran, [120_000], variant);
    await scheduler.shutdown();
    assert.equal(scheduler.state, 'stopped', variant);
    assert.ok(stopped, `${variant}: the store was stopped`);
    assert.equal(logger.messages('warn').filter((m) => m.includes('onStep')).length, 1, variant);
    inner.jump(60_000); // a listener left registered does nothing now
    await inner.settle();
    assert.deepEqual(ran, [120_000], variant);
  }
});

test('ManualClock.jump: a step listener that throws is its own failure; the others are still told, as with SystemClock', () => {
  const clock = new ManualClock(T);
  const steps: number[] = [];
  clock.onStep(() => {
    throw new Error('listener bug');
  });
  clock.onStep((ms) => steps.push(ms));
  clock.jump(5000);
  assert.deepEqual(steps, [5000]);
  assert.equal(clock.now(), T + 5000);
});

/** A clock of the caller's own over `inner`, with the given `onStep`. */
function customClock(inner: ManualClock, onStep: (listener: (stepMs: number) => void) => () => void) {
  return {
    now: () => inner.now(),
    setTimeout: (cb: () => unknown, ms: number) => inner.setTimeout(cb, ms),
    clearTimeout: (h: Parameters<ManualClock['clearTimeout']>[0]) => inner.clearTimeout(h),
    sleep: (ms: number, signal?: AbortSignal) => inner.sleep(ms, signal),
    onStep,
  };
}

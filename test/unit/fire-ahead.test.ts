// fireAhead: a job is fired (its run created, its next fire time computed) a few ms before its fire time, and
// its run starts at the fire time, never before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IntervalTrigger, MemoryStore, Scheduler, TickworkError, type TaskContext } from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';
import { captureLogger } from '../helpers/logger.js';
import { at } from '../helpers/time.js';

const T = at('2024-01-01T00:00:00Z');

/** Every second from T+1000. */
const everySecond = () => new IntervalTrigger({ seconds: 1, startDate: new Date(T + 1000) });

/**
 * A scheduler (default options) on a manual clock at T with job `j` firing every second from T+1000; `ran`
 * gets `fire@start` of each run, in ms after T.
 */
async function secondsJob(): Promise<{ clock: ManualClock; scheduler: Scheduler; ran: string[] }> {
  const clock = new ManualClock(T);
  const scheduler = new Scheduler({ clock, logger: captureLogger() });
  const ran: string[] = [];
  await scheduler.addJob(
    (ctx: TaskContext) => {
      ran.push(`${ctx.scheduledFireTime.getTime() - T}@${clock.now() - T}`);
    },
    everySecond(),
    { id: 'j' },
  );
  return { clock, scheduler, ran };
}

test('fireAhead (default 10 ms): the run is created ahead and starts at its fire time exactly', async () => {
  const clock = new ManualClock(T);
  const scheduler = new Scheduler({ clock, logger: captureLogger() });
  const starts: { at: number; scheduled: number }[] = [];
  await scheduler.addJob(
    (ctx: TaskContext) => {
      starts.push({ at: clock.now(), scheduled: ctx.scheduledFireTime.getTime() });
    },
    everySecond(),
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

test('fireAhead: maxInstances is checked at the fire time, when the run fired ahead would start', async () => {
  // max 1 instance. The first run lasts 995 ms: it ends 5 ms before the next fire time, inside the window in
  // which that fire time is fired ahead; at the fire time the slot is free, so it runs (as with fireAhead 0).
  // A first run of 1005 ms is still going at the next fire time: that run is skipped, at the fire time.
  for (const [fireAhead, firstRunMs, expected] of [
    [10, 995, ['run@1000', 'run@2000', 'run@3000']],
    [0, 995, ['run@1000', 'run@2000', 'run@3000']],
    [10, 1005, ['run@1000', 'skip@2000 at 2000', 'run@3000']],
    [0, 1005, ['run@1000', 'skip@2000 at 2000', 'run@3000']],
  ] as const) {
    const clock = new ManualClock(T);
    const scheduler = new Scheduler({ clock, logger: captureLogger(), fireAhead });
    const seen: string[] = [];
    scheduler.on('job:max-instances', (e) =>
      seen.push(`skip@${Date.parse(e.scheduledFireTime) - T} at ${clock.now() - T}`),
    );
    let first = true;
    await scheduler.addJob(
      async (ctx: TaskContext) => {
        seen.push(`run@${ctx.scheduledFireTime.getTime() - T}`);
        if (first) {
          first = false;
          await clock.sleep(firstRunMs);
        }
      },
      everySecond(),
      { id: 'j', maxInstances: 1 },
    );
    await scheduler.start();
    await clock.advance(3000);
    assert.deepEqual(seen, expected, `fireAhead ${fireAhead}, first run ${firstRunMs} ms`);
    const statuses = (await scheduler.getRuns()).map((r) => r.status).sort();
    assert.deepEqual(
      statuses,
      firstRunMs > 1000 ? ['skipped', 'succeeded', 'succeeded'] : ['succeeded', 'succeeded', 'succeeded'],
    );
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

test('fireAhead: a negative, non-number or over 100 ms value is INVALID_OPTION naming fireAhead', () => {
  for (const bad of [-1, Number.NaN, '10', Infinity, 101]) {
    assert.throws(
      () => new Scheduler({ fireAhead: bad as number }),
      (err: unknown) =>
        err instanceof TickworkError && err.code === 'INVALID_OPTION' && err.details.field === 'fireAhead',
      `fireAhead ${String(bad)}`,
    );
  }
});

test('fireAhead: only fire times already due are coalesced; each fire time fired ahead gets its run', async () => {
  // A 4 ms interval with the default 10 ms window: every fire time runs (coalescing is for late ones).
  const clock = new ManualClock(T);
  const scheduler = new Scheduler({ clock, logger: captureLogger() });
  const ran: number[] = [];
  await scheduler.addJob(
    (ctx: TaskContext) => {
      ran.push(ctx.scheduledFireTime.getTime() - T);
    },
    new IntervalTrigger({ milliseconds: 4, startDate: new Date(T + 4) }),
    { id: 'fast', coalesce: true },
  );
  await scheduler.start();
  await clock.advance(200);
  assert.deepEqual(
    ran,
    Array.from({ length: 50 }, (_, i) => 4 * (i + 1)),
  );
  await scheduler.shutdown();
});

test('fireAhead: a fire time planned again in the window is not reported as skipped', async () => {
  // pauseJob + resumeJob 5 ms before a fire time fired ahead: the job's next fire time is that fire time
  // again; the store keeps the run fired ahead, and no job:max-instances is reported for it.
  const clock = new ManualClock(T);
  const scheduler = new Scheduler({ clock, logger: captureLogger() });
  const skipped: string[] = [];
  scheduler.on('job:max-instances', (e) => skipped.push(e.scheduledFireTime));
  const ran: number[] = [];
  await scheduler.addJob(
    (ctx: TaskContext) => {
      ran.push(ctx.scheduledFireTime.getTime() - T);
    },
    everySecond(),
    { id: 'j' },
  );
  await scheduler.start();
  await clock.advance(995);
  await scheduler.pauseJob('j');
  await scheduler.resumeJob('j');
  await clock.advance(1005);
  assert.deepEqual(ran, [1000, 2000]);
  assert.deepEqual(skipped, []);
  await scheduler.shutdown();
});

test('fireAhead: runs fired ahead of a pause() still start at their fire time; later ones wait', async () => {
  const { clock, scheduler, ran } = await secondsJob();
  await scheduler.start();
  await clock.advance(995);
  scheduler.pause();
  await clock.advance(2000);
  assert.deepEqual(ran, ['1000@1000'], 'decided before the pause: it runs; nothing fires while paused');
  scheduler.resume();
  await clock.advance(0);
  assert.deepEqual(ran, ['1000@1000', '2000@2995'], 'the owed fire time at resume (coalesced)');
  await scheduler.shutdown();
});

test('a persistent store never fires ahead', async () => {
  class PersistentMemory extends MemoryStore {
    override readonly persistent = true;
  }
  const clock = new ManualClock(T);
  const scheduler = new Scheduler({ clock, logger: captureLogger(), store: new PersistentMemory() });
  let started = 0;
  scheduler.defineTask('t', () => {
    started = clock.now();
  });
  await scheduler.addJob('t', everySecond(), {
    id: 'j',
  });
  await scheduler.start();
  await clock.advance(995);
  assert.deepEqual(await scheduler.getRuns(), [], 'nothing fired ahead');
  await clock.advance(5);
  assert.equal(started, T + 1000);
  await scheduler.shutdown();
});

test('a fire time that comes due while a pass that started nothing runs is fired at once, not a second later', async () => {
  // The pass starts at T+999 (resume() wakes the loop) and the wall clock reaches T+1000 during it: the
  // job due at T+1000 must not wait for the 1 s back-off meant for runs this process cannot start.
  class TickingStore extends MemoryStore {
    tick: (() => void) | null = null;
    override async getNextWakeTime(): Promise<Date | null> {
      const t = this.tick;
      this.tick = null;
      t?.();
      return super.getNextWakeTime();
    }
  }
  const clock = new ManualClock(T);
  const store = new TickingStore();
  const scheduler = new Scheduler({ clock, logger: captureLogger(), store, fireAhead: 0 });
  const starts: number[] = [];
  await scheduler.addJob(
    () => {
      starts.push(clock.now() - T);
    },
    'date',
    { runDate: new Date(T + 1000), id: 'due' },
  );
  await scheduler.start();
  await clock.advance(999);
  scheduler.pause();
  store.tick = () => clock.jump(1);
  scheduler.resume();
  await clock.advance(0);
  assert.deepEqual(starts, [1000]);
  await scheduler.shutdown();
});

test('fireAhead: a run fired ahead and then made late by a clock step runs at the step and holds its slot', async () => {
  // Fired ahead at T+990 for T+1000; the wall clock then steps 5 s forward, to T+5995, which wakes the loop:
  // the run fired before the step starts then, late (as a run that waited for a slot does), and holds the
  // job's one slot: the backlog owed at the step (T+2000 to T+5000, coalesced to T+5000) is skipped, and so
  // is T+6000 (fired ahead only with a free slot, decided at its fire time).
  const clock = new ManualClock(T);
  const scheduler = new Scheduler({ clock, logger: captureLogger() });
  const ran: string[] = [];
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  await scheduler.addJob(
    async (ctx: TaskContext) => {
      ran.push(`${ctx.scheduledFireTime.getTime() - T}@${clock.now() - T}`);
      if (ctx.scheduledFireTime.getTime() === T + 1000) await held;
    },
    everySecond(),
    { id: 'j' },
  );
  const skipped: number[] = [];
  scheduler.on('job:max-instances', (e) => skipped.push(Date.parse(e.scheduledFireTime) - T));
  await scheduler.start();
  await clock.advance(995);
  assert.equal((await scheduler.getRuns())[0]?.status, 'pending', 'fired ahead');
  clock.jump(5000);
  await clock.settle();
  assert.deepEqual(ran, ['1000@5995'], 'the step wakes the loop: the late run starts at once');
  assert.deepEqual(skipped, [5000]);
  await clock.advance(5);
  assert.deepEqual(skipped, [5000, 6000]);
  release();
  await clock.advance(1000);
  assert.deepEqual(ran, ['1000@5995', '7000@7000'], 'then on time again');
  await scheduler.shutdown();
});

/**
 * Runs `scenario` with fireAhead 0 and 10 and returns what each saw: run starts and the store's run records
 * (fire time and status), in order.
 */
async function both(
  scenario: (s: Scheduler, clock: ManualClock, log: (line: string) => void) => Promise<void>,
  options: { maxConcurrentRuns?: number; random?: () => number } = {},
): Promise<[string[], string[]]> {
  const out: string[][] = [];
  for (const fireAhead of [0, 10]) {
    const clock = new ManualClock(T);
    const scheduler = new Scheduler({ clock, logger: captureLogger(), fireAhead, ...options });
    const lines: string[] = [];
    scheduler.on('job:max-instances', (e) => lines.push(`skip ${Date.parse(e.scheduledFireTime) - T}`));
    await scheduler.start();
    await scenario(scheduler, clock, (line) => lines.push(`${line}@${clock.now() - T}`));
    const runs = await scheduler.getRuns({ limit: 1000 });
    // (Runs fired ahead of fire times still to come exist with fireAhead only: not compared.)
    for (const r of runs.reverse()) {
      if (r.scheduledFireTime.getTime() > clock.now()) continue;
      lines.push(`run ${r.jobId} ${r.scheduledFireTime.getTime() - T} ${r.status}`);
    }
    out.push(lines);
    await scheduler.shutdown({ wait: false });
  }
  return [out[0]!, out[1]!];
}

/** A job due at T + 1 ms that runs 30 ms: it holds a `maxConcurrentRuns: 1` process's only slot. */
async function addLongJob(s: Scheduler, clock: ManualClock, log: (line: string) => void): Promise<void> {
  await s.addJob(
    async () => {
      log('long');
      await clock.sleep(30);
    },
    new IntervalTrigger({ hours: 1, startDate: new Date(T + 1) }),
    { id: 'long' },
  );
}

test('fireAhead: runs waiting for a slot or for jitter count against maxInstances as at the fire time', async () => {
  // maxConcurrentRuns 1: a 30 ms job holds the only slot while a 5 ms job (maxInstances 1) comes due.
  const [slot0, slot10] = await both(
    async (s, clock, log) => {
      await addLongJob(s, clock, log);
      await s.addJob(
        (ctx: TaskContext) => log(`short ${ctx.scheduledFireTime.getTime() - T}`),
        new IntervalTrigger({ milliseconds: 5, startDate: new Date(T + 5) }),
        { id: 'short', coalesce: false },
      );
      await clock.advance(40);
    },
    { maxConcurrentRuns: 1 },
  );
  assert.deepEqual(slot10, slot0);
  // jitter 300 ms on a 20 ms interval: the jittered pending run holds the job's one instance.
  let seed = 1;
  const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
  const [jit0, jit10] = await both(
    async (s, clock, log) => {
      await s.addJob(
        (ctx: TaskContext) => log(`j ${ctx.scheduledFireTime.getTime() - T}`),
        new IntervalTrigger({ milliseconds: 20, startDate: new Date(T + 20) }),
        { id: 'j', jitter: 300 },
      );
      seed = 1;
      await clock.advance(400);
    },
    { random },
  );
  assert.deepEqual(jit10, jit0);
});

test('fireAhead: a backlog owed at resume() runs at once, then the next fire time on time', async () => {
  const [a, b] = await both(async (s, clock, log) => {
    await s.addJob((ctx: TaskContext) => log(`j ${ctx.scheduledFireTime.getTime() - T}`), everySecond(), {
      id: 'j',
    });
    await clock.advance(500);
    s.pause();
    await clock.advance(5495);
    s.resume();
    await clock.advance(1010);
  });
  assert.deepEqual(b, a);
  assert.ok(a.includes('j 5000@5995') && a.includes('j 6000@6000'), a.join(', '));
});

test('fireAhead: a job replaced in the window runs as replaced at its fire time', async () => {
  const [a, b] = await both(async (s, clock, log) => {
    await s.addJob((...args: unknown[]) => log(`old ${args.length - 1}`), everySecond(), {
      id: 'j',
      args: ['x'],
    });
    await clock.advance(995);
    await s.addJob((...args: unknown[]) => log(`new ${String(args[0])}${String(args[1])}`), everySecond(), {
      id: 'j',
      args: ['x', 'y'],
      replaceExisting: true,
    });
    await clock.advance(5);
  });
  assert.deepEqual(b, a);
  assert.ok(a.includes('new xy@1000'), a.join(', '));
});

test(
  'fireAhead: pause() in the window while the run fired ahead has no free slot does not spin',
  { timeout: 10_000 },
  async () => {
    const [a, b] = await both(
      async (s, clock, log) => {
        await addLongJob(s, clock, log);
        await s.addJob(() => log('short'), new IntervalTrigger({ hours: 1, startDate: new Date(T + 10) }), {
          id: 'short',
        });
        await clock.advance(5);
        s.pause();
        await clock.advance(50);
        s.resume();
        await clock.advance(10);
      },
      { maxConcurrentRuns: 1 },
    );
    assert.deepEqual(b, a);
    assert.ok(a.includes('short@55'), a.join(', '));
  },
);

test('fireAhead: a job removed and added again in the window fires that time, as without firing ahead', async () => {
  const [a, b] = await both(async (s, clock, log) => {
    await s.addJob(() => log('old'), everySecond(), { id: 'j' });
    await clock.advance(995);
    await s.removeJob('j');
    await s.addJob(() => log('new'), everySecond(), { id: 'j' });
    await clock.advance(1005);
  });
  assert.deepEqual(b, a);
  assert.ok(a.includes('new@1000') && a.includes('new@2000'), a.join(', '));
});

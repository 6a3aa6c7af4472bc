// The behaviour cases of ../shared/vectors/behaviour.json, driven by a ManualClock. Expected start times,
// skips and counts come from the vector file (measured with APScheduler 3.9.1 and croner), never from tickwork.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IntervalTrigger, MemoryStore, Scheduler, type TaskContext } from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';
import { captureLogger } from '../helpers/logger.js';
import { at, loadVectors, vector, WrappedClock } from '../helpers/time.js';

interface BehaviourCase {
  id: string;
  after: string;
  expected: string[];
  input: Record<string, unknown> & { trigger?: { kind: string; expression?: string; every_ms?: number } };
  observable: Record<string, unknown>;
}

const cases = loadVectors<BehaviourCase>('behaviour.json');
const iso = (t: number) => new Date(t).toISOString();
const isoList = (list: string[]) => list.map((s) => iso(at(s)));

test('overlap-max-one-instance-skip: a busy slot is skipped with an event, never queued or overlapped', async () => {
  const c = vector(cases, 'overlap-max-one-instance-skip');
  assert.equal(c.input.trigger?.expression, '*/2 * * * * *');
  const t0 = at('2024-01-01T00:00:00Z');
  const clock = new ManualClock(c.after);
  const logger = captureLogger();
  const scheduler = new Scheduler({ clock, logger });
  const starts: number[] = [];
  const skipped: number[] = [];
  let running = 0;
  let maxRunning = 0;
  scheduler.on('job:max-instances', (e) => skipped.push(at(e.scheduledFireTime)));
  async function busy() {
    starts.push(clock.now());
    running++;
    maxRunning = Math.max(maxRunning, running);
    await clock.sleep(c.input.job_duration_ms as number);
    running--;
  }
  // The vector's cron `*/2 * * * * *` (every even second) is the same grid as a 2 s interval anchored at an
  // even second; the CronTrigger is being written elsewhere, and the starts and skips are the same.
  await scheduler.addJob(busy, new IntervalTrigger({ seconds: 2, startDate: new Date(t0) }), {
    maxInstances: c.input.max_concurrent_instances as number,
  });
  await scheduler.start();
  await clock.advanceTo(c.input.observe_until as string);
  assert.deepEqual(starts.map(iso), isoList(c.expected));
  const hms = (t: number) => iso(t).slice(11, 19);
  assert.deepEqual(starts.map(hms), c.observable.executions_started);
  assert.deepEqual(skipped.map(hms), c.observable.slots_skipped_with_event);
  assert.equal(maxRunning, c.observable.max_running_at_any_time);
  assert.equal(logger.messages('warn').filter((m) => m.includes('skipped: maximum number')).length, 5);
  // Skipped slots are not replayed later: the run history has exactly the expected pending/ran slots.
  const runs = await scheduler.getRuns({ status: ['succeeded', 'running'] });
  assert.deepEqual(runs.map((r) => r.scheduledFireTime.toISOString()).sort(), isoList(c.expected).sort());
  await scheduler.shutdown({ wait: false });
});

/** Adds a job while the clock is early, shuts down, lets time pass, and starts a new scheduler on the store. */
async function downtime(options: {
  clock: ManualClock;
  store: MemoryStore;
  add: (s: Scheduler) => Promise<unknown>;
  downUntil: string;
}): Promise<void> {
  const first = new Scheduler({ clock: options.clock, store: options.store, logger: captureLogger() });
  await options.add(first);
  await first.start();
  await first.shutdown();
  await options.clock.advanceTo(options.downUntil);
}

for (const id of ['misfire-no-coalesce-catch-up-all', 'misfire-coalesce-one-run'] as const) {
  test(`${id}: owed fire times after downtime follow coalesce, and the grid is kept`, async () => {
    const c = vector(cases, id);
    const T = at(c.input.persisted_next_run as string);
    const clock = new ManualClock(c.after);
    const store = new MemoryStore();
    const ran: { at: number; scheduled: number }[] = [];
    function report(ctx: TaskContext) {
      ran.push({ at: clock.now(), scheduled: ctx.scheduledFireTime.getTime() });
    }
    const every = c.input.trigger!.every_ms!;
    const policy = {
      coalesce: c.input.coalesce as boolean,
      misfireGraceTime: c.input.misfire_grace_ms as number | null,
      maxInstances: (c.input.max_concurrent_instances as number | undefined) ?? 1,
    };
    await downtime({
      clock,
      store,
      add: (s) =>
        s.addJob(report, new IntervalTrigger({ milliseconds: every, startDate: new Date(T) }), {
          id: 'report',
          ...policy,
        }),
      downUntil: c.input.process_down_until as string,
    });
    const restart = clock.now();
    assert.ok(restart > T, 'the stored fire time is in the past at restart');
    const scheduler = new Scheduler({ clock, store, logger: captureLogger() });
    scheduler.defineTask('report', report);
    const missed: string[] = [];
    scheduler.on('job:missed', (e) => missed.push(e.scheduledFireTime));
    await scheduler.start();
    await clock.advance(1);
    const atRestart = ran.filter((r) => r.at <= restart + 1);
    const runsAtRestart = c.observable.runs_at_restart as number;
    assert.equal(atRestart.length, runsAtRestart);
    assert.ok(atRestart.every((r) => r.at === restart));
    const catchUp = c.expected.slice(0, runsAtRestart);
    assert.deepEqual(
      atRestart.map((r) => iso(r.scheduled)),
      isoList(catchUp),
    );
    assert.equal((await scheduler.getJob('report'))!.nextRunTime!.toISOString(), iso(at(c.expected.at(-1)!)));
    await clock.advanceTo(c.expected.at(-1)!);
    assert.equal(ran.length, c.expected.length);
    assert.deepEqual(
      ran.map((r) => iso(r.scheduled)),
      isoList(c.expected),
    );
    assert.equal(ran.at(-1)!.at, at(c.expected.at(-1)!), 'the next regular run is on the original grid');
    assert.equal(missed.length, c.observable.missed_events);
    await scheduler.shutdown();
  });
}

for (const variant of ['variant_a', 'variant_b'] as const) {
  test(`date-trigger-missed-while-down (${variant}): runs once or is missed once, then the job is gone`, async () => {
    const c = vector(cases, 'date-trigger-missed-while-down');
    const input = c.input as unknown as {
      trigger: { run_at: string };
      scheduler_starts_at: string;
      variant_a: { misfire_grace_ms: number | null };
      variant_b: { misfire_grace_ms: number | null };
    };
    const clock = new ManualClock(c.after);
    const store = new MemoryStore();
    const ran: { at: number; scheduled: number }[] = [];
    function oneOff(ctx: TaskContext) {
      ran.push({ at: clock.now(), scheduled: ctx.scheduledFireTime.getTime() });
    }
    await downtime({
      clock,
      store,
      add: (s) =>
        s.addJob(oneOff, 'date', {
          runDate: input.trigger.run_at,
          id: 'one-off',
          misfireGraceTime: input[variant].misfire_grace_ms,
        }),
      downUntil: input.scheduler_starts_at,
    });
    const logger = captureLogger();
    const scheduler = new Scheduler({ clock, store, logger });
    scheduler.defineTask('oneOff', oneOff);
    const missed: { scheduledFireTime: string; lateBy: number }[] = [];
    scheduler.on('job:missed', (e) => missed.push(e));
    await scheduler.start();
    await clock.advance(3_600_000);
    const expectedRuns = c.observable[`${variant}_runs`] as number;
    assert.equal(ran.length, expectedRuns);
    if (expectedRuns === 1) {
      assert.equal(ran[0]!.at, at(input.scheduler_starts_at), 'runs at start-up');
      assert.equal(iso(ran[0]!.scheduled), iso(at(c.expected[0]!)));
      assert.equal(missed.length, 0);
    } else {
      assert.equal(missed.length, c.observable.variant_b_missed_events);
      assert.equal(missed[0]!.scheduledFireTime, iso(at(c.expected[0]!)));
      assert.equal(missed[0]!.lateBy, 5 * 60_000);
      assert.ok(
        logger.messages('warn').some((m) => /^Run time of job "oneOff .*" was missed by 0:05:00$/.test(m)),
        logger.messages('warn').join('\n'),
      );
    }
    assert.equal(await scheduler.getJob('one-off'), null, 'the job does not linger');
    assert.equal((await store.getJobs()).length, 0);
    await scheduler.shutdown();
  });
}

test('duplicate-registration-on-restart: re-adding with replaceExisting keeps one schedule and its nextRunTime', async () => {
  const c = vector(cases, 'duplicate-registration-on-restart');
  const [from, until] = c.input.observe_window as [string, string];
  const clock = new ManualClock(c.after);
  const store = new MemoryStore();
  const ran: number[] = [];
  const every = c.input.trigger!.every_ms!;
  const name = c.input.job_name as string;
  // One process lifetime per boot; boots at 0 s, then restarts (down 0.5 s, between slots) at 3, 5.5 and 7 s.
  const lifetimes: [string, string][] = [
    [from, '2024-01-01T00:00:03Z'],
    ['2024-01-01T00:00:03.500Z', '2024-01-01T00:00:05.500Z'],
    ['2024-01-01T00:00:05.600Z', '2024-01-01T00:00:07Z'],
    ['2024-01-01T00:00:07.100Z', until],
  ];
  assert.equal(lifetimes.length, 1 + (c.input.restarts as number));
  let previousNext: string | null = null;
  for (const [boot, stop] of lifetimes) {
    await clock.advanceTo(boot);
    const scheduler = new Scheduler({ clock, store, logger: captureLogger() });
    const fetchQuotes = (ctx: TaskContext) => void ran.push(ctx.scheduledFireTime.getTime());
    await scheduler.addJob(fetchQuotes, 'interval', {
      milliseconds: every,
      id: name,
      taskId: name,
      replaceExisting: true,
    });
    await scheduler.start();
    const stored = await store.getJobs();
    assert.equal(stored.length, 1, 'one schedule in the store after every boot');
    if (previousNext !== null) {
      assert.equal(
        stored[0]!.nextRunTime!.toISOString(),
        previousNext,
        're-adding does not move nextRunTime',
      );
    }
    await clock.advanceTo(stop);
    previousNext = (await store.getJob(name))!.nextRunTime!.toISOString();
    await scheduler.shutdown();
  }
  assert.deepEqual(ran.map(iso), isoList(c.expected));
  assert.equal(new Set(ran).size, ran.length, 'one execution per slot');
});

test('duplicate-across-instances (memory variant): 4 schedulers on one MemoryStore run each slot once', async () => {
  const c = vector(cases, 'duplicate-across-instances-shared-store');
  const clock = new ManualClock(c.input.startup as string);
  const store = new MemoryStore();
  const runs: { slot: string; instance: number }[] = [];
  const schedulers: Scheduler[] = [];
  for (let i = 0; i < (c.input.instances as number); i++) {
    const scheduler = new Scheduler({ clock, store, logger: captureLogger(), nodeId: `node-${i}` });
    const jobA = (ctx: TaskContext) =>
      void runs.push({ slot: ctx.scheduledFireTime.toISOString(), instance: i });
    // Cron '*/30 * * * *' is the same grid as a 30 min interval anchored at a full hour.
    await scheduler.addJob(jobA, 'interval', {
      minutes: 30,
      startDate: '2021-03-10T17:00:00Z',
      id: 'job-a',
      replaceExisting: true,
    });
    schedulers.push(scheduler);
  }
  await Promise.all(schedulers.map((s) => s.start()));
  assert.equal((await store.getJobs()).length, c.observable.job_definitions_in_store);
  await clock.advanceTo(c.input.observe_until as string);
  assert.deepEqual(
    runs.map((r) => r.slot),
    isoList(c.expected),
  );
  assert.equal(runs.length, c.observable.total_executions_in_window);
  const allRuns = await store.getRuns({ jobId: 'job-a' });
  assert.equal(allRuns.length, c.expected.length, 'one run record per slot');
  await Promise.all(schedulers.map((s) => s.shutdown()));
});

test('early-timer-no-double-fire: a wake-up 5 ms early never runs a slot early or twice (interval equivalent)', async () => {
  const c = vector(cases, 'early-timer-no-double-fire');
  const early = c.input.timer_fires_early_by_ms as number;
  // The vector's cron `0 45 8,13 * * *` in New York fires at 08:45 and 13:45 EDT: a 5 h interval anchored at
  // the first slot gives the same two slots.
  const [first, second] = c.expected.map(at) as [number, number];
  const clock = new ManualClock(c.after);
  const wrapped = new WrappedClock(clock, early);
  const scheduler = new Scheduler({ clock: wrapped, logger: captureLogger() });
  const starts: { at: number; slot: number }[] = [];
  const job = (ctx: TaskContext) =>
    void starts.push({ at: clock.now(), slot: ctx.scheduledFireTime.getTime() });
  await scheduler.addJob(
    job,
    new IntervalTrigger({ milliseconds: second - first, startDate: new Date(first) }),
  );
  await scheduler.start();
  await clock.advanceTo(second + 60_000);
  assert.deepEqual(
    starts.map((s) => s.slot),
    [first, second],
  );
  for (const s of starts) assert.ok(s.at >= s.slot, `started ${s.at - s.slot} ms before its slot`);
  assert.equal(starts[0]!.at, at(c.observable.earliest_allowed_start as string));
  await scheduler.shutdown();
});

test('early-timer-no-double-fire: the wall clock stepping back 5 ms before a slot does not double it', async () => {
  const c = vector(cases, 'early-timer-no-double-fire');
  const early = c.input.timer_fires_early_by_ms as number;
  const [first, second] = c.expected.map(at) as [number, number];
  const clock = new ManualClock(first - 1000);
  const scheduler = new Scheduler({ clock, logger: captureLogger() });
  const starts: { at: number; slot: number }[] = [];
  await scheduler.addJob(
    (ctx: TaskContext) => void starts.push({ at: clock.now(), slot: ctx.scheduledFireTime.getTime() }),
    'date',
    { runDate: new Date(first) },
  );
  const job2 = await scheduler.addJob(
    function second_(ctx: TaskContext) {
      starts.push({ at: clock.now(), slot: ctx.scheduledFireTime.getTime() });
    },
    new IntervalTrigger({ milliseconds: second - first, startDate: new Date(first) }),
  );
  await scheduler.start();
  await clock.advance(1000 - early - 1);
  clock.jump(-early); // the armed timer is now due when the wall clock reads slot - 5 ms
  await clock.advance(early + 1); // fires at 08:44:59.995 wall time
  assert.equal(starts.length, 0, 'nothing runs before the slot');
  await clock.advance(early);
  assert.equal(starts.length, 2, 'both jobs run once the clock reaches the slot');
  assert.ok(starts.every((s) => s.slot === first && s.at === first));
  await clock.advance(10_000);
  assert.equal(starts.length, 2, 'no second run of the slot');
  assert.equal((await scheduler.getJob(job2.id))!.nextRunTime!.getTime(), second);
  await scheduler.shutdown();
});

test('shutdown-while-running-drains: stop waits for the running run, starts nothing new', async () => {
  const c = vector(cases, 'shutdown-while-running-drains');
  const t0 = at(c.expected[0]!);
  const clock = new ManualClock(c.after);
  const scheduler = new Scheduler({ clock, logger: captureLogger() });
  const starts: number[] = [];
  const finished: number[] = [];
  let signalAborted = false;
  async function work(ctx: TaskContext) {
    starts.push(clock.now());
    await clock.sleep(c.input.job_duration_ms as number);
    signalAborted = ctx.signal.aborted;
    finished.push(clock.now());
  }
  // `* * * * * *` = every second: an interval of 1 s anchored at the first slot.
  await scheduler.addJob(work, new IntervalTrigger({ seconds: 1, startDate: new Date(t0) }));
  await scheduler.start();
  await clock.advanceTo(c.input.stop_requested_at as string);
  let stoppedAt: number | null = null;
  const stopped = scheduler
    .shutdown({ timeout: c.input.shutdown_timeout_ms as number })
    .then(() => (stoppedAt = clock.now()));
  await clock.advance(1000);
  assert.equal(stoppedAt, null, 'shutdown waits while the run is going');
  await clock.advance(20_000);
  await stopped;
  assert.deepEqual(starts.map(iso), isoList(c.expected));
  assert.equal(starts.length, c.observable.executions_started);
  assert.deepEqual(finished, [t0 + (c.input.job_duration_ms as number)], 'the running execution completes');
  assert.equal(stoppedAt, at('2024-01-01T00:00:02Z'));
  assert.equal(signalAborted, false);
  const runs = await scheduler.store.getRuns();
  assert.deepEqual(
    runs.map((r) => r.status),
    ['succeeded'],
  );
});

// Event payloads are plain JSON and carry the job id; listeners that throw never stop the scheduler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IntervalTrigger, Scheduler, type SchedulerEventName, type TaskContext } from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';
import { captureLogger } from '../helpers/logger.js';
import { at } from '../helpers/time.js';

const T = at('2024-01-01T00:00:00Z');
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

test('every event of a job and its runs is plain JSON, with ISO times and the job id', async () => {
  const clock = new ManualClock(T - 1000);
  const scheduler = new Scheduler({ clock, logger: captureLogger(), random: () => 0.5 });
  const events: { name: SchedulerEventName; payload: Record<string, unknown> }[] = [];
  scheduler.onAny((payload, name) => void events.push({ name, payload: payload as Record<string, unknown> }));
  let n = 0;
  await scheduler.addJob(
    async (ctx: TaskContext) => {
      n++;
      if (n === 2) throw new Error('second run fails');
      if (n === 3) await clock.sleep(5000, ctx.signal).catch(() => {});
      return n === 1 ? undefined : new Date(0); // neither undefined nor a Date is JSON
    },
    new IntervalTrigger({ seconds: 1, startDate: new Date(T) }),
    { id: 'j', timeout: 1500, misfireGraceTime: 500 },
  );
  await scheduler.start();
  await clock.advance(1000 + 4000);
  await scheduler.runJob('j');
  await scheduler.modifyJob('j', { name: 'renamed' });
  await scheduler.pauseJob('j');
  await scheduler.resumeJob('j');
  await clock.advance(3000);
  await scheduler.removeJob('j');
  await scheduler.shutdown();
  const names = new Set(events.map((e) => e.name));
  for (const expected of [
    'job:added',
    'scheduler:started',
    'job:submitted',
    'job:executed',
    'job:error',
    'job:max-instances',
    'job:modified',
    'job:paused',
    'job:resumed',
    'job:removed',
    'scheduler:shutdown',
  ] as const) {
    assert.ok(names.has(expected), `saw ${expected}`);
  }
  for (const { name, payload } of events) {
    assert.deepEqual(JSON.parse(JSON.stringify(payload)), payload, `${name} payload is plain JSON`);
    if (name.startsWith('job:')) assert.equal(payload.jobId, 'j', `${name} carries the job id`);
    for (const key of ['scheduledFireTime', 'startedAt', 'finishedAt']) {
      if (key in payload) assert.match(payload[key] as string, ISO, `${name}.${key}`);
    }
  }
  const executed = events.filter((e) => e.name === 'job:executed');
  assert.equal(executed[0]!.payload.scheduledFireTime, '2024-01-01T00:00:00.000Z');
});

test('a missed fire time emits a plain-JSON job:missed event', async () => {
  const clock = new ManualClock(T - 1000);
  const scheduler = new Scheduler({ clock, logger: captureLogger() });
  const payloads: unknown[] = [];
  scheduler.on('job:missed', (p) => void payloads.push(p));
  await scheduler.addJob(function late() {}, new IntervalTrigger({ seconds: 10, startDate: new Date(T) }), {
    id: 'late',
    misfireGraceTime: 1000,
  });
  await scheduler.start({ paused: true });
  await clock.advance(1000 + 5000);
  scheduler.resume();
  await clock.advance(0);
  assert.deepEqual(payloads, [
    {
      jobId: 'late',
      name: 'late',
      scheduledFireTime: '2024-01-01T00:00:00.000Z',
      lateBy: 5000,
      misfireGraceTime: 1000,
    },
  ]);
  await scheduler.shutdown();
});

test('a listener that throws (sync or async) is logged and the scheduler goes on', async () => {
  const clock = new ManualClock(T - 1000);
  const logger = captureLogger();
  const scheduler = new Scheduler({ clock, logger });
  const ran: string[] = [];
  const later: string[] = [];
  scheduler.on('job:submitted', () => {
    throw new Error('sync listener bug');
  });
  scheduler.on('job:executed', async () => {
    throw new Error('async listener bug');
  });
  scheduler.on('job:submitted', (e) => void later.push(e.scheduledFireTime));
  await scheduler.addJob(
    (ctx: TaskContext) => void ran.push(ctx.scheduledFireTime.toISOString()),
    new IntervalTrigger({ seconds: 1, startDate: new Date(T) }),
  );
  await scheduler.start();
  await clock.advance(1000 + 2000);
  assert.equal(ran.length, 3, 'every fire time ran');
  assert.deepEqual(later, ran, 'the listeners after the throwing one were called');
  const errors = logger.lines.filter((l) => l.level === 'error');
  assert.equal(errors.filter((l) => l.msg === 'A listener of event "job:submitted" threw').length, 3);
  assert.equal(errors.filter((l) => l.msg === 'A listener of event "job:executed" threw').length, 3);
  const runs = await scheduler.getRuns();
  assert.deepEqual(
    runs.map((r) => r.status),
    ['succeeded', 'succeeded', 'succeeded'],
  );
  await scheduler.shutdown();
});

test('a listener that throws while the logger throws too: the runs go on and are recorded', async () => {
  const clock = new ManualClock(T - 1000);
  const logger = captureLogger();
  logger.error = () => {
    throw new Error('logger bug');
  };
  const scheduler = new Scheduler({ clock, logger });
  const ran: string[] = [];
  scheduler.on('job:submitted', () => {
    throw new Error('sync listener bug');
  });
  scheduler.on('job:executed', async () => {
    throw new Error('async listener bug');
  });
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => void unhandled.push(err);
  process.on('unhandledRejection', onUnhandled);
  try {
    await scheduler.addJob(
      (ctx: TaskContext) => void ran.push(ctx.scheduledFireTime.toISOString()),
      new IntervalTrigger({ seconds: 1, startDate: new Date(T) }),
      { id: 'j', maxInstances: 1 },
    );
    await scheduler.start();
    await clock.advance(1000 + 2000);
    assert.equal(ran.length, 3, 'every fire time ran');
    assert.deepEqual(
      (await scheduler.getRuns()).map((r) => r.status),
      ['succeeded', 'succeeded', 'succeeded'],
    );
    assert.equal(scheduler.getRunningRuns().length, 0);
    await scheduler.shutdown();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test('a logger whose every method throws loses its lines, nothing else: start, runs (a task that throws too), retries and shutdown go on', async () => {
  const clock = new ManualClock(T - 1000);
  const calls: string[] = [];
  const thrower = (level: string) => (): never => {
    calls.push(level);
    throw new Error(`logger ${level} bug`);
  };
  const logger = {
    debug: thrower('debug'),
    info: thrower('info'),
    warn: thrower('warn'),
    error: thrower('error'),
    isLevelEnabled: (): never => {
      throw new Error('isLevelEnabled bug');
    },
  };
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => void unhandled.push(err);
  process.on('unhandledRejection', onUnhandled);
  try {
    const scheduler = new Scheduler({ clock, logger });
    let n = 0;
    await scheduler.addJob(
      () => {
        if (++n % 2 === 1) throw new Error('task failed');
      },
      new IntervalTrigger({ seconds: 1, startDate: new Date(T) }),
      { id: 'j', retry: { attempts: 2, backoff: 'fixed', delay: 100 } },
    );
    await scheduler.start();
    await clock.advance(1000 + 1500);
    // Each fire time fails once, and its retry (100 ms later) succeeds.
    const runs = await scheduler.getRuns({ jobId: 'j' });
    assert.deepEqual(runs.map((r) => [r.scheduledFireTime.getTime() - T, r.status, r.attempt]).sort(), [
      [0, 'succeeded', 2],
      [1000, 'succeeded', 2],
    ]);
    await scheduler.shutdown();
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(calls.includes('info') && calls.includes('error'), `the logger was called: ${calls.join(' ')}`);
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

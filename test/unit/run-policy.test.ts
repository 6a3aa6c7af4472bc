// Per-job run policy: timeout, misfireGraceTime with and without coalesce, jitter, retries, and what a task
// receives. Expected times are worked out by hand from the options given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IntervalTrigger, Scheduler, silentLogger, type TaskContext } from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';
import { captureLogger } from '../helpers/logger.js';
import { at } from '../helpers/time.js';

const T = at('2024-01-01T00:00:00Z');
const iso = (t: number) => new Date(t).toISOString();

function setup(options: { random?: () => number } = {}) {
  const clock = new ManualClock(T - 1000);
  const logger = captureLogger();
  const scheduler = new Scheduler({ clock, logger, ...options });
  return { clock, logger, scheduler };
}

test('the task receives its args, then { jobId, scheduledFireTime, signal, attempt, idempotencyKey }', async () => {
  const { clock, scheduler } = setup();
  const calls: unknown[][] = [];
  await scheduler.addJob(
    (...args: unknown[]) => void calls.push(args),
    new IntervalTrigger({ seconds: 10, startDate: new Date(T) }),
    {
      id: 'j1',
      args: ['x', 2],
    },
  );
  await scheduler.start();
  await clock.advance(1000);
  assert.equal(calls.length, 1);
  const [a, b, ctx] = calls[0] as [string, number, TaskContext];
  assert.deepEqual([a, b], ['x', 2]);
  assert.equal(ctx.jobId, 'j1');
  assert.equal(ctx.scheduledFireTime.toISOString(), iso(T));
  assert.ok(ctx.signal instanceof AbortSignal);
  assert.equal(ctx.signal.aborted, false);
  assert.equal(ctx.attempt, 1);
  assert.equal(ctx.idempotencyKey, 'j1@2024-01-01T00:00:00.000Z');
  assert.equal(ctx.manual, false);
  await scheduler.shutdown();
});

test('timeout: the signal fires, the run is timed-out, and it stops counting against maxInstances', async () => {
  const { clock, scheduler } = setup();
  const starts: number[] = [];
  const aborts: { at: number; reason: unknown }[] = [];
  const errors: { status: string; code?: string; scheduledFireTime: string; willRetry: boolean }[] = [];
  scheduler.on('job:error', (e) =>
    errors.push({
      status: e.status,
      code: e.error.code,
      scheduledFireTime: e.scheduledFireTime,
      willRetry: e.willRetry,
    }),
  );
  const skipped: string[] = [];
  scheduler.on('job:max-instances', (e) => skipped.push(e.scheduledFireTime));
  // Every 1 s, timeout 1.5 s, and a body that ignores its signal and never ends.
  await scheduler.addJob(
    (ctx: TaskContext) => {
      starts.push(clock.now() - T);
      ctx.signal.addEventListener('abort', () =>
        aborts.push({ at: clock.now() - T, reason: ctx.signal.reason }),
      );
      return new Promise(() => {});
    },
    new IntervalTrigger({ seconds: 1, startDate: new Date(T) }),
    { id: 'stuck', timeout: 1500 },
  );
  await scheduler.start();
  await clock.advance(1000 + 3500);
  // 0 s: start; 1 s: skipped (still running); 1.5 s: timed out; 2 s: runs again; 3 s: skipped; 3.5 s: timed out.
  assert.deepEqual(starts, [0, 2000]);
  assert.deepEqual(skipped, [iso(T + 1000), iso(T + 3000)]);
  assert.deepEqual(
    aborts.map((a) => a.at),
    [1500, 3500],
  );
  assert.equal((aborts[0]!.reason as { code?: string }).code, 'RUN_TIMED_OUT');
  assert.deepEqual(errors, [
    { status: 'timed-out', code: 'RUN_TIMED_OUT', scheduledFireTime: iso(T), willRetry: false },
    { status: 'timed-out', code: 'RUN_TIMED_OUT', scheduledFireTime: iso(T + 2000), willRetry: false },
  ]);
  const runs = await scheduler.getRuns({ jobId: 'stuck', status: 'timed-out' });
  assert.equal(runs.length, 2);
  await scheduler.shutdown({ wait: false });
});

/** A 10 s interval job from T whose scheduler is paused from before T until T + 25 s (25 s of owed time). */
async function pausedThrough(options: { coalesce: boolean; misfireGraceTime: number | null }) {
  const { clock, logger, scheduler } = setup();
  const ran: string[] = [];
  const missed: {
    scheduledFireTime: string;
    lateBy: number;
    misfireGraceTime: number | null;
    jobId: string;
  }[] = [];
  scheduler.on('job:missed', (e) =>
    missed.push({
      scheduledFireTime: e.scheduledFireTime,
      lateBy: e.lateBy,
      misfireGraceTime: e.misfireGraceTime,
      jobId: e.jobId,
    }),
  );
  async function tick(ctx: TaskContext) {
    ran.push(ctx.scheduledFireTime.toISOString());
  }
  await scheduler.addJob(tick, new IntervalTrigger({ seconds: 10, startDate: new Date(T) }), {
    id: 'tick',
    maxInstances: 5,
    ...options,
  });
  await scheduler.start({ paused: true });
  await clock.advance(1000 + 25_000);
  assert.deepEqual(ran, [], 'nothing fires while the scheduler is paused');
  scheduler.resume();
  await clock.advance(1);
  return { ran, missed, logger, clock, scheduler };
}

test('misfireGraceTime without coalesce: each late fire time is missed or run on its own', async () => {
  const { ran, missed, logger, scheduler, clock } = await pausedThrough({
    coalesce: false,
    misfireGraceTime: 6000,
  });
  // Late by 25 s and 15 s: missed; late by 5 s: within 6 s, runs.
  assert.deepEqual(ran, [iso(T + 20_000)]);
  assert.deepEqual(missed, [
    { jobId: 'tick', scheduledFireTime: iso(T), lateBy: 25_000, misfireGraceTime: 6000 },
    { jobId: 'tick', scheduledFireTime: iso(T + 10_000), lateBy: 15_000, misfireGraceTime: 6000 },
  ]);
  const warnings = logger.messages('warn').filter((m) => m.startsWith('Run time of job'));
  assert.deepEqual(warnings, [
    'Run time of job "tick (trigger: interval[0:00:10], next run at: 2024-01-01 00:00:30 UTC)" was missed by 0:00:25',
    'Run time of job "tick (trigger: interval[0:00:10], next run at: 2024-01-01 00:00:30 UTC)" was missed by 0:00:15',
  ]);
  const statuses = (await scheduler.getRuns({ jobId: 'tick' })).map((r) => r.status);
  assert.deepEqual(statuses, ['succeeded', 'missed', 'missed']);
  await clock.advance(5000);
  assert.deepEqual(ran, [iso(T + 20_000), iso(T + 30_000)], 'back on the grid');
  await scheduler.shutdown();
});

test('misfireGraceTime with coalesce: only the latest fire time counts', async () => {
  const a = await pausedThrough({ coalesce: true, misfireGraceTime: 6000 });
  assert.deepEqual(a.ran, [iso(T + 20_000)]);
  assert.deepEqual(a.missed, []);
  await a.scheduler.shutdown();
  const b = await pausedThrough({ coalesce: true, misfireGraceTime: 4000 });
  assert.deepEqual(b.ran, []);
  assert.deepEqual(b.missed, [
    { jobId: 'tick', scheduledFireTime: iso(T + 20_000), lateBy: 5000, misfireGraceTime: 4000 },
  ]);
  assert.deepEqual(
    b.logger.messages('warn').filter((m) => m.startsWith('Run time of job')),
    [
      'Run time of job "tick (trigger: interval[0:00:10], next run at: 2024-01-01 00:00:30 UTC)" was missed by 0:00:05',
    ],
  );
  await b.scheduler.shutdown();
});

test('jitter: the run starts at fire time + jitter * random, the scheduled fire time stays on the grid', async () => {
  const { clock, scheduler } = setup({ random: () => 0.5 });
  const seen: { at: number; scheduled: number; key: string }[] = [];
  await scheduler.addJob(
    (ctx: TaskContext) =>
      void seen.push({
        at: clock.now(),
        scheduled: ctx.scheduledFireTime.getTime(),
        key: ctx.idempotencyKey,
      }),
    new IntervalTrigger({ seconds: 60, startDate: new Date(T) }),
    { id: 'j', jitter: 10_000 },
  );
  await scheduler.start();
  await clock.advance(1000 + 4999);
  assert.deepEqual(seen, [], 'not before fire time + 5 s');
  await clock.advance(1);
  await clock.advance(60_000);
  assert.deepEqual(seen, [
    { at: T + 5000, scheduled: T, key: `j@${iso(T)}` },
    { at: T + 65_000, scheduled: T + 60_000, key: `j@${iso(T + 60_000)}` },
  ]);
  // The trigger's own jitter applies when the job sets none.
  const second = setup({ random: () => 0.25 });
  const starts: number[] = [];
  await second.scheduler.addJob(
    () => void starts.push(second.clock.now()),
    new IntervalTrigger({ seconds: 60, startDate: new Date(T), jitter: 8000 }),
  );
  await second.scheduler.start();
  await second.clock.advance(1000 + 62_000);
  assert.deepEqual(starts, [T + 2000, T + 62_000]);
  await second.scheduler.shutdown();
  await scheduler.shutdown();
});

test('retries: attempts 1, 2, 3 a fixed 1 s apart, then failed', async () => {
  const { clock, logger, scheduler } = setup();
  const attempts: { attempt: number; at: number; key: string }[] = [];
  const errors: { attempt: number; willRetry: boolean; status: string; message: string }[] = [];
  scheduler.on('job:error', (e) =>
    errors.push({ attempt: e.attempt, willRetry: e.willRetry, status: e.status, message: e.error.message }),
  );
  await scheduler.addJob(
    (ctx: TaskContext) => {
      attempts.push({ attempt: ctx.attempt, at: clock.now() - T, key: ctx.idempotencyKey });
      throw new Error(`boom ${ctx.attempt}`);
    },
    new IntervalTrigger({ hours: 1, startDate: new Date(T) }),
    { id: 'flaky', retry: { attempts: 3, backoff: 'fixed', delay: 1000, jitter: false } },
  );
  await scheduler.start();
  await clock.advance(1000 + 10_000);
  assert.deepEqual(
    attempts.map((a) => [a.attempt, a.at]),
    [
      [1, 0],
      [2, 1000],
      [3, 2000],
    ],
  );
  assert.ok(
    attempts.every((a) => a.key === `flaky@${iso(T)}`),
    'one idempotency key for every attempt',
  );
  assert.deepEqual(errors, [
    { attempt: 1, willRetry: true, status: 'failed', message: 'boom 1' },
    { attempt: 2, willRetry: true, status: 'failed', message: 'boom 2' },
    { attempt: 3, willRetry: false, status: 'failed', message: 'boom 3' },
  ]);
  // The error line of each failed attempt says whether and when the next attempt runs.
  assert.deepEqual(
    logger.lines.filter((l) => l.level === 'error').map((l) => l.msg.replace(/^Job ".*?\)" /, 'Job ')),
    [
      `Job raised an exception; retry scheduled: attempt 2 of 3 at ${iso(T + 1000)}`,
      `Job raised an exception; retry scheduled: attempt 3 of 3 at ${iso(T + 2000)}`,
      'Job raised an exception; that was attempt 3 of 3, no retry left',
    ],
  );
  const runs = await scheduler.getRuns({ jobId: 'flaky' });
  assert.equal(runs.length, 1);
  assert.equal(runs[0]!.status, 'failed');
  assert.equal(runs[0]!.attempt, 3);
  assert.equal(runs[0]!.error!.message, 'boom 3');
  await scheduler.shutdown();
});

test('a retried run that succeeds is recorded succeeded on its second attempt', async () => {
  const { clock, scheduler } = setup();
  let n = 0;
  await scheduler.addJob(
    () => {
      if (++n === 1) throw new Error('first');
      return 'ok';
    },
    new IntervalTrigger({ hours: 1, startDate: new Date(T) }),
    { id: 'r', retry: 2 },
  );
  await scheduler.start();
  await clock.advance(1000 + 999);
  assert.equal(n, 1);
  await clock.advance(1);
  assert.equal(n, 2);
  const [run] = await scheduler.getRuns({ jobId: 'r' });
  assert.equal(run!.status, 'succeeded');
  assert.equal(run!.attempt, 2);
  await scheduler.shutdown();
});

test('retry policy defaults, as documented: a number is fixed 1 s without jitter; a policy fills its missing fields', async () => {
  const scheduler = new Scheduler({ clock: new ManualClock('2024-01-01T00:00:00Z'), logger: silentLogger });
  scheduler.defineTask('t', () => {});
  const policy = async (retry: unknown) =>
    (await scheduler.addJob('t', 'interval', { seconds: 1, retry } as never)).retry;
  assert.deepEqual(await policy(3), {
    attempts: 3,
    backoff: 'fixed',
    delay: 1000,
    maxDelay: 1000,
    jitter: false,
  });
  assert.deepEqual(await policy({}), {
    attempts: 3,
    backoff: 'exponential',
    delay: 1000,
    maxDelay: 300_000,
    jitter: true,
  });
  assert.deepEqual(await policy({ attempts: 5, backoff: 'fixed', delay: 500 }), {
    attempts: 5,
    backoff: 'fixed',
    delay: 500,
    maxDelay: 300_000,
    jitter: false,
  });
  assert.deepEqual(await policy({ delay: 600_000, jitter: false }), {
    attempts: 3,
    backoff: 'exponential',
    delay: 600_000,
    maxDelay: 600_000,
    jitter: false,
  });
});

// Scheduler job API: addJob forms, option validation, job management, runJob, Job.toString().
import { test } from 'node:test';
import {
  DateTrigger,
  IntervalTrigger,
  MemoryStore,
  OrTrigger,
  Scheduler,
  TickworkError,
  isTickworkError,
  silentLogger,
  type TaskContext,
} from '../../src/index.js';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/testing.js';
import { captureLogger } from '../helpers/logger.js';
import { at } from '../helpers/time.js';

const T0 = '2024-04-25T07:37:47Z';

function setup(start = T0) {
  const clock = new ManualClock(start);
  const logger = captureLogger();
  const scheduler = new Scheduler({ clock, logger });
  return { clock, logger, scheduler };
}

/** Asserts `fn` throws (or rejects with) a TickworkError with `code` and, when given, `details.field`. */
async function rejectsWith(fn: () => unknown, code: string, field?: string, message?: string): Promise<void> {
  await assert.rejects(
    async () => {
      await fn();
    },
    (err: unknown) => {
      assert.ok(err instanceof TickworkError, `expected a TickworkError, got ${String(err)}`);
      assert.equal(err.code, code);
      if (field !== undefined) assert.equal(err.details.field, field);
      if (message !== undefined) assert.equal(err.message, message);
      return true;
    },
  );
}

test('addJob shorthand: job keys configure the job, the others the trigger', async () => {
  const { clock, scheduler } = setup();
  async function tick() {}
  const job = await scheduler.addJob(tick, 'interval', {
    seconds: 5,
    maxInstances: 2,
    id: 'a',
    coalesce: false,
  });
  assert.equal(job.id, 'a');
  assert.equal(job.name, 'tick');
  assert.equal(job.taskId, 'tick');
  assert.equal(job.maxInstances, 2);
  assert.equal(job.coalesce, false);
  assert.equal(String(job.trigger), 'interval[0:00:05]');
  assert.equal(job.nextRunTime!.getTime(), clock.now() + 5000);
  assert.equal(job.pending, true);
});

test('addJob with a trigger object, and with the id of a defined task', async () => {
  const { clock, scheduler } = setup();
  const calls: unknown[][] = [];
  scheduler.defineTask('send-report', (...args: unknown[]) => void calls.push(args.slice(0, -1)));
  const byObject = await scheduler.addJob(
    function other() {},
    new IntervalTrigger({ minutes: 1, startDate: '2024-04-25T07:38:00Z' }),
    { id: 'obj' },
  );
  assert.equal(byObject.nextRunTime!.toISOString(), '2024-04-25T07:38:00.000Z');
  const byId = await scheduler.addJob('send-report', new IntervalTrigger({ seconds: 10 }), {
    id: 'report',
    args: ['weekly', 3],
  });
  assert.equal(byId.taskId, 'send-report');
  assert.equal(byId.name, 'send-report');
  await scheduler.start();
  await clock.advance(10_000);
  assert.deepEqual(calls, [['weekly', 3]]);
  assert.deepEqual(scheduler.getTaskIds().sort(), ['other', 'send-report']);
  await rejectsWith(
    () => scheduler.addJob('nope', new IntervalTrigger({ seconds: 1 })),
    'TASK_NOT_FOUND',
    'task',
  );
  await scheduler.shutdown();
});

test('job options are validated: unknown keys, bad values, one message shape', async () => {
  const { scheduler } = setup();
  const fn = function tick() {};
  const every = new IntervalTrigger({ seconds: 1 });
  await rejectsWith(
    () => scheduler.addJob(fn, every, { maxInstance: 2 } as never),
    'UNKNOWN_OPTION',
    'maxInstance',
  );
  await rejectsWith(
    () => scheduler.addJob(fn, 'interval', { seconds: 1, bogus: 1 } as never),
    'UNKNOWN_OPTION',
    'bogus',
  );
  await rejectsWith(
    () => scheduler.addJob(fn, every, { maxInstances: 0 }),
    'INVALID_OPTION',
    'maxInstances',
    'Expected `maxInstances` to be an integer >= 1, got `0`',
  );
  await rejectsWith(
    () => scheduler.addJob(fn, every, { maxInstances: 1.5 }),
    'INVALID_OPTION',
    'maxInstances',
  );
  await rejectsWith(
    () => scheduler.addJob(fn, every, { misfireGraceTime: -1 }),
    'INVALID_OPTION',
    'misfireGraceTime',
  );
  await rejectsWith(
    () => scheduler.addJob(fn, every, { coalesce: 'yes' as never }),
    'INVALID_OPTION',
    'coalesce',
  );
  await rejectsWith(() => scheduler.addJob(fn, every, { timeout: 0 }), 'INVALID_OPTION', 'timeout');
  await rejectsWith(() => scheduler.addJob(fn, every, { jitter: -5 }), 'INVALID_OPTION', 'jitter');
  await rejectsWith(
    () => scheduler.addJob(fn, every, { retry: { attempts: 0 } }),
    'INVALID_OPTION',
    'retry.attempts',
  );
  await rejectsWith(
    () => scheduler.addJob(fn, every, { retry: { tries: 2 } as never }),
    'UNKNOWN_OPTION',
    'retry.tries',
  );
  await rejectsWith(() => scheduler.addJob(fn, every, { args: 'x' as never }), 'INVALID_OPTION', 'args');
  await rejectsWith(() => scheduler.addJob(fn, every, { id: '' }), 'INVALID_OPTION', 'id');
  await rejectsWith(
    () => scheduler.addJob(fn, every, { conflict: 'merge' as never }),
    'INVALID_OPTION',
    'conflict',
  );
  await rejectsWith(() => scheduler.addJob(fn, 'weekly' as never, {}), 'INVALID_TRIGGER', 'trigger');
  await rejectsWith(() => scheduler.addJob(fn, 42 as never), 'INVALID_TRIGGER', 'trigger');
  assert.throws(
    () => new Scheduler({ bogus: true } as never),
    (e: TickworkError) => e.code === 'UNKNOWN_OPTION',
  );
  assert.throws(
    () => new Scheduler({ jobDefaults: { maxInstances: 0 } }),
    (e: TickworkError) => e.code === 'INVALID_OPTION' && e.details.field === 'jobDefaults.maxInstances',
  );
  assert.deepEqual(await scheduler.getJobs(), [], 'nothing was added by the failed calls');
});

test('jobDefaults, then the task options, then the job options set the policy', async () => {
  const clock = new ManualClock(T0);
  const scheduler = new Scheduler({
    clock,
    logger: captureLogger(),
    jobDefaults: { maxInstances: 4, coalesce: false },
  });
  scheduler.defineTask('t', () => {}, { maxInstances: 3 });
  const a = await scheduler.addJob('t', new IntervalTrigger({ seconds: 1 }));
  const b = await scheduler.addJob('t', new IntervalTrigger({ seconds: 1 }), { maxInstances: 2 });
  const c = await scheduler.addJob(function u() {}, new IntervalTrigger({ seconds: 1 }));
  assert.deepEqual([a.maxInstances, b.maxInstances, c.maxInstances], [3, 2, 4]);
  assert.deepEqual([a.coalesce, c.coalesce], [false, false]);
});

test('getJob, getJobs, modifyJob, rescheduleJob, removeJob, removeAllJobs', async () => {
  const { clock, scheduler } = setup();
  const ran: string[] = [];
  const mk = (id: string) =>
    scheduler.addJob((ctx: TaskContext) => void ran.push(ctx.jobId), new IntervalTrigger({ seconds: 10 }), {
      id,
      taskId: `t-${id}`,
    });
  await mk('b');
  await mk('a');
  await scheduler.start();
  await mk('c');
  assert.deepEqual(
    (await scheduler.getJobs()).map((j) => j.id),
    ['a', 'b', 'c'],
  );
  assert.deepEqual(
    (await scheduler.getJobs({ ids: ['c'] })).map((j) => j.id),
    ['c'],
  );
  assert.equal(await scheduler.getJob('zzz'), null);

  const modified = await scheduler.modifyJob('a', { name: 'renamed', maxInstances: 3, args: [1] });
  assert.equal(modified.name, 'renamed');
  assert.equal(modified.maxInstances, 3);
  assert.deepEqual(modified.args, [1]);
  assert.equal((await scheduler.getJob('a'))!.name, 'renamed');
  await rejectsWith(() => scheduler.modifyJob('a', { trigger: 'x' } as never), 'INVALID_TRIGGER', 'trigger');
  // A trigger with other changes: one write (one job:modified), its next fire time from now (0:00:00 + 30 s).
  const events: { changes: string[]; nextRunTime: string | null }[] = [];
  const off = scheduler.on(
    'job:modified',
    (e) => void events.push({ changes: e.changes, nextRunTime: e.nextRunTime }),
  );
  const both = await scheduler.modifyJob('a', {
    name: 'both',
    trigger: new IntervalTrigger({ seconds: 30 }),
  });
  off();
  assert.deepEqual(
    [both.name, String(both.trigger), both.nextRunTime!.getTime()],
    ['both', 'interval[0:00:30]', clock.now() + 30_000],
  );
  assert.deepEqual(events, [
    {
      changes: ['name', 'trigger', 'nextRunTime'],
      nextRunTime: new Date(clock.now() + 30_000).toISOString(),
    },
  ]);
  // A given nextRunTime wins over the trigger's; a trigger that never fires changes nothing.
  const given = await scheduler.modifyJob('a', {
    nextRunTime: new Date(clock.now() + 5000),
    trigger: new IntervalTrigger({ seconds: 20 }),
  });
  assert.deepEqual(
    [String(given.trigger), given.nextRunTime!.getTime()],
    ['interval[0:00:20]', clock.now() + 5000],
  );
  await rejectsWith(
    () =>
      scheduler.modifyJob('a', {
        name: 'never',
        trigger: new IntervalTrigger({ seconds: 1, endDate: new Date(clock.now() - 1) }),
      }),
    'TRIGGER_NEVER_FIRES',
    'trigger',
  );
  assert.deepEqual(
    [(await scheduler.getJob('a'))!.name, String((await scheduler.getJob('a'))!.trigger)],
    ['both', 'interval[0:00:20]'],
  );
  await scheduler.modifyJob('a', { name: 'renamed', trigger: new IntervalTrigger({ seconds: 10 }) });
  // A memory store's job must run a task defined here (as addJob); the job is left as it was.
  await rejectsWith(() => scheduler.modifyJob('a', { taskId: 'nowhere' }), 'TASK_NOT_FOUND', 'taskId');
  assert.equal((await scheduler.getJob('a'))!.taskId, 't-a');
  assert.equal((await scheduler.modifyJob('a', { taskId: 't-b' })).taskId, 't-b');
  await scheduler.modifyJob('a', { taskId: 't-a' });
  await rejectsWith(() => scheduler.modifyJob('a', { maxInstances: 0 }), 'INVALID_OPTION', 'maxInstances');
  await rejectsWith(() => scheduler.modifyJob('zzz', { name: 'x' }), 'JOB_NOT_FOUND', 'id');

  await clock.advance(3000);
  const rescheduled = await scheduler.rescheduleJob('b', 'interval', { seconds: 2 });
  assert.equal(String(rescheduled.trigger), 'interval[0:00:02]');
  assert.equal(rescheduled.nextRunTime!.getTime(), clock.now() + 2000);
  await clock.advance(2000);
  assert.deepEqual(ran, ['b']);
  await rejectsWith(
    () => scheduler.rescheduleJob('zzz', new IntervalTrigger({ seconds: 1 })),
    'JOB_NOT_FOUND',
  );

  await scheduler.removeJob('b');
  assert.equal(await scheduler.getJob('b'), null);
  await rejectsWith(() => scheduler.removeJob('b'), 'JOB_NOT_FOUND', 'id');
  await clock.advance(5000);
  assert.deepEqual(
    ran.filter((id) => id === 'b'),
    ['b'],
    'a removed job does not run',
  );
  const removedEvents: string[] = [];
  scheduler.on('job:removed', (e) => removedEvents.push(e.jobId));
  assert.equal(await scheduler.removeAllJobs(), 2);
  assert.deepEqual(removedEvents.sort(), ['a', 'c'], 'an event per job removed');
  assert.deepEqual(await scheduler.getJobs(), []);
  await clock.advance(60_000);
  assert.equal(ran.length, 3, 'a and c ran once at 10 s, nothing after removal');
  await scheduler.shutdown();
});

test('pauseJob stops firing; resumeJob resumes from now without owing the paused fire times', async () => {
  const { clock, scheduler } = setup();
  const ran: number[] = [];
  const job = await scheduler.addJob(
    (ctx: TaskContext) => void ran.push(ctx.scheduledFireTime.getTime()),
    'interval',
    {
      seconds: 1,
      id: 'p',
    },
  );
  await scheduler.start();
  await clock.advance(1000);
  assert.equal(ran.length, 1);
  const paused = await job.pause();
  assert.equal(paused.paused, true);
  assert.equal(paused.nextRunTime, null);
  assert.match(String(paused), /, paused\)$/);
  await clock.advance(5000);
  assert.equal(ran.length, 1, 'nothing runs while paused');
  const resumed = await scheduler.resumeJob('p');
  assert.equal(resumed!.paused, false);
  assert.equal(resumed!.nextRunTime!.getTime(), clock.now() + 1000);
  await clock.advance(1000);
  assert.equal(ran.length, 2, 'one run after resuming, no catch-up of the paused period');
  await scheduler.shutdown();
});

test('resumeJob: a date job whose date passed while paused is removed (null); an or keeps its later fire times', async () => {
  const { clock, scheduler } = setup();
  const ran: string[] = [];
  const removed: string[] = [];
  scheduler.on('job:removed', (e) => removed.push(e.jobId));
  scheduler.defineTask('work', (id: string) => void ran.push(id));
  await scheduler.start();
  const at = new Date(clock.now() + 1000);
  await scheduler.addJob('work', 'date', { id: 'once', args: ['once'], runDate: at });
  // or[the same date, every 10 s from T0 + 5 s]: after the pause, the date is not owed; the interval goes on.
  await scheduler.addJob(
    'work',
    new OrTrigger([
      new DateTrigger(at),
      new IntervalTrigger({ seconds: 10, startDate: new Date(clock.now() + 5000) }),
    ]),
    { id: 'or', args: ['or'] },
  );
  await scheduler.pauseJob('once');
  await scheduler.pauseJob('or');
  await clock.advance(2000); // the date passes while paused
  assert.equal(await scheduler.resumeJob('once'), null);
  assert.deepEqual(removed, ['once']);
  assert.equal(await scheduler.getJob('once'), null);
  const or = await scheduler.resumeJob('or');
  // T0 + 5 s: the interval's first fire time at or after now (T0 + 2 s)
  assert.equal(or!.nextRunTime!.getTime(), clock.now() + 3000);
  await clock.advance(10_000); // to T0 + 12 s
  assert.deepEqual(ran, ['or'], 'the passed date ran for neither job; the interval once, at T0 + 5 s');
  await scheduler.shutdown();
});

test('runJob runs now, counts against maxInstances, and reports a skip when full', async () => {
  const { clock, scheduler } = setup();
  const contexts: TaskContext[] = [];
  const skipped: { jobId: string; maxInstances: number }[] = [];
  scheduler.on('job:max-instances', (e) => skipped.push({ jobId: e.jobId, maxInstances: e.maxInstances }));
  await assert.rejects(scheduler.runJob('x'), (e: TickworkError) => e.code === 'SCHEDULER_NOT_RUNNING');
  await scheduler.addJob(
    async (ctx: TaskContext) => {
      contexts.push(ctx);
      await clock.sleep(10_000);
    },
    'interval',
    { hours: 1, id: 'long' },
  );
  await scheduler.start();
  const first = await scheduler.runJob('long');
  assert.equal(first.status, 'pending');
  assert.equal(first.manual, true);
  await clock.advance(1);
  assert.equal(contexts.length, 1);
  assert.equal(contexts[0]!.manual, true);
  assert.equal(contexts[0]!.scheduledFireTime.getTime(), at(T0));
  const second = await scheduler.runJob('long');
  assert.equal(second.status, 'skipped');
  assert.deepEqual(skipped, [{ jobId: 'long', maxInstances: 1 }]);
  await clock.advance(10_000);
  assert.equal(contexts.length, 1, 'the skipped manual run never ran');
  assert.equal((await scheduler.runJob('long')).status, 'pending', 'a slot is free again');
  await rejectsWith(() => scheduler.runJob('zzz'), 'JOB_NOT_FOUND');
  await scheduler.shutdown({ wait: false });
});

test('Job.toString() in APScheduler format: next run at / paused / pending', async () => {
  const { clock, scheduler } = setup();
  async function tick() {}
  const job = await scheduler.addJob(tick, 'interval', { seconds: 1, id: 'tick' });
  assert.equal(String(job), 'tick (trigger: interval[0:00:01], pending)');
  await scheduler.start();
  assert.equal(
    String(await scheduler.getJob('tick')),
    'tick (trigger: interval[0:00:01], next run at: 2024-04-25 07:37:48 UTC)',
  );
  await clock.advance(500);
  assert.equal(String(await scheduler.pauseJob('tick')), 'tick (trigger: interval[0:00:01], paused)');
  const berlin = new Scheduler({ clock, logger: captureLogger(), timezone: 'Europe/Berlin' });
  const j2 = await berlin.addJob(tick, 'date', { runDate: '2024-04-25T12:00:00' });
  await berlin.start();
  assert.equal(
    String(await berlin.getJob(j2.id)),
    'tick (trigger: date[2024-04-25 12:00:00 CEST], next run at: 2024-04-25 12:00:00 CEST)',
  );
  await berlin.shutdown();
  await scheduler.shutdown();
});

test('a date job runs once with its args and is removed after it fires', async () => {
  const { clock, scheduler } = setup();
  const seen: unknown[][] = [];
  const removed: string[] = [];
  scheduler.on('job:removed', (e) => removed.push(e.jobId));
  await scheduler.addJob((...args: unknown[]) => void seen.push(args.slice(0, -1)), 'date', {
    runDate: '2024-04-25T07:38:00Z',
    id: 'once',
    args: ['a', { n: 1 }],
  });
  await scheduler.start();
  await clock.advance(60_000);
  assert.deepEqual(seen, [['a', { n: 1 }]]);
  assert.equal(await scheduler.getJob('once'), null);
  assert.deepEqual(removed, ['once']);
  await scheduler.shutdown();
});

test('a date job keeps its timeout after its trigger is exhausted', async () => {
  const { clock, scheduler } = setup();
  const statuses: string[] = [];
  scheduler.on('job:error', (e) => statuses.push(e.status));
  await scheduler.addJob(
    async (ctx: TaskContext) => {
      await clock.sleep(60_000, ctx.signal).catch(() => {});
    },
    'date',
    { runDate: '2024-04-25T07:38:00Z', id: 'once', timeout: 1000 },
  );
  await scheduler.start();
  await clock.advance(13_000 + 1000);
  assert.deepEqual(statuses, ['timed-out']);
  await scheduler.shutdown();
});

test('the same id twice rejects with JOB_CONFLICT; keep and replace do not', async () => {
  const { scheduler } = setup();
  const fn = function tick() {};
  await scheduler.addJob(fn, new IntervalTrigger({ seconds: 1 }), { id: 'x' });
  await rejectsWith(
    () => scheduler.addJob(fn, new IntervalTrigger({ seconds: 1 }), { id: 'x' }),
    'JOB_CONFLICT',
    'id',
  );
  await scheduler.start();
  await rejectsWith(
    () => scheduler.addJob(fn, new IntervalTrigger({ seconds: 2 }), { id: 'x' }),
    'JOB_CONFLICT',
    'id',
  );
  const kept = await scheduler.addJob(fn, new IntervalTrigger({ seconds: 2 }), { id: 'x', conflict: 'keep' });
  assert.equal(String(kept.trigger), 'interval[0:00:01]');
  const replaced = await scheduler.addJob(fn, new IntervalTrigger({ seconds: 2 }), {
    id: 'x',
    replaceExisting: true,
  });
  assert.equal(String(replaced.trigger), 'interval[0:00:02]');
  assert.equal((await scheduler.getJobs()).length, 1);
  await scheduler.shutdown();
});

class FakePersistentStore extends MemoryStore {
  override readonly persistent = true;
}

test('an anonymous function on a persistent store is refused with ANONYMOUS_TASK', async () => {
  const scheduler = new Scheduler({
    clock: new ManualClock(T0),
    logger: captureLogger(),
    store: new FakePersistentStore(),
  });
  await rejectsWith(() => scheduler.addJob(() => {}, 'interval', { seconds: 1 }), 'ANONYMOUS_TASK', 'fn');
  await rejectsWith(
    () => scheduler.addJob(function () {}, new IntervalTrigger({ seconds: 1 })),
    'ANONYMOUS_TASK',
    'fn',
  );
  // A named function, or an explicit task id, is fine.
  const named = await scheduler.addJob(() => {}, new IntervalTrigger({ seconds: 1 }), { taskId: 'cleanup' });
  assert.equal(named.taskId, 'cleanup');
  await rejectsWith(
    () => scheduler.addJob(function named2() {}, new IntervalTrigger({ seconds: 1 }), { args: [() => 1] }),
    'INVALID_OPTION',
    'args',
  );
  // On the memory store an anonymous function gets a generated task id.
  const { scheduler: mem } = setup();
  const anon = await mem.addJob(() => {}, new IntervalTrigger({ seconds: 1 }));
  assert.equal(anon.name, '<anonymous>');
});

test('ids: control characters, lone surrogates, "." and ".." are refused with INVALID_OPTION naming the field', async () => {
  const scheduler = new Scheduler({ logger: silentLogger });
  const noop = function noop() {};
  // C1 controls too (U+0080-U+009F; U+009B, CSI, starts a terminal escape sequence).
  for (const id of [
    'a\u0000b',
    'line\nbreak',
    'a\u0085b',
    'a\u009b2J',
    '\u0080',
    '\ud800',
    'x\udc00',
    '.',
    '..',
    '',
  ]) {
    await assert.rejects(
      async () => scheduler.addJob(noop, 'interval', { seconds: 1, id }),
      (e: unknown) => isTickworkError(e, 'INVALID_OPTION') && e.details.field === 'id',
      JSON.stringify(id),
    );
  }
  for (const name of ['tab\there', 'a\u009bb']) {
    await assert.rejects(
      async () => scheduler.addJob(noop, 'interval', { seconds: 1, name }),
      (e: unknown) => isTickworkError(e, 'INVALID_OPTION') && e.details.field === 'name',
      JSON.stringify(name),
    );
  }
  // Printable Unicode (U+00A0, the first character after the C1 controls, included), spaces, slashes and a
  // surrogate pair are fine.
  for (const id of ['report/daily', 'a b', 'über', '😀', '...', 'a\u00a0b']) {
    await scheduler.addJob(noop, 'interval', { seconds: 1, id });
  }
  assert.equal((await scheduler.getJobs()).length, 6);
});

test('dates outside years 0000-9999 and durations over 1e14 ms are refused', async () => {
  const scheduler = new Scheduler({ logger: silentLogger });
  const noop = function noop() {};
  for (const runDate of [253_402_300_800_000, -62_167_219_200_001, 8.64e15, '+010000-01-01T00:00:00Z']) {
    await assert.rejects(
      async () => scheduler.addJob(noop, 'date', { runDate }),
      (e: unknown) => isTickworkError(e, 'INVALID_OPTION') && e.details.field === 'runDate',
      String(runDate),
    );
  }
  await assert.rejects(
    async () => scheduler.addJob(noop, 'interval', { seconds: 1, jitter: 1e308 }),
    (e: unknown) => isTickworkError(e, 'INVALID_OPTION') && e.details.field === 'jitter',
  );
  await assert.rejects(
    async () => scheduler.addJob(noop, 'interval', { minutes: 1e308 }),
    (e: unknown) => isTickworkError(e, 'INVALID_TRIGGER') && e.details.field === 'minutes',
  );
  const job = await scheduler.addJob(noop, 'date', { runDate: '9999-12-31T23:59:59.999Z' });
  assert.equal(job.nextRunTime?.toISOString(), '9999-12-31T23:59:59.999Z', 'the last representable year');
});

test('a misspelt job option in the shorthand gets a hint naming the job option', async () => {
  const scheduler = new Scheduler({ logger: silentLogger });
  await assert.rejects(
    // @ts-expect-error -- the misspelling TypeScript users are spared, for JavaScript users
    scheduler.addJob(function noop() {}, 'interval', { seconds: 1, maxInstance: 2 }),
    (e: unknown) =>
      isTickworkError(e, 'UNKNOWN_OPTION') &&
      e.details.field === 'maxInstance' &&
      e.message.includes('Did you mean `maxInstances`?'),
  );
});

test('rescheduleJob writes over the version it read: a pause by another process in between stays a pause', async () => {
  let pauseOnRead = false;
  class Racing extends MemoryStore {
    override async getJob(id: string) {
      const read = await super.getJob(id);
      if (pauseOnRead && read) {
        pauseOnRead = false;
        // Another process pauses the job after this read.
        await super.updateJob(id, { paused: true, nextRunTime: null });
      }
      return read;
    }
  }
  const clock = new ManualClock(T0);
  const scheduler = new Scheduler({ clock, store: new Racing(), logger: silentLogger });
  scheduler.defineTask('work', () => {});
  await scheduler.start();
  await scheduler.addJob('work', 'interval', { id: 'a', seconds: 10 });
  pauseOnRead = true;
  const job = await scheduler.rescheduleJob('a', 'interval', { seconds: 30 });
  const stored = (await scheduler.store.getJob('a'))!;
  assert.deepEqual(
    [stored.paused, stored.nextRunTime, stored.trigger.milliseconds],
    [true, null, 30_000],
    'paused, no next run time, the new trigger',
  );
  assert.equal(job.nextRunTime, null);
  await scheduler.shutdown();
});

test('addJob, getRuns and getRun never throw: bad input rejects the promise, so .catch() sees it', async () => {
  const scheduler = new Scheduler({ logger: silentLogger });
  const calls: [string, () => Promise<unknown>, string][] = [
    ['addJob', () => scheduler.addJob(function noop() {}, 'interval', { seconds: -1 }), 'INVALID_OPTION'],
    ['addJob', () => scheduler.addJob('no-such-task', 'interval', { seconds: 1 }), 'TASK_NOT_FOUND'],
    ['getRuns', () => scheduler.getRuns({ limit: -1 }), 'INVALID_OPTION'],
    ['getRuns', () => scheduler.getRuns(), 'SCHEDULER_NOT_RUNNING'],
    ['getRun', () => scheduler.getRun(''), 'INVALID_OPTION'],
  ];
  for (const [name, call, code] of calls) {
    let promise: Promise<unknown> | undefined;
    assert.doesNotThrow(() => {
      promise = call();
    }, name);
    await assert.rejects(promise!, (e: unknown) => isTickworkError(e, code as never), name);
  }
});

test('before the first start(), every job method answers JOB_NOT_FOUND for an id that is not queued', async () => {
  const scheduler = new Scheduler({ logger: silentLogger });
  await scheduler.addJob(function noop() {}, 'interval', { id: 'queued', seconds: 1 });
  const calls: [string, () => Promise<unknown>][] = [
    ['modifyJob', () => scheduler.modifyJob('nope', { name: 'x' })],
    ['pauseJob', () => scheduler.pauseJob('nope')],
    ['resumeJob', () => scheduler.resumeJob('nope')],
    ['rescheduleJob', () => scheduler.rescheduleJob('nope', new IntervalTrigger({ seconds: 2 }))],
    ['removeJob', () => scheduler.removeJob('nope')],
  ];
  for (const [name, call] of calls) {
    await assert.rejects(call(), (e: unknown) => isTickworkError(e, 'JOB_NOT_FOUND'), name);
  }
  assert.equal(await scheduler.getJob('nope'), null);
  assert.equal((await scheduler.pauseJob('queued')).paused, true, 'a queued job is changed');
});

test('misspelt filter and start() options are UNKNOWN_OPTION, not ignored', async () => {
  const scheduler = new Scheduler({ logger: silentLogger });
  await assert.rejects(
    scheduler.start({ pausd: true } as never),
    (e: unknown) => isTickworkError(e, 'UNKNOWN_OPTION') && e.details.field === 'pausd',
  );
  await assert.rejects(
    scheduler.start({ paused: 'yes' } as never),
    (e: unknown) => isTickworkError(e, 'INVALID_OPTION') && e.details.field === 'paused',
  );
  assert.equal(scheduler.state, 'stopped');
  await scheduler.start();
  await assert.rejects(
    scheduler.getRuns({ jobid: 'a' } as never),
    (e: unknown) => isTickworkError(e, 'UNKNOWN_OPTION') && e.details.field === 'jobid',
  );
  await assert.rejects(
    scheduler.getJobs({ pasued: true } as never),
    (e: unknown) => isTickworkError(e, 'UNKNOWN_OPTION') && e.details.field === 'pasued',
  );
  await scheduler.shutdown();
});

test('on() refuses a name that is not an event and a listener that is not a function; it returns the remover', () => {
  const scheduler = new Scheduler({ logger: silentLogger });
  assert.throws(
    () => scheduler.on('job:nope' as never, () => {}),
    (e: unknown) => isTickworkError(e, 'INVALID_OPTION') && e.details.field === 'name',
  );
  assert.throws(
    () => scheduler.on('job:added', 'log' as never),
    (e: unknown) => isTickworkError(e, 'INVALID_OPTION') && e.details.field === 'listener',
  );
  assert.equal(typeof scheduler.on('job:added', () => {}), 'function');
});

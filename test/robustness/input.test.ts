// Breaker: bad input that is accepted, or rejected with something other than a TickworkError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  IntervalTrigger,
  OrTrigger,
  Scheduler,
  TickworkError,
  isTickworkError,
  silentLogger,
  type Trigger,
} from '../../src/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/testing.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';

const isTw = (code?: string) => (err: unknown) =>
  err instanceof TickworkError && (code === undefined || err.code === code);

test('an interval beyond the Date range is rejected at construction (not an Invalid Date fire time)', () => {
  for (const opts of [{ milliseconds: 1e300 }, { weeks: 1e300 }, { seconds: 1e15 }]) {
    assert.throws(() => new IntervalTrigger(opts), isTw(), JSON.stringify(opts));
  }
});

test('addJob with an interval of 1e300 ms rejects with a TickworkError and stores nothing', async () => {
  const clock = new ManualClock('2024-01-01T00:00:00Z');
  const scheduler = new Scheduler({ clock, logger: silentLogger });
  await scheduler.start();
  try {
    await assert.rejects(
      async () => scheduler.addJob(async function huge() {}, 'interval', { milliseconds: 1e300, id: 'huge' }),
      isTw(),
    );
    assert.equal(await scheduler.getJob('huge'), null);
  } finally {
    await scheduler.shutdown();
  }
});

test('a rejected rescheduleJob (interval of 1e300 ms) leaves the job firing on its old schedule', async () => {
  const clock = new ManualClock('2024-01-01T00:00:00Z');
  const scheduler = new Scheduler({ clock, logger: silentLogger });
  let runs = 0;
  await scheduler.addJob(
    async function good() {
      runs++;
    },
    'interval',
    { seconds: 1, id: 'good' },
  );
  await scheduler.start();
  try {
    await assert.rejects(
      async () => scheduler.rescheduleJob('good', 'interval', { milliseconds: 1e300 }),
      isTw(),
    );
    await clock.advance(3000);
    assert.equal(runs, 3);
  } finally {
    await scheduler.shutdown();
  }
});

test('a `__proto__` key in shorthand options is rejected, as the trigger constructor rejects it', async () => {
  const clock = new ManualClock('2024-01-01T00:00:00Z');
  const scheduler = new Scheduler({ clock, logger: silentLogger });
  assert.throws(() => new IntervalTrigger(JSON.parse('{"__proto__":{"seconds":5}}')), isTw('UNKNOWN_OPTION'));
  await assert.rejects(
    scheduler.addJob(async function p() {}, 'interval', JSON.parse('{"__proto__":{"seconds":5}}')),
    isTw('UNKNOWN_OPTION'),
  );
});

test('impossible calendar dates are rejected in every input form, not rolled over', () => {
  for (const startDate of ['2024-02-30T00:00:00Z', '2024-01-01T10:60', '2024-01-01T10:59:60', '0024-01-01']) {
    assert.throws(() => new IntervalTrigger({ seconds: 1, startDate }), isTw('INVALID_OPTION'), startDate);
  }
});

test('shutdown({ wait }) validates its type', async () => {
  const scheduler = new Scheduler({ clock: new ManualClock(0), logger: silentLogger });
  await scheduler.start();
  await assert.rejects(
    async () => scheduler.shutdown({ wait: 'no' as unknown as boolean }),
    isTw('INVALID_OPTION'),
  );
  await scheduler.shutdown();
});

test('getJobs(null) and getRuns(null) reject with INVALID_OPTION, not a TypeError', async () => {
  const scheduler = new Scheduler({ clock: new ManualClock(0), logger: silentLogger });
  await scheduler.start();
  try {
    await assert.rejects(async () => scheduler.getJobs(null as never), isTw('INVALID_OPTION'));
    await assert.rejects(async () => scheduler.getRuns(null as never), isTw('INVALID_OPTION'));
  } finally {
    await scheduler.shutdown();
  }
});

test('Scheduler options: a store, clock or logger without the methods it needs, or a nodeId with a newline, is INVALID_OPTION', () => {
  const bad = (options: Record<string, unknown>, field: string) =>
    assert.throws(
      () => new Scheduler(options as never),
      (e: unknown) => isTickworkError(e, 'INVALID_OPTION') && e.details.field === field,
      field,
    );
  bad({ store: {} }, 'store');
  bad({ store: null }, 'store');
  bad({ clock: {} }, 'clock');
  const timers = { now: () => 0, setTimeout: () => ({ dueAt: 0 }), clearTimeout() {} };
  bad({ clock: { ...timers, onStep: true } }, 'clock');
  assert.ok(new Scheduler({ clock: timers as never }), 'a clock without onStep is a Clock');
  bad({ logger: 5 }, 'logger');
  bad({ logger: { info() {} } }, 'logger');
  bad({ nodeId: 'a\nb' }, 'nodeId');
  // Objects of the caller's own with the methods are accepted.
  const logger = { debug() {}, info() {}, warn() {}, error() {} };
  assert.equal(new Scheduler({ logger, nodeId: 'web-1' }).nodeId, 'web-1');
});

test("args with a throwing getter, for a persistent store, are INVALID_OPTION (field args), not the getter's error", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tickwork-args-'));
  const s = new Scheduler({ store: new SqliteStore({ path: join(dir, 'db') }), logger: silentLogger });
  try {
    s.defineTask('t', () => {});
    await s.start();
    const trap = {
      get x(): never {
        throw new Error('getter');
      },
    };
    await assert.rejects(
      async () => s.addJob('t', 'interval', { seconds: 1, args: [trap] }),
      (e: unknown) => isTickworkError(e, 'INVALID_OPTION') && e.details.field === 'args',
    );
    assert.equal(await s.countJobs(), 0);
  } finally {
    await s.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a trigger object a persistent store could not read back (or nested 10 deep) is refused when added, not quarantined later', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tickwork-nest-'));
  const s = new Scheduler({ store: new SqliteStore({ path: join(dir, 'db') }), logger: silentLogger });
  try {
    s.defineTask('t', () => {});
    await s.start();
    let trigger: Trigger = new IntervalTrigger({ seconds: 1 });
    for (let i = 0; i < 10; i++) trigger = new OrTrigger([trigger]);
    await assert.rejects(
      async () => s.addJob('t', trigger, { id: 'deep' }),
      (e: unknown) => isTickworkError(e, 'INVALID_TRIGGER') && e.details.field === 'trigger.triggers',
    );
    await s.addJob('t', 'interval', { id: 'ok', seconds: 1 });
    await assert.rejects(
      async () => s.rescheduleJob('ok', trigger),
      (e: unknown) => isTickworkError(e, 'INVALID_TRIGGER'),
    );
    assert.deepEqual(
      (await s.getJobs()).map((j) => [j.id, String(j.trigger)]),
      [['ok', 'interval[0:00:01]']],
    );
  } finally {
    await s.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('maxInstances is at most 2,147,483,647 (a PostgreSQL integer); a function with the methods is a valid logger', async () => {
  const s = new Scheduler({ logger: silentLogger });
  s.defineTask('t', () => {});
  await assert.rejects(
    s.addJob('t', 'interval', { seconds: 1, maxInstances: 2 ** 31 }),
    (e: unknown) => isTickworkError(e, 'INVALID_OPTION') && e.details.field === 'maxInstances',
  );
  const logger = Object.assign(() => {}, { debug() {}, info() {}, warn() {}, error() {} });
  assert.doesNotThrow(() => new Scheduler({ logger }));
});

test('a misspelt option names the option meant, wherever it is given; a short unknown name gets no far-fetched hint', async () => {
  const message = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      assert.ok(isTickworkError(err, 'UNKNOWN_OPTION'), String(err));
      return err.message;
    }
    assert.fail('no error');
  };
  assert.match(
    message(() => new Scheduler({ maxConcurentRuns: 3 } as never)),
    /^Unknown option `maxConcurentRuns` \(did you mean `maxConcurrentRuns`\?\)/,
  );
  assert.match(
    message(() => new IntervalTrigger({ second: 1 } as never)),
    /^Unknown option `second` \(did you mean `seconds`\?\)/,
  );
  const scheduler = new Scheduler({ clock: new ManualClock(0), logger: silentLogger });
  const rejection = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (err) {
      assert.ok(isTickworkError(err, 'UNKNOWN_OPTION'), String(err));
      return err.message;
    }
    assert.fail('no rejection');
  };
  // The shorthand mixes trigger and job options: a near trigger option is named once.
  const second = await rejection(scheduler.addJob(() => {}, 'interval', { second: 1 } as never));
  assert.match(second, /did you mean `seconds`/);
  assert.doesNotMatch(second, /job options/);
  // `tz` is two edits from the job option `id`: not offered (it was "Did you mean `id`?").
  const tz = await rejection(
    scheduler.addJob(() => {}, 'cron', { expression: '0 9 * * *', tz: 'Europe/Berlin' } as never),
  );
  assert.doesNotMatch(tz, /did you mean/i);
  // `date` is two edits from `name` (and three from `runDate`): no hint rather than a wrong one.
  const date = await rejection(scheduler.addJob(() => {}, 'date', { date: '2030-01-01T00:00:00Z' } as never));
  assert.doesNotMatch(date, /did you mean/i);
  // A misspelt job option in the shorthand is still found.
  assert.match(
    await rejection(scheduler.addJob(() => {}, 'interval', { seconds: 1, maxInstance: 2 } as never)),
    /Did you mean `maxInstances`\?/,
  );
});

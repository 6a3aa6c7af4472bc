// IntervalTrigger: units, grid, end date, previousFireTime semantics, Python timedelta names, JSON, properties.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IntervalTrigger, TickworkError, triggerFromJSON } from '../../src/index.js';
import { at } from '../helpers/time.js';

const d = (iso: string) => new Date(iso);

test('the interval is the sum of its units, in elapsed milliseconds', () => {
  const t = new IntervalTrigger({ weeks: 1, days: 1, hours: 1, minutes: 1, seconds: 1, milliseconds: 1 });
  assert.equal(t.interval, 604_800_000 + 86_400_000 + 3_600_000 + 60_000 + 1000 + 1);
  assert.equal(new IntervalTrigger({ seconds: 1.5 }).interval, 1500);
  assert.equal(new IntervalTrigger({ minutes: 0.5, seconds: 30 }).interval, 60_000);
});

test('toString is Python str(timedelta), as APScheduler prints the trigger', () => {
  assert.equal(String(new IntervalTrigger({ seconds: 1 })), 'interval[0:00:01]');
  assert.equal(String(new IntervalTrigger({ days: 1 })), 'interval[1 day, 0:00:00]');
  assert.equal(String(new IntervalTrigger({ milliseconds: 500 })), 'interval[0:00:00.500000]');
  assert.equal(
    String(new IntervalTrigger({ days: 2, hours: 3, minutes: 4, seconds: 5 })),
    'interval[2 days, 3:04:05]',
  );
  assert.equal(String(new IntervalTrigger({ hours: 10 })), 'interval[10:00:00]');
  assert.equal(String(new IntervalTrigger({ weeks: 1 })), 'interval[7 days, 0:00:00]');
  // Python 3: str(timedelta(milliseconds=999999999999999)), and of 8.64e15 - 1 (the longest interval but one).
  assert.equal(
    String(new IntervalTrigger({ milliseconds: 999_999_999_999_999 })),
    'interval[11574074 days, 1:46:39.999000]',
  );
  assert.equal(
    String(new IntervalTrigger({ milliseconds: 8.64e15 - 1 })),
    'interval[99999999 days, 23:59:59.999000]',
  );
});

test('describe() names the units, seconds with their fraction, milliseconds alone under a second', () => {
  const described = (options: object) => new IntervalTrigger(options).describe();
  assert.equal(described({ milliseconds: 1 }), 'Every millisecond');
  assert.equal(described({ milliseconds: 500 }), 'Every 500 milliseconds');
  assert.equal(described({ seconds: 1 }), 'Every second');
  assert.equal(described({ seconds: 1.5 }), 'Every 1.5 seconds');
  assert.equal(described({ minutes: 1, milliseconds: 250 }), 'Every 1 minute, 0.25 seconds');
  assert.equal(
    described({ days: 1, hours: 1, minutes: 1, seconds: 1, milliseconds: 1 }),
    'Every 1 day, 1 hour, 1 minute, 1.001 seconds',
  );
  // 999,999,999,999,999 ms = 1,653,439 weeks + 1 day + 1 h + 46 min + 39.999 s (by hand).
  assert.equal(
    described({ milliseconds: 999_999_999_999_999 }),
    'Every 1653439 weeks, 1 day, 1 hour, 46 minutes, 39.999 seconds',
  );
});

test('an interval that is not a whole number of milliseconds is refused, not rounded', () => {
  for (const [options, total] of [
    [{ milliseconds: 0.5 }, '0.5'],
    [{ seconds: 1.0005 }, '1000.5'],
    [{ seconds: 0.0004 }, '0.4'],
  ] as const) {
    assert.throws(
      () => new IntervalTrigger(options),
      (err: unknown) =>
        err instanceof TickworkError &&
        err.code === 'INVALID_TRIGGER' &&
        err.message === `Expected the interval to be a whole number of milliseconds, got ${total} ms` &&
        err.details.field === Object.keys(options)[0],
    );
  }
  // Float error of a unit's fraction is not a fraction of a millisecond: 0.1 h is 360,000 ms, 1.1 weeks
  // 665,280,000 ms (the products are 360000.00000000006 and 665280000.0000001).
  assert.equal(new IntervalTrigger({ hours: 0.1 }).interval, 360_000);
  assert.equal(new IntervalTrigger({ weeks: 1.1 }).interval, 665_280_000);
  // Nor is it for long intervals, where it grows with the product: 19267.17 weeks is 11,652,784,416,000 ms
  // exactly (decimal arithmetic), the float product 11652784415999.998; 1766466.12 weeks 1,068,358,709,376,000
  // ms (1068358709376000.1). A fraction of a millisecond still is one: 36,500 days plus 0.5 ms.
  assert.equal(new IntervalTrigger({ weeks: 19267.17 }).interval, 11_652_784_416_000);
  assert.equal(new IntervalTrigger({ weeks: 1766466.12 }).interval, 1_068_358_709_376_000);
  assert.throws(
    () => new IntervalTrigger({ days: 36_500, milliseconds: 0.5 }),
    (err: unknown) => err instanceof TickworkError && err.code === 'INVALID_TRIGGER',
  );
});

test('without a start date, the first fire time is one interval after now', () => {
  const t = new IntervalTrigger({ seconds: 10 });
  assert.equal(t.getNextFireTime(null, d('2024-01-01T00:00:00Z'))!.toISOString(), '2024-01-01T00:00:10.000Z');
});

test('with a start date: the start when it is ahead, else the first grid point at or after now', () => {
  const t = new IntervalTrigger({ seconds: 10, startDate: '2024-01-01T00:00:00Z' });
  assert.equal(t.getNextFireTime(null, d('2023-12-31T12:00:00Z'))!.toISOString(), '2024-01-01T00:00:00.000Z');
  assert.equal(t.getNextFireTime(null, d('2024-01-01T00:00:00Z'))!.toISOString(), '2024-01-01T00:00:00.000Z');
  assert.equal(
    t.getNextFireTime(null, d('2024-01-01T00:00:00.001Z'))!.toISOString(),
    '2024-01-01T00:00:10.000Z',
  );
  assert.equal(t.getNextFireTime(null, d('2024-01-01T00:00:25Z'))!.toISOString(), '2024-01-01T00:00:30.000Z');
});

test('with a previous fire time: strictly after it, on the grid, whatever now is', () => {
  const t = new IntervalTrigger({ seconds: 10, startDate: '2024-01-01T00:00:00Z' });
  const far = d('2030-01-01T00:00:00Z');
  assert.equal(t.getNextFireTime(d('2024-01-01T00:00:00Z'), far)!.toISOString(), '2024-01-01T00:00:10.000Z');
  assert.equal(
    t.getNextFireTime(d('2024-01-01T00:00:10Z'), d('2020-01-01T00:00:00Z'))!.toISOString(),
    '2024-01-01T00:00:20.000Z',
  );
  // A previous fire time before the start (the trigger was changed) gives the start.
  assert.equal(t.getNextFireTime(d('2023-06-01T00:00:00Z'), far)!.toISOString(), '2024-01-01T00:00:00.000Z');
  const free = new IntervalTrigger({ seconds: 10 });
  assert.equal(
    free.getNextFireTime(d('2024-01-01T00:00:03Z'), far)!.toISOString(),
    '2024-01-01T00:00:13.000Z',
  );
});

test('the end date is inclusive; after it there is no fire time', () => {
  const t = new IntervalTrigger({
    seconds: 10,
    startDate: '2024-01-01T00:00:00Z',
    endDate: '2024-01-01T00:00:30Z',
  });
  assert.equal(
    t.getNextFireTime(d('2024-01-01T00:00:20Z'), d('2024-01-01T00:00:20Z'))!.toISOString(),
    '2024-01-01T00:00:30.000Z',
  );
  assert.equal(t.getNextFireTime(d('2024-01-01T00:00:30Z'), d('2024-01-01T00:00:30Z')), null);
  assert.equal(t.getNextFireTime(null, d('2024-01-01T00:00:31Z')), null);
});

test('start and end dates without an offset are local wall times in the trigger zone', () => {
  const t = new IntervalTrigger({ hours: 1, startDate: '2024-07-01T09:00:00', timezone: 'Europe/Berlin' });
  assert.equal(t.startDate!.toISOString(), '2024-07-01T07:00:00.000Z'); // CEST = UTC+2
});

test('toJSON/fromJSON round-trips mid-iteration and continues the same sequence', () => {
  const t = new IntervalTrigger({
    minutes: 90,
    startDate: '2024-01-01T00:00:00Z',
    endDate: '2024-01-02T00:00:00Z',
    timezone: 'America/New_York',
    jitter: 2000,
  });
  let prev = t.getNextFireTime(null, d('2024-01-01T05:00:00Z'))!;
  prev = t.getNextFireTime(prev, prev)!;
  const json = JSON.parse(JSON.stringify(t.toJSON()));
  assert.equal(json.type, 'interval');
  assert.equal(json.version, 1);
  const back = triggerFromJSON(json) as IntervalTrigger;
  assert.ok(back instanceof IntervalTrigger);
  assert.deepEqual(back.toJSON(), t.toJSON());
  assert.equal(back.jitter, 2000);
  const original: string[] = [];
  const restored: string[] = [];
  for (let a: Date | null = prev; a !== null; a = t.getNextFireTime(a, a)) original.push(a.toISOString());
  for (let b: Date | null = prev; b !== null; b = back.getNextFireTime(b, b)) restored.push(b.toISOString());
  assert.deepEqual(restored, original);
  // 07:30, 09:00, ... every 90 min up to the inclusive end at midnight: 12 fire times.
  assert.equal(original[0], '2024-01-01T07:30:00.000Z');
  assert.equal(original.at(-1), '2024-01-02T00:00:00.000Z');
  assert.equal(original.length, 12);
});

/** Asserts `fn` throws a TickworkError with `code` and `details.field`. */
function throwsWith(fn: () => unknown, code: string, field: string) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TickworkError, String(err));
    assert.equal(err.code, code);
    assert.equal(err.details.field, field);
    return true;
  });
}

test('invalid parameters throw TickworkError with a stable code and details.field', () => {
  throwsWith(() => new IntervalTrigger({}), 'INVALID_TRIGGER', 'seconds');
  throwsWith(() => new IntervalTrigger({ seconds: 0 }), 'INVALID_TRIGGER', 'seconds');
  throwsWith(() => new IntervalTrigger({ seconds: -1 }), 'INVALID_OPTION', 'seconds');
  throwsWith(() => new IntervalTrigger({ minutes: Number.NaN }), 'INVALID_OPTION', 'minutes');
  throwsWith(() => new IntervalTrigger({ hours: '1' as never }), 'INVALID_OPTION', 'hours');
  throwsWith(() => new IntervalTrigger({ secs: 1 } as never), 'UNKNOWN_OPTION', 'secs');
  throwsWith(() => new IntervalTrigger({ seconds: 1, startDate: 'soon' }), 'INVALID_OPTION', 'startDate');
  throwsWith(
    () => new IntervalTrigger({ seconds: 1, endDate: '2024-02-30T00:00:00' }),
    'INVALID_OPTION',
    'endDate',
  );
  throwsWith(
    () =>
      new IntervalTrigger({ seconds: 1, startDate: '2024-01-02T00:00:00Z', endDate: '2024-01-01T00:00:00Z' }),
    'INVALID_OPTION',
    'endDate',
  );
  throwsWith(() => new IntervalTrigger({ seconds: 1, jitter: -1 }), 'INVALID_OPTION', 'jitter');
  throwsWith(
    () => new IntervalTrigger({ seconds: 1, timezone: 'Mars/Olympus' }),
    'INVALID_TIMEZONE',
    'timezone',
  );
  throwsWith(() => new IntervalTrigger(null as never), 'INVALID_TRIGGER', 'trigger');
  throwsWith(
    () => triggerFromJSON({ type: 'interval', version: 2, milliseconds: 5 }),
    'INVALID_TRIGGER',
    'trigger.version',
  );
  throwsWith(() => triggerFromJSON({ type: 'weekly', version: 1 }), 'INVALID_TRIGGER', 'trigger.type');
});

const T0 = at('2024-01-01T00:00:00Z');
const arbInterval = fc.integer({ min: 1, max: 10 * 86_400_000 });
const arbTime = fc.integer({ min: T0 - 400 * 86_400_000, max: T0 + 400 * 86_400_000 });

test('property: next > previous and next - previous == interval (no start date)', () => {
  fc.assert(
    fc.property(arbInterval, arbTime, (ms, prev) => {
      const t = new IntervalTrigger({ milliseconds: ms });
      const next = t.getNextFireTime(new Date(prev), new Date(prev))!.getTime();
      return next > prev && next - prev === ms;
    }),
  );
});

test('property: with a start date, fire times are on the grid start + k * interval and at or after now', () => {
  fc.assert(
    fc.property(arbInterval, arbTime, arbTime, (ms, start, now) => {
      const t = new IntervalTrigger({ milliseconds: ms, startDate: new Date(start) });
      const first = t.getNextFireTime(null, new Date(now))!.getTime();
      if ((first - start) % ms !== 0 || first < start) return false;
      if (first < now || first - now >= ms + Math.max(0, start - now)) return false;
      const second = t.getNextFireTime(new Date(first), new Date(first))!.getTime();
      return second - first === ms;
    }),
  );
});

test('property: never after the end date, and the last fire time is within one interval of it', () => {
  fc.assert(
    fc.property(arbInterval, arbTime, fc.integer({ min: 0, max: 30 * 86_400_000 }), (ms, start, span) => {
      const end = start + span;
      const t = new IntervalTrigger({ milliseconds: ms, startDate: new Date(start), endDate: new Date(end) });
      let prev: Date | null = null;
      let last = start;
      for (let i = 0; i < 50; i++) {
        const next: Date | null = t.getNextFireTime(prev, new Date(start));
        if (next === null) return end - last < ms || i === 0;
        if (next.getTime() > end) return false;
        last = next.getTime();
        prev = next;
      }
      return true;
    }),
  );
});

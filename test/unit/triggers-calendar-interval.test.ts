/** CalendarIntervalTrigger: wall-clock intervals, short months (both policies), DST. Values by hand. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CalendarIntervalTrigger,
  type CalendarIntervalTriggerOptions,
} from '../../src/triggers/calendar-interval.js';
import { createTrigger, triggerFromJSON } from '../../src/triggers/index.js';
import { isTickworkError } from '../../src/core/errors.js';
import { isoInZone } from './cron/helpers.js';

function seq(opts: CalendarIntervalTriggerOptions, now: string, n: number): string[] {
  const t = new CalendarIntervalTrigger(opts);
  const zone = t.timezone;
  const out: string[] = [];
  let prev: Date | null = null;
  for (let i = 0; i < n; i++) {
    const next: Date | null = t.getNextFireTime(prev, new Date(now));
    if (!next) break;
    out.push(isoInZone(next.getTime(), zone));
    prev = next;
  }
  return out;
}

describe('CalendarIntervalTrigger', () => {
  test("every month on the 31st: 'clamp' (default) fires on the last day of short months", () => {
    assert.deepEqual(seq({ months: 1, hour: 9, startDate: '2024-01-31' }, '2024-01-01T00:00:00Z', 6), [
      '2024-01-31T09:00:00+00:00',
      '2024-02-29T09:00:00+00:00',
      '2024-03-31T09:00:00+00:00',
      '2024-04-30T09:00:00+00:00',
      '2024-05-31T09:00:00+00:00',
      '2024-06-30T09:00:00+00:00',
    ]);
  });

  test("every month on the 31st: 'skip' leaves out months without a 31st (APScheduler 4)", () => {
    assert.deepEqual(
      seq({ months: 1, hour: 9, startDate: '2024-01-31', shortMonths: 'skip' }, '2024-01-01T00:00:00Z', 5),
      [
        '2024-01-31T09:00:00+00:00',
        '2024-03-31T09:00:00+00:00',
        '2024-05-31T09:00:00+00:00',
        '2024-07-31T09:00:00+00:00',
        '2024-08-31T09:00:00+00:00',
      ],
    );
  });

  test('every year on 29 February', () => {
    assert.deepEqual(seq({ years: 1, startDate: '2024-02-29' }, '2024-01-01T00:00:00Z', 5), [
      '2024-02-29T00:00:00+00:00',
      '2025-02-28T00:00:00+00:00',
      '2026-02-28T00:00:00+00:00',
      '2027-02-28T00:00:00+00:00',
      '2028-02-29T00:00:00+00:00',
    ]);
    assert.deepEqual(
      seq({ years: 1, startDate: '2024-02-29', shortMonths: 'skip' }, '2024-03-01T00:00:00Z', 2),
      ['2028-02-29T00:00:00+00:00', '2032-02-29T00:00:00+00:00'],
    );
  });

  test('DST: a wall time in the gap fires at the end of the gap; a repeated one on its first pass', () => {
    assert.deepEqual(
      seq(
        { days: 1, hour: 2, minute: 30, timezone: 'Europe/Berlin', startDate: '2024-03-30' },
        '2024-03-01T00:00:00Z',
        3,
      ),
      ['2024-03-30T02:30:00+01:00', '2024-03-31T03:00:00+02:00', '2024-04-01T02:30:00+02:00'],
    );
    assert.deepEqual(
      seq(
        { days: 1, hour: 2, minute: 30, timezone: 'Europe/Berlin', startDate: '2024-10-26' },
        '2024-10-01T00:00:00Z',
        3,
      ),
      ['2024-10-26T02:30:00+02:00', '2024-10-27T02:30:00+02:00', '2024-10-28T02:30:00+01:00'],
    );
    // Monthly at 09:00 local keeps 09:00 across the change of offset
    assert.deepEqual(
      seq(
        { months: 1, hour: 9, timezone: 'America/New_York', startDate: '2024-02-10' },
        '2024-01-01T00:00:00Z',
        2,
      ),
      ['2024-02-10T09:00:00-05:00', '2024-03-10T09:00:00-04:00'],
    );
  });

  test('weeks and days; reference times in the middle of the sequence', () => {
    const opts: CalendarIntervalTriggerOptions = { weeks: 2, hour: 9, startDate: '2024-01-01' };
    assert.deepEqual(seq(opts, '2024-01-01T00:00:00Z', 3), [
      '2024-01-01T09:00:00+00:00',
      '2024-01-15T09:00:00+00:00',
      '2024-01-29T09:00:00+00:00',
    ]);
    const t = new CalendarIntervalTrigger(opts);
    assert.equal(
      t.getNextFireTime(null, new Date('2024-03-01T00:00:00Z'))?.toISOString(),
      '2024-03-11T09:00:00.000Z',
    );
    assert.equal(
      t.getNextFireTime(new Date('2024-03-11T09:00:00Z'), new Date(0))?.toISOString(),
      '2024-03-25T09:00:00.000Z',
    );
    // a fire time equal to now counts (at or after now)
    assert.equal(
      t.getNextFireTime(null, new Date('2024-03-11T09:00:00Z'))?.toISOString(),
      '2024-03-11T09:00:00.000Z',
    );
  });

  test('without a start date: the next such wall time from now, then chained', () => {
    const t = new CalendarIntervalTrigger({ days: 1, hour: 9, timezone: 'Europe/Berlin' });
    const a = t.getNextFireTime(null, new Date('2024-05-10T12:00:00Z'))!;
    assert.equal(isoInZone(a.getTime(), 'Europe/Berlin'), '2024-05-11T09:00:00+02:00');
    assert.equal(isoInZone(t.getNextFireTime(a, a)!.getTime(), 'Europe/Berlin'), '2024-05-12T09:00:00+02:00');
  });

  test('endDate is inclusive', () => {
    const t = new CalendarIntervalTrigger({
      days: 1,
      startDate: '2024-01-01',
      endDate: '2024-01-02T00:00:00Z',
    });
    const a = t.getNextFireTime(null, new Date(0))!;
    const b = t.getNextFireTime(a, a)!;
    assert.equal(b.toISOString(), '2024-01-02T00:00:00.000Z');
    assert.equal(t.getNextFireTime(b, b), null);
  });

  test('serialisation mid-iteration continues the sequence; toString; describe', () => {
    const t = new CalendarIntervalTrigger({
      months: 1,
      hour: 9,
      startDate: '2024-01-31',
      timezone: 'Europe/Berlin',
    });
    const a = t.getNextFireTime(null, new Date(0))!;
    const b = t.getNextFireTime(a, a)!;
    const copy = triggerFromJSON(JSON.parse(JSON.stringify(t.toJSON())));
    assert.deepEqual(copy.getNextFireTime(b, b), t.getNextFireTime(b, b));
    assert.equal(t.toString(), "calendarinterval[months=1, time='09:00:00', timezone='Europe/Berlin']");
    assert.match(t.describe(), /^Every month at 09:00 \(Europe\/Berlin time\)/);
    assert.deepEqual(
      createTrigger('calendarInterval', {
        months: 1,
        hour: 9,
        startDate: '2024-01-31',
        timezone: 'Europe/Berlin',
      }).toJSON(),
      t.toJSON(),
    );
  });

  test('months and days with a start date centuries back: no fire time is stepped over', () => {
    // The k-th fire date is 1500-01-31 plus k months (clamped) plus 30k days; expected values from a walk over
    // every k with Python's datetime (the first three at or after 2025-01-01).
    assert.deepEqual(seq({ months: 1, days: 30, startDate: '1500-01-31' }, '2025-01-01T00:00:00Z', 3), [
      '2025-02-12T00:00:00+00:00',
      '2025-04-14T00:00:00+00:00',
      '2025-06-14T00:00:00+00:00',
    ]);
  });

  test('validation', () => {
    assert.throws(
      () => new CalendarIntervalTrigger({}),
      (e: unknown) => isTickworkError(e, 'INVALID_TRIGGER'),
    );
    assert.throws(
      () => new CalendarIntervalTrigger({ days: 1, hour: 24 }),
      (e: unknown) => isTickworkError(e, 'INVALID_OPTION') && e.details.field === 'hour',
    );
    assert.throws(
      () => new CalendarIntervalTrigger({ months: 1, shortMonths: 'roll' as 'skip' }),
      (e: unknown) => isTickworkError(e, 'INVALID_OPTION') && e.details.field === 'shortMonths',
    );
    assert.throws(
      () => new CalendarIntervalTrigger({ days: 1.5 }),
      (e: unknown) => isTickworkError(e, 'INVALID_OPTION') && e.details.field === 'days',
    );
  });
});

/** Parse errors (code, field, token, position), options, describe(), toString(), TRIGGER_NEVER_FIRES. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CronTrigger } from '../../../src/triggers/cron/index.js';
import { Scheduler } from '../../../src/index.js';
import { isTickworkError, type TickworkError } from '../../../src/core/errors.js';

function parseError(expr: string): TickworkError {
  try {
    new CronTrigger(expr);
  } catch (err) {
    if (isTickworkError(err, 'INVALID_CRON')) return err;
    throw err;
  }
  assert.fail(`${JSON.stringify(expr)} was accepted`);
}

describe('cron errors', () => {
  const cases: [string, string, string, number][] = [
    ['0 0 * * 8', 'dayOfWeek', '8', 8],
    ['60 * * * *', 'minute', '60', 0],
    ['5/0 * * * *', 'minute', '0', 2],
    ['0 0 * JANUARY *', 'month', 'JANUARY', 6],
    ['0 0 * * MON-FRI-SAT', 'dayOfWeek', 'MON-FRI-SAT', 8],
    ['@Daily', 'expression', '@Daily', 0],
    ['0 0 1 1 * 2030', 'dayOfWeek', '2030', 10],
    ['  0 0 L2 * *', 'dayOfMonth', 'L2', 6],
    ['0 0 * * 1#6', 'dayOfWeek', '1#6', 10],
    ['0 0 1W,15W * *', 'dayOfMonth', '1W', 4],
    ['0 0 * * * * 1969', 'year', '1969', 12],
    ['0 0 * * * * * *', 'expression', '*', 14],
    ['0 22-2/2 * * *', 'hour', '22-2', 2],
  ];
  for (const [expr, field, token, position] of cases) {
    test(`${JSON.stringify(expr)} -> ${field}, ${JSON.stringify(token)} at ${position}`, () => {
      const err = parseError(expr);
      assert.equal(err.details.field, field);
      assert.equal(err.details.token, token);
      assert.equal(err.details.position, position);
      assert.equal(err.status, 400);
      assert.match(err.message, /Invalid cron expression/);
    });
  }

  test('too few fields names the count', () => {
    const err = parseError('* * *');
    assert.equal(err.details.field, 'expression');
    assert.match(err.message, /expected 5, 6 or 7 fields, got 3/);
  });

  test('non-ASCII characters are rejected at their position', () => {
    const err = parseError('0 0 * * MON\u2013FRI');
    assert.equal(err.details.position, 11);
  });

  test('DEL (0x7f) is an ASCII control character: an unexpected character of its field, not "non-ASCII"', () => {
    const err = parseError('* * * * *\x7f');
    assert.equal(err.details.field, 'dayOfWeek');
    assert.equal(err.details.position, 9);
    assert.match(err.message, /unexpected character/);
    assert.doesNotMatch(err.message, /non-ASCII/);
  });

  test('options are validated', () => {
    assert.throws(
      () => new CronTrigger('* * * * *', { timezone: 'Mars/Olympus' }),
      (e: unknown) => isTickworkError(e, 'INVALID_TIMEZONE'),
    );
    assert.throws(
      () => new CronTrigger('* * * * *', { dayMatch: 'or' as 'and' }),
      (e: unknown) => isTickworkError(e, 'INVALID_OPTION') && e.details.field === 'dayMatch',
    );
    assert.throws(
      () => new CronTrigger('* * * * *', { dst: { gap: 'later' as 'skip' } }),
      (e: unknown) => isTickworkError(e, 'INVALID_OPTION') && e.details.field === 'dst.gap',
    );
    assert.throws(
      () => new CronTrigger('* * * * *', { foo: 1 } as object),
      (e: unknown) => isTickworkError(e, 'UNKNOWN_OPTION'),
    );
    assert.throws(
      () => new CronTrigger('* * * * *', { startDate: '2024-02-01', endDate: '2024-01-01' }),
      (e: unknown) => isTickworkError(e, 'INVALID_OPTION'),
    );
  });
});

describe('never-firing expressions are valid and answer null promptly', () => {
  for (const expr of ['0 0 30 2 *', '* * * 31 4 *', '0 0 31 2,4,6,9,11 *', '0 0 0 29 2 * 2097-2099']) {
    test(expr, () => {
      const t = new CronTrigger(expr, { timezone: 'Europe/Berlin' });
      const started = performance.now();
      assert.equal(t.getNextFireTime(null, new Date('2024-01-01T00:00:00Z')), null);
      assert.equal(t.getNextFireTime(new Date('2024-01-01T00:00:00Z'), new Date(0)), null);
      assert.ok(performance.now() - started < 500);
    });
  }
  test('addJob refuses a trigger that never fires with TRIGGER_NEVER_FIRES', async () => {
    const scheduler = new Scheduler();
    await assert.rejects(
      scheduler.addJob(function never() {}, 'cron', { expression: '0 0 30 2 *' }),
      (err: unknown) => isTickworkError(err, 'TRIGGER_NEVER_FIRES'),
    );
  });
  test('the first fire time at or after now includes now itself', () => {
    const t = new CronTrigger('0 0 * * *');
    assert.equal(
      t.getNextFireTime(null, new Date('2024-01-01T00:00:00Z'))?.toISOString(),
      '2024-01-01T00:00:00.000Z',
    );
  });
});

describe('startDate, endDate, milliseconds', () => {
  test('strictly after 08:44:59.995 is 08:45:00; at-or-after now rounds up', () => {
    const t = new CronTrigger('* * * * * *');
    assert.equal(
      t.getNextFireTime(new Date('2024-01-01T08:44:59.995Z'), new Date(0))?.toISOString(),
      '2024-01-01T08:45:00.000Z',
    );
    assert.equal(
      t.getNextFireTime(null, new Date('2024-01-01T08:44:59.995Z'))?.toISOString(),
      '2024-01-01T08:45:00.000Z',
    );
    assert.equal(
      t.getNextFireTime(null, new Date('2024-01-01T08:45:00.000Z'))?.toISOString(),
      '2024-01-01T08:45:00.000Z',
    );
  });
  test('never before startDate, never after endDate (inclusive)', () => {
    const t = new CronTrigger('0 9 * * *', {
      timezone: 'Europe/Berlin',
      startDate: '2024-03-10T12:00:00',
      endDate: '2024-03-12T09:00:00',
    });
    const now = new Date('2024-01-01T00:00:00Z');
    const a = t.getNextFireTime(null, now);
    assert.equal(a?.toISOString(), '2024-03-11T08:00:00.000Z');
    const b = t.getNextFireTime(a, now);
    assert.equal(b?.toISOString(), '2024-03-12T08:00:00.000Z');
    assert.equal(t.getNextFireTime(b, now), null);
  });
});

describe('DST policies', () => {
  const after = new Date('2021-03-14T05:00:00Z');
  const zone = 'America/New_York';
  const first = (dst: object | undefined, expr = '30 2 * * *') =>
    new CronTrigger(expr, { timezone: zone, ...(dst ? { dst } : {}) })
      .getNextFireTime(after, after)
      ?.toISOString();
  test("gap: 'transition' (default for fixed times), 'shift', 'skip'", () => {
    assert.equal(first(undefined), '2021-03-14T07:00:00.000Z'); // 03:00 EDT
    assert.equal(first({ gap: 'shift' }), '2021-03-14T07:30:00.000Z'); // 03:30 EDT
    assert.equal(first({ gap: 'skip' }), '2021-03-15T06:30:00.000Z'); // next day 02:30 EDT
    // interval jobs skip gap times by default; 'transition' fires once at 03:00
    assert.equal(first(undefined, '*/20 2 * * *'), '2021-03-15T06:00:00.000Z');
    assert.equal(first({ gap: 'transition' }, '*/20 2 * * *'), '2021-03-14T07:00:00.000Z');
  });
  test("overlap: 'first' (default for fixed times) or 'both'", () => {
    const ref = new Date('2021-11-07T04:00:00Z');
    const seq = (dst?: object) => {
      const t = new CronTrigger('30 1 * * *', { timezone: zone, ...(dst ? { dst } : {}) });
      const a = t.getNextFireTime(ref, ref)!;
      return [a, t.getNextFireTime(a, ref)!].map((d) => d.toISOString());
    };
    assert.deepEqual(seq(), ['2021-11-07T05:30:00.000Z', '2021-11-08T06:30:00.000Z']);
    assert.deepEqual(seq({ overlap: 'both' }), ['2021-11-07T05:30:00.000Z', '2021-11-07T06:30:00.000Z']);
  });
  test("dayMatch: 'and' always ANDs the day fields", () => {
    const t = new CronTrigger('0 0 13 * 5', { dayMatch: 'and' });
    assert.equal(
      t.getNextFireTime(new Date('2024-01-01T00:00:00Z'), new Date(0))?.toISOString(),
      '2024-09-13T00:00:00.000Z',
    );
  });
});

describe('describe() and toString()', () => {
  test('English via cronstrue, with the zone', () => {
    assert.equal(
      new CronTrigger('0 9 * * 1-5', { timezone: 'Europe/Berlin' }).describe(),
      'At 09:00, Monday through Friday (Europe/Berlin time)',
    );
    assert.equal(new CronTrigger('@daily').describe(), 'At 00:00 (UTC)');
  });
  test('our dialect where cronstrue falls short', () => {
    assert.match(new CronTrigger('0 0 * * FRI#L').describe(), /last Friday of the month/);
    assert.match(new CronTrigger('0 0 1,15 * 1').describe(), /either the day-of-month or the day-of-week/);
    // 1-31 lists every day but is restricted as written: Vixie ORs it with Thursday, so it fires daily.
    assert.match(new CronTrigger('0 0 1-31 * 4').describe(), /either the day-of-month or the day-of-week/);
    assert.match(new CronTrigger('0 0 */2 * 1').describe(), /both the day-of-month and the day-of-week/);
    assert.match(new CronTrigger('0 0 L-3,15 * *').describe(), /day-of-month L-3,15/);
    assert.match(
      new CronTrigger({ day: 'last fri', hour: 17 }).describe(),
      /At 17:00, on the last Friday of the month/,
    );
    assert.match(new CronTrigger({ dayOfWeek: 'mon-fri', hour: 9 }).describe(), /Monday through Friday/);
    assert.match(new CronTrigger({ dayOfWeek: '0-4', hour: 9 }).describe(), /Monday through Friday/);
    assert.match(new CronTrigger({ week: 1, hour: 9 }).describe(), /week 1/);
  });
  test('toString in APScheduler style', () => {
    assert.equal(new CronTrigger({ hour: '*/2' }).toString(), "cron[hour='*/2']");
    assert.equal(
      new CronTrigger({ dayOfWeek: 'mon-fri', hour: 9, minute: 30 }).toString(),
      "cron[day_of_week='mon-fri', hour='9', minute='30']",
    );
    assert.equal(new CronTrigger('*/5 * * * *').toString(), "cron[expression='*/5 * * * *', timezone='UTC']");
  });
});

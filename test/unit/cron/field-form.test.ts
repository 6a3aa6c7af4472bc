/** APScheduler's field form: expressions, defaults, Monday = 0, ISO weeks, toString. Expected values by hand. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CronTrigger, type CronFieldsOptions } from '../../../src/triggers/cron/index.js';
import { createTrigger, triggerFromJSON } from '../../../src/triggers/index.js';
import { isTickworkError } from '../../../src/core/errors.js';

function fires(t: CronTrigger, after: string, n: number): string[] {
  const out: string[] = [];
  let prev = new Date(after);
  for (let i = 0; i < n; i++) {
    const next = t.getNextFireTime(prev, prev);
    if (!next) break;
    out.push(next.toISOString().replace('.000', ''));
    prev = next;
  }
  return out;
}

describe('CronTrigger field form (APScheduler)', () => {
  test("month='6-8,11-12', day='3rd fri', hour='0-3'", () => {
    const t = new CronTrigger({ month: '6-8,11-12', day: '3rd fri', hour: '0-3' });
    // June 2024 starts on a Saturday: Fridays 7, 14, 21. July 2024 starts on a Monday: 5, 12, 19.
    assert.deepEqual(fires(t, '2024-01-01T00:00:00Z', 5), [
      '2024-06-21T00:00:00Z',
      '2024-06-21T01:00:00Z',
      '2024-06-21T02:00:00Z',
      '2024-06-21T03:00:00Z',
      '2024-07-19T00:00:00Z',
    ]);
    assert.equal(t.toString(), "cron[month='6-8,11-12', day='3rd fri', hour='0-3']");
  });

  test('dayOfWeek numbers start at Monday = 0 (APScheduler), unlike crontab', () => {
    const t = new CronTrigger({ dayOfWeek: 0, hour: 9 });
    // 2024-01-01 is a Monday.
    assert.deepEqual(fires(t, '2024-01-01T00:00:00Z', 2), ['2024-01-01T09:00:00Z', '2024-01-08T09:00:00Z']);
    const sunday = new CronTrigger({ dayOfWeek: 6, hour: 9 });
    assert.deepEqual(fires(sunday, '2024-01-01T00:00:00Z', 1), ['2024-01-07T09:00:00Z']);
    // */2 = Mon, Wed, Fri, Sun
    const every2 = new CronTrigger({ dayOfWeek: '*/2' });
    assert.deepEqual(fires(every2, '2024-01-01T00:00:00Z', 4), [
      '2024-01-03T00:00:00Z',
      '2024-01-05T00:00:00Z',
      '2024-01-07T00:00:00Z',
      '2024-01-08T00:00:00Z',
    ]);
    // names mean the same in both forms
    const names = new CronTrigger({ dayOfWeek: 'sat-sun', hour: 10 });
    assert.deepEqual(fires(names, '2024-01-01T00:00:00Z', 2), [
      '2024-01-06T10:00:00Z',
      '2024-01-07T10:00:00Z',
    ]);
  });

  test("'last', 'last fri' and time zones", () => {
    assert.deepEqual(fires(new CronTrigger({ day: 'last' }), '2024-01-01T00:00:00Z', 2), [
      '2024-01-31T00:00:00Z',
      '2024-02-29T00:00:00Z',
    ]);
    const t = new CronTrigger({ day: 'last fri', hour: 17, timezone: 'America/New_York' });
    // Last Fridays: 2024-01-26 (EST, -05:00), 2024-02-23, 2024-03-29 (EDT, -04:00)
    assert.deepEqual(fires(t, '2024-01-01T00:00:00Z', 3), [
      '2024-01-26T22:00:00Z',
      '2024-02-23T22:00:00Z',
      '2024-03-29T21:00:00Z',
    ]);
  });

  test('defaults: fields right of the least significant given one take their minimum, the others *', () => {
    assert.deepEqual(fires(new CronTrigger({ month: 6 }), '2024-01-01T00:00:00Z', 2), [
      '2024-06-01T00:00:00Z',
      '2025-06-01T00:00:00Z',
    ]);
    assert.deepEqual(fires(new CronTrigger({ minute: 5 }), '2024-01-01T00:00:00Z', 2), [
      '2024-01-01T00:05:00Z',
      '2024-01-01T01:05:00Z',
    ]);
    // hour lies between two given fields: it stays '*'
    assert.deepEqual(fires(new CronTrigger({ day: 1, minute: 5 }), '2024-01-01T00:00:00Z', 2), [
      '2024-01-01T00:05:00Z',
      '2024-01-01T01:05:00Z',
    ]);
    assert.deepEqual(fires(new CronTrigger({ second: '*/30' }), '2024-01-01T00:00:00Z', 2), [
      '2024-01-01T00:00:30Z',
      '2024-01-01T00:01:00Z',
    ]);
  });

  test('week = ISO 8601 week number; day and dayOfWeek are ANDed', () => {
    // ISO week 1 of 2025 starts on Monday 2024-12-30; of 2026 on Monday 2025-12-29.
    const t = new CronTrigger({ week: 1, dayOfWeek: 'mon', hour: 0 });
    assert.deepEqual(fires(t, '2024-06-01T00:00:00Z', 2), ['2024-12-30T00:00:00Z', '2025-12-29T00:00:00Z']);
    // 13th AND Friday: 2024-09-13, 2024-12-13
    const f13 = new CronTrigger({ day: 13, dayOfWeek: 'fri' });
    assert.deepEqual(fires(f13, '2024-01-01T00:00:00Z', 2), ['2024-09-13T00:00:00Z', '2024-12-13T00:00:00Z']);
  });

  test('year field and a/n steps', () => {
    const t = new CronTrigger({ year: '2030-2031', month: 'jan', day: '1/15' });
    assert.deepEqual(fires(t, '2024-01-01T00:00:00Z', 5), [
      '2030-01-01T00:00:00Z',
      '2030-01-16T00:00:00Z',
      '2030-01-31T00:00:00Z',
      '2031-01-01T00:00:00Z',
      '2031-01-16T00:00:00Z',
    ]);
    assert.deepEqual(fires(t, '2031-01-20T00:00:00Z', 5), ['2031-01-31T00:00:00Z']);
  });

  test('invalid fields throw INVALID_CRON naming the field', () => {
    const cases: [CronFieldsOptions, string][] = [
      [{ day: '6th fri' }, 'day'],
      [{ dayOfWeek: 7 }, 'dayOfWeek'],
      [{ hour: 24 }, 'hour'],
      [{ minute: '*/0' }, 'minute'],
      [{ month: 'foo' }, 'month'],
      [{ week: 54 }, 'week'],
      [{ day: 'last frx' }, 'day'],
      [{ dayOfWeek: 'fri-mon' }, 'dayOfWeek'],
      [{ second: '1,,2' }, 'second'],
    ];
    for (const [opts, field] of cases) {
      assert.throws(
        () => new CronTrigger(opts),
        (err: unknown) => isTickworkError(err, 'INVALID_CRON') && err.details.field === field,
        JSON.stringify(opts),
      );
    }
    assert.throws(
      () => new CronTrigger({} as CronFieldsOptions),
      (e: unknown) => isTickworkError(e, 'INVALID_TRIGGER'),
    );
    assert.throws(
      () => new CronTrigger({ hour: 9, bogus: 1 } as unknown as CronFieldsOptions),
      (e: unknown) => isTickworkError(e, 'UNKNOWN_OPTION'),
    );
  });

  test('createTrigger, toJSON/fromJSON and fromCrontab', () => {
    const t = createTrigger('cron', { day: 'last fri', hour: 17, timezone: 'Europe/Berlin' }) as CronTrigger;
    const json = t.toJSON();
    assert.deepEqual(json, {
      type: 'cron',
      version: 1,
      fields: { day: 'last fri', hour: '17' },
      timezone: 'Europe/Berlin',
    });
    const back = triggerFromJSON(JSON.parse(JSON.stringify(json))) as CronTrigger;
    assert.deepEqual(fires(back, '2024-01-01T00:00:00Z', 3), fires(t, '2024-01-01T00:00:00Z', 3));
    const c = CronTrigger.fromCrontab('0 9 * * 1-5', { timezone: 'Europe/Berlin' });
    assert.equal(c.toString(), "cron[expression='0 9 * * 1-5', timezone='Europe/Berlin']");
    const viaKind = createTrigger('cron', { expression: '0 9 * * 1-5', timezone: 'Europe/Berlin' });
    assert.deepEqual(viaKind.toJSON(), c.toJSON());
  });
});

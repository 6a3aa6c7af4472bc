/** AndTrigger and OrTrigger (APScheduler 4's combining triggers). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AndTrigger, MAX_SEARCH_STEPS, OrTrigger } from '../../src/triggers/combining.js';
import { CronTrigger } from '../../src/triggers/cron/index.js';
import {
  DateTrigger,
  IntervalTrigger,
  createTrigger,
  triggerFromJSON,
  type Trigger,
} from '../../src/triggers/index.js';
import { isTickworkError } from '../../src/core/errors.js';

function fires(t: Trigger, after: string, n: number): string[] {
  const out: string[] = [];
  let prev = new Date(after);
  for (let i = 0; i < n; i++) {
    const next = t.getNextFireTime(prev, prev);
    if (!next) break;
    out.push(next.toISOString());
    prev = next;
  }
  return out;
}

describe('AndTrigger', () => {
  test('the earliest time all children agree on: Mondays that are the 13th', () => {
    const t = new AndTrigger([new CronTrigger('0 0 * * 1'), new CronTrigger('0 0 13 * *')]);
    // 2024-05-13 and 2025-01-13 are Mondays
    assert.deepEqual(fires(t, '2024-01-01T00:00:00Z', 2), [
      '2024-05-13T00:00:00.000Z',
      '2025-01-13T00:00:00.000Z',
    ]);
  });

  test('jumps: every minute AND 1 January', () => {
    const t = new AndTrigger([new CronTrigger('* * * * *'), new CronTrigger('0 0 1 1 *')]);
    assert.deepEqual(fires(t, '2024-06-01T00:00:00Z', 1), ['2025-01-01T00:00:00.000Z']);
  });

  test('children that never coincide give null quickly', () => {
    const t = new AndTrigger([new CronTrigger('0 0 * * 1'), new CronTrigger('0 0 * * 2')]);
    const started = performance.now();
    assert.equal(t.getNextFireTime(null, new Date('2024-01-01T00:00:00Z')), null);
    assert.ok(performance.now() - started < 1000);
    const hours = new AndTrigger([new CronTrigger('0 * * * *'), new CronTrigger('30 * * * *')], {
      maxIterations: 100,
    });
    assert.equal(hours.getNextFireTime(null, new Date('2024-01-01T00:00:00Z')), null);
  });

  test('with an interval trigger (grid from its start date) and a date trigger', () => {
    const every90 = new IntervalTrigger({ minutes: 90, startDate: '2024-01-01T00:00:00Z' });
    const t = new AndTrigger([every90, new CronTrigger('0 * * * *')]);
    assert.deepEqual(fires(t, '2024-01-01T00:00:00Z', 2), [
      '2024-01-01T03:00:00.000Z',
      '2024-01-01T06:00:00.000Z',
    ]);
    const once = new AndTrigger([new DateTrigger('2024-01-01T06:00:00Z'), new CronTrigger('0 */3 * * *')]);
    assert.equal(
      once.getNextFireTime(null, new Date('2024-01-01T00:00:00Z'))?.toISOString(),
      '2024-01-01T06:00:00.000Z',
    );
    assert.equal(once.getNextFireTime(new Date('2024-01-01T06:00:00Z'), new Date(0)), null);
  });

  test('threshold: fire times within it agree, the earliest wins, once', () => {
    const t = new AndTrigger([new CronTrigger('0 0 * * * *'), new CronTrigger('1 0 * * * *')], {
      threshold: 1000,
    });
    assert.deepEqual(fires(t, '2024-01-01T00:00:00Z', 2), [
      '2024-01-01T01:00:00.000Z',
      '2024-01-01T02:00:00.000Z',
    ]);
  });

  test('serialises its children; toString', () => {
    const t = new AndTrigger([new CronTrigger('0 0 * * 1'), new CronTrigger('0 0 13 * *')], {
      maxIterations: 500,
    });
    const json = JSON.parse(JSON.stringify(t.toJSON()));
    assert.equal(json.type, 'and');
    assert.equal(json.version, 1);
    assert.equal(json.maxIterations, 500);
    const back = triggerFromJSON(json);
    assert.deepEqual(fires(back, '2024-01-01T00:00:00Z', 2), fires(t, '2024-01-01T00:00:00Z', 2));
    assert.equal(
      t.toString(),
      "and[cron[expression='0 0 * * 1', timezone='UTC'], cron[expression='0 0 13 * *', timezone='UTC']]",
    );
    const viaKind = createTrigger('and', {
      triggers: [json.triggers[0], new CronTrigger('0 0 13 * *')],
      maxIterations: 500,
    });
    assert.deepEqual(viaKind.toJSON(), t.toJSON());
  });

  test('validation', () => {
    assert.throws(
      () => new AndTrigger([]),
      (e: unknown) => isTickworkError(e, 'INVALID_TRIGGER'),
    );
    assert.throws(
      () => new AndTrigger([{} as Trigger]),
      (e: unknown) => isTickworkError(e, 'INVALID_TRIGGER'),
    );
    assert.throws(
      () => new AndTrigger([new CronTrigger('* * * * *')], { maxIterations: 0 }),
      (e: unknown) => isTickworkError(e, 'INVALID_OPTION'),
    );
  });

  test('limits: maxIterations, children and nesting are bounded, so no input can stall the loop', () => {
    assert.throws(
      () => new AndTrigger([new CronTrigger('* * * * *')], { maxIterations: 100_000_000 }),
      (e: unknown) => isTickworkError(e, 'INVALID_OPTION') && e.details.field === 'maxIterations',
    );
    assert.equal(
      new AndTrigger([new CronTrigger('* * * * *')], { maxIterations: 100_000 }).maxIterations,
      100_000,
    );
    const leaf = { type: 'interval', version: 1, seconds: 1 };
    assert.throws(
      () => triggerFromJSON({ type: 'or', version: 1, triggers: Array.from({ length: 65 }, () => leaf) }),
      (e: unknown) => isTickworkError(e, 'INVALID_TRIGGER') && e.details.field === 'triggers',
    );
    const nest = (n: number): unknown =>
      n === 0 ? leaf : { type: 'or', version: 1, triggers: [nest(n - 1)] };
    assert.doesNotThrow(() => triggerFromJSON(nest(8)), '8 levels of or around a leaf are fine');
    for (const depth of [9, 1500]) {
      assert.throws(
        () => triggerFromJSON(nest(depth)),
        (e: unknown) => isTickworkError(e, 'INVALID_TRIGGER') && e.details.field === 'trigger.triggers',
      );
    }
  });
  test('nesting does not multiply the work: one search takes at most MAX_SEARCH_STEPS steps in all', () => {
    // Grid leaves, counted. An inner pair (every 100 ms, and every 101 ms from 1 ms) agrees every 10,100 ms
    // after about 100 rounds; the other pair (100 ms, 103 ms from 1 ms) every 10,300 ms. Three levels of
    // 20,000 rounds each would multiply to about 10^10 leaf calls; the whole search is capped.
    let calls = 0;
    const leaf = (ms: number, origin: number): Trigger => ({
      type: 'counting',
      jitter: null,
      getNextFireTime(prev: Date | null) {
        calls++;
        const after = prev === null ? origin : prev.getTime() + 1;
        return new Date(origin + Math.max(0, Math.ceil((after - origin) / ms)) * ms);
      },
      toJSON: () => ({ type: 'counting', version: 1 }),
      describe: () => 'counting',
    });
    const pair = (other: number) => new AndTrigger([leaf(100, 0), leaf(other, 1)], { maxIterations: 20_000 });
    assert.equal(pair(101).getNextFireTime(null, new Date(0))?.getTime(), 10_000, 'a pair alone agrees');
    calls = 0;
    const t = new AndTrigger([new AndTrigger([pair(101), pair(103)], { maxIterations: 20_000 }), pair(107)], {
      maxIterations: 20_000,
    });
    assert.equal(t.getNextFireTime(null, new Date(0)), null, 'no agreement within the cap');
    assert.ok(calls > 0 && calls <= 3 * MAX_SEARCH_STEPS, `leaf calls: ${calls}`);
    // The cap is per search: a later one has it whole again.
    assert.equal(pair(101).getNextFireTime(null, new Date(0))?.getTime(), 10_000);
  });

  test('a nested and that never fires does not starve the search around it (first Mondays of 2026)', () => {
    // and[or[Mondays, and[Mondays, Tuesdays] (never)], days 1-7]: the first Monday of each month.
    const t = new AndTrigger([
      new OrTrigger([
        new CronTrigger('0 0 * * 1'),
        new AndTrigger([new CronTrigger('0 0 * * 1'), new CronTrigger('0 0 * * 2')]),
      ]),
      new CronTrigger('0 0 1-7 * *'),
    ]);
    assert.deepEqual(fires(t, '2025-12-31T00:00:00Z', 3), [
      '2026-01-05T00:00:00.000Z',
      '2026-02-02T00:00:00.000Z',
      '2026-03-02T00:00:00.000Z',
    ]);
  });
});

describe('OrTrigger', () => {
  test('the earliest of the children; a shared time fires once', () => {
    const t = new OrTrigger([new CronTrigger('0 9 * * *'), new CronTrigger('0 17 * * *')]);
    assert.deepEqual(fires(t, '2024-01-01T00:00:00Z', 3), [
      '2024-01-01T09:00:00.000Z',
      '2024-01-01T17:00:00.000Z',
      '2024-01-02T09:00:00.000Z',
    ]);
    const dup = new OrTrigger([new CronTrigger('0 * * * *'), new CronTrigger('0 */2 * * *')]);
    assert.deepEqual(fires(dup, '2024-01-01T00:00:00Z', 3), [
      '2024-01-01T01:00:00.000Z',
      '2024-01-01T02:00:00.000Z',
      '2024-01-01T03:00:00.000Z',
    ]);
  });
  test('null when every child is exhausted; serialisation', () => {
    const t = new OrTrigger([new DateTrigger('2024-01-01T00:00:00Z'), new CronTrigger('0 0 0 1 1 * 2024')]);
    assert.equal(t.getNextFireTime(new Date('2024-01-01T00:00:00Z'), new Date(0)), null);
    const back = triggerFromJSON(JSON.parse(JSON.stringify(t.toJSON())));
    assert.equal(back.type, 'or');
    assert.equal(back.getNextFireTime(null, new Date(0))?.toISOString(), '2024-01-01T00:00:00.000Z');
    assert.match(t.describe(), /^Whenever any of these fires/);
  });
  test('a date child later than the previous fire time still fires; passed dates do not hold the schedule back', () => {
    const daily = new CronTrigger('0 9 * * *');
    const t = new OrTrigger([daily, new DateTrigger(new Date('2030-01-03T15:00:00Z'))]);
    assert.deepEqual(fires(t, '2030-01-01T00:00:00Z', 5), [
      '2030-01-01T09:00:00.000Z',
      '2030-01-02T09:00:00.000Z',
      '2030-01-03T09:00:00.000Z',
      '2030-01-03T15:00:00.000Z',
      '2030-01-04T09:00:00.000Z',
    ]);
    const dates = new OrTrigger([
      new DateTrigger(new Date('2030-01-01T01:00:00Z')),
      new DateTrigger(new Date('2030-01-01T02:00:00Z')),
    ]);
    assert.deepEqual(fires(dates, '2030-01-01T00:00:00Z', 3), [
      '2030-01-01T01:00:00.000Z',
      '2030-01-01T02:00:00.000Z',
    ]);
    // With no previous fire time, a passed date does not win over a child that fires from now on.
    const late = new OrTrigger([new DateTrigger(new Date('2029-12-31T00:00:00Z')), daily]);
    assert.equal(
      late.getNextFireTime(null, new Date('2030-01-01T10:00:00Z'))?.toISOString(),
      '2030-01-02T09:00:00.000Z',
    );
    // Only passed dates: the earliest (a date job added late fires, per its misfire grace time).
    assert.equal(
      new OrTrigger([new DateTrigger(new Date('2029-12-31T00:00:00Z'))])
        .getNextFireTime(null, new Date('2030-01-01T00:00:00Z'))
        ?.toISOString(),
      '2029-12-31T00:00:00.000Z',
    );
  });
});

/**
 * Differential test against croner 11, an independent implementation, on the part of the syntax where its
 * rules and ours coincide (`shared/vectors/cron-README.md`, "Where the libraries differ"):
 *
 * - zones without DST since 1970 (UTC, Asia/Kolkata, Asia/Tokyo): the DST rules never come into play;
 * - at least one day field is exactly `*` or `?`, so both sides AND the day fields (croner ORs a `*\/n` day
 *   field next to a restricted one, where Vixie ANDs);
 * - no `L-n` (croner rejects it), no day-of-week range ending at 0 or 7 and no `N/S` in day-of-week (croner
 *   stops those at 6, where day-of-week walks to 7 = Sunday), steps no wider than the field (croner rejects
 *   those).
 *
 * croner runs with `sloppyRanges` (so `5/15` = 5-59/15, as here). The seed is fixed; on failure fast-check
 * prints it with the counterexample, and the message names the expression, zone and instant.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Cron } from 'croner';
import { CronTrigger } from '../../../src/triggers/cron/index.js';

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/** One list item of a numeric field: `*`, `N`, `N-M`, `*\/S`, `N-M/S`, `N/S` (names where given). */
function item(
  min: number,
  max: number,
  names: string[] | null,
  base: number,
  slash = true,
): fc.Arbitrary<string> {
  const value = fc
    .tuple(fc.integer({ min, max }), fc.boolean())
    .map(([v, named]) => (names && named ? names[v - base]! : String(v)));
  const range = fc
    .tuple(fc.integer({ min, max }), fc.integer({ min, max }))
    .map(([a, b]) => (a <= b ? [a, b] : [b, a]));
  const step = fc.integer({ min: 1, max: max - min + 1 });
  const items = [
    fc.constant('*'),
    value,
    range.map(([a, b]) => `${a}-${b}`),
    ...(slash
      ? [
          step.map((s) => `*/${s}`),
          fc.tuple(range, step).map(([[a, b], s]) => `${a}-${b}/${s}`),
          fc.tuple(fc.integer({ min, max }), step).map(([a, s]) => `${a}/${s}`),
        ]
      : []),
  ];
  return fc.oneof(...items);
}

function field(
  min: number,
  max: number,
  names: string[] | null = null,
  base = 0,
  slash = true,
): fc.Arbitrary<string> {
  return fc
    .array(item(min, max, names, base, slash), { minLength: 1, maxLength: 3 })
    .map((xs) => xs.join(','));
}

/** Day-of-month when day-of-week is `*` or `?`. */
const dom = fc.oneof(
  { weight: 4, arbitrary: field(1, 31) },
  { weight: 1, arbitrary: fc.constantFrom('L', 'LW', '?') },
  {
    weight: 2,
    arbitrary: fc
      .oneof(fc.constantFrom(1, 2, 28, 29, 30, 31), fc.integer({ min: 1, max: 31 }))
      .map((n) => `${n}W`),
  },
);
/** Day-of-week when day-of-month is `*` or `?`: 0-6 (7 only alone), names, `d#k`, `dL`, `*\/S`, `N-M/S`. */
const dow = fc.oneof(
  { weight: 4, arbitrary: field(0, 6, DAYS, 0, false) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 7 }).map((s) => `*/${s}`) },
  { weight: 1, arbitrary: fc.constantFrom('7', 'SUN', '?', '1-5/2', 'MON-FRI') },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1, max: 5 }))
      .map(([d, k]) => `${d}#${k}`),
  },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 6 }).map((d) => `${d}L`) },
);
const days = fc.oneof(
  fc.tuple(dom, fc.constantFrom('*', '?')),
  fc.tuple(fc.constantFrom('*', '?'), dow),
  fc.constant(['*', '*'] as const),
);

const expression = fc
  .record({
    second: fc.option(field(0, 59), { nil: undefined, freq: 3 }),
    minute: field(0, 59),
    hour: field(0, 23),
    days,
    month: fc.oneof(fc.constant('*'), field(1, 12, MONTHS, 1)),
  })
  .map(({ second, minute, hour, days: [d, w], month }) =>
    [second, minute, hour, d, month, w].filter((x) => x !== undefined).join(' '),
  );

const instant = fc
  .tuple(fc.integer({ min: 1970, max: 2098 }), fc.integer({ min: 0, max: 366 * 86_400 - 1 }))
  .map(([y, s]) => Date.UTC(y, 0, 1) + s * 1000);

function ours(expr: string, timezone: string, after: number, n: number): string[] {
  const trigger = new CronTrigger(expr, { timezone });
  const out: string[] = [];
  let prev = new Date(after);
  for (let i = 0; i < n; i++) {
    const next = trigger.getNextFireTime(prev, prev);
    if (next === null) break;
    out.push(next.toISOString());
    prev = next;
  }
  return out;
}

test('agrees with croner on the syntax and zones where the rules coincide', () => {
  let fired = 0;
  fc.assert(
    fc.property(
      expression,
      fc.constantFrom('UTC', 'Asia/Kolkata', 'Asia/Tokyo'),
      instant,
      (expr, zone, after) => {
        const want = new Cron(expr, { timezone: zone, sloppyRanges: true })
          .nextRuns(5, new Date(after))
          .map((d) => d.toISOString())
          // croner searches a bounded span only; compare within the year field's reach of both.
          .filter((iso) => iso < '2100');
        const got = ours(expr, zone, after, 5).filter((iso) => iso < '2100');
        if (got.length > 0) fired++;
        assert.deepEqual(got, want, `${expr} in ${zone} after ${new Date(after).toISOString()}`);
      },
    ),
    { numRuns: 1000, seed: 20250611 },
  );
  assert.ok(fired > 750, `only ${fired} of 1000 expressions fired`);
});

/**
 * The public conformance corpus (`shared/vectors/cron-public.json`): every case, compared instant by instant
 * and offset by offset. Failures are collected per group so the output stays readable.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CronTrigger } from '../../../src/triggers/cron/index.js';
import { isTickworkError } from '../../../src/core/errors.js';
import { isoInZone, readVectors } from './helpers.js';

interface ValidCase {
  id: string;
  expression: string;
  timezone: string;
  after: string;
  expected: string[];
  fixedTime: boolean;
  tags: string[];
  invalid?: undefined;
}
interface InvalidCase {
  id: string;
  expression: string;
  invalid: true;
  reason: string;
}
type Case = ValidCase | InvalidCase;

const corpus = readVectors<{ cases: Case[] }>('cron-public.json');
const valid = corpus.cases.filter((c): c is ValidCase => !c.invalid);
const invalid = corpus.cases.filter((c): c is InvalidCase => c.invalid === true);

function run(c: ValidCase): string | null {
  let trigger: CronTrigger;
  try {
    trigger = new CronTrigger(c.expression, { timezone: c.timezone });
  } catch (err) {
    return `${c.id} ${JSON.stringify(c.expression)} threw ${(err as Error).message}`;
  }
  if (trigger.fixedTime !== c.fixedTime) {
    return `${c.id} ${JSON.stringify(c.expression)}: fixedTime ${trigger.fixedTime}, expected ${c.fixedTime}`;
  }
  const got: string[] = [];
  let prev = new Date(c.after);
  const now = new Date(c.after);
  for (let i = 0; i < c.expected.length + 1; i++) {
    const next = trigger.getNextFireTime(prev, now);
    if (next === null) break;
    if (i < c.expected.length) got.push(isoInZone(next.getTime(), c.timezone));
    else got.push('(extra)');
    prev = next;
  }
  // A list shorter than five means the schedule ran out: we must return null there too.
  const want = c.expected.length < 5 ? c.expected : c.expected;
  const gotCmp = c.expected.length < 5 ? got : got.slice(0, c.expected.length);
  const instantsOk =
    gotCmp.length === want.length && gotCmp.every((g, i) => Date.parse(g) === Date.parse(want[i]!));
  const textOk = gotCmp.every((g, i) => g === want[i]);
  if (instantsOk && textOk) return null;
  return `${c.id} ${JSON.stringify(c.expression)} ${c.timezone} after ${c.after}\n    expected ${want.join(' ')}\n    got      ${gotCmp.join(' ')}`;
}

function check(cases: ValidCase[]): void {
  const failures: string[] = [];
  for (const c of cases) {
    const f = run(c);
    if (f) failures.push(f);
  }
  assert.equal(
    failures.length,
    0,
    `${failures.length} of ${cases.length} failed:\n${failures.slice(0, 20).join('\n')}`,
  );
}

describe('cron-public.json', () => {
  test('the corpus is there and has both kinds of case', () => {
    assert.ok(valid.length > 2000, `valid cases: ${valid.length}`);
    assert.ok(invalid.length > 50, `invalid cases: ${invalid.length}`);
  });

  const groups: [string, (c: ValidCase) => boolean][] = [
    ['UTC', (c) => c.timezone === 'UTC'],
    ['DST gaps and overlaps', (c) => c.timezone !== 'UTC' && c.tags.some((t) => t.startsWith('dst-'))],
    [
      'L, W and #',
      (c) =>
        c.timezone !== 'UTC' &&
        !c.tags.some((t) => t.startsWith('dst-')) &&
        c.tags.some((t) => ['L', 'L-n', 'W', '#'].includes(t)),
    ],
    [
      'other zones',
      (c) =>
        c.timezone !== 'UTC' &&
        !c.tags.some((t) => t.startsWith('dst-')) &&
        !c.tags.some((t) => ['L', 'L-n', 'W', '#'].includes(t)),
    ],
  ];
  for (const [name, pick] of groups) {
    const cases = valid.filter(pick);
    test(`${name}: ${cases.length} cases give the expected fire times`, () => check(cases));
  }

  test(`${invalid.length} invalid expressions throw INVALID_CRON`, () => {
    const failures: string[] = [];
    for (const c of invalid) {
      try {
        new CronTrigger(c.expression);
        failures.push(`${c.id} ${JSON.stringify(c.expression)} (${c.reason}) was accepted`);
      } catch (err) {
        if (!isTickworkError(err, 'INVALID_CRON')) {
          failures.push(`${c.id} ${JSON.stringify(c.expression)} threw ${String(err)}`);
        } else if (typeof err.details.position !== 'number' || typeof err.details.field !== 'string') {
          failures.push(`${c.id} ${JSON.stringify(c.expression)}: details lack field/position`);
        }
      }
    }
    assert.equal(failures.length, 0, `${failures.length} failed:\n${failures.slice(0, 20).join('\n')}`);
  });
});

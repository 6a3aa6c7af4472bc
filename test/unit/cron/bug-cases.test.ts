/** The cron cases of `shared/vectors/bug-cases.json`: schedules distilled from public bug reports. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CronTrigger } from '../../../src/triggers/cron/index.js';
import { isoInZone, readVectors } from './helpers.js';

interface BugCase {
  id: string;
  source: string;
  kind: string;
  input: { expression: string };
  after: string;
  timezone: string;
  expected: string[];
}

const cases = Object.values(readVectors<Record<string, BugCase>>('bug-cases.json')).filter(
  (c) => c.kind === 'cron',
);

describe('bug-cases.json (cron)', () => {
  test('there are cron cases', () => assert.ok(cases.length >= 20));
  for (const c of cases) {
    test(`${c.id} (${c.source}): ${c.input.expression} in ${c.timezone}`, () => {
      const trigger = new CronTrigger(c.input.expression, { timezone: c.timezone });
      const got: string[] = [];
      let prev = new Date(c.after);
      for (let i = 0; i < c.expected.length; i++) {
        const next = trigger.getNextFireTime(prev, new Date(c.after));
        if (next === null) break;
        got.push(isoInZone(next.getTime(), c.timezone));
        prev = next;
      }
      assert.deepEqual(got, c.expected);
      if (c.expected.length === 0) {
        const started = performance.now();
        assert.equal(trigger.getNextFireTime(null, new Date(c.after)), null);
        assert.ok(performance.now() - started < 1000, 'a never-firing schedule answers promptly');
      }
    });
  }
});

/**
 * Interval jobs fire on both passes of a repeated wall time, also when the schedule's next match after the
 * first pass lies far ahead (a restricted day field). Expected values by hand from the rule in
 * `shared/vectors/cron-README.md` ("Every other job fires at each real instant whose wall time matches:
 * ... repeated wall times fire on both passes").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CronTrigger } from '../../../src/triggers/cron/index.js';
import { isoInZone } from './helpers.js';

function fires(expression: string, timezone: string, after: string, n: number): string[] {
  const trigger = new CronTrigger(expression, { timezone });
  const out: string[] = [];
  let prev = new Date(after);
  for (let i = 0; i < n; i++) {
    const next = trigger.getNextFireTime(prev, prev);
    if (next === null) break;
    out.push(isoInZone(next.getTime(), timezone));
    prev = next;
  }
  return out;
}

test('New York, 7 November 2021: */30 1 7 11 * fires 01:30 EDT, then 01:00 and 01:30 EST', () => {
  // 02:00 EDT (06:00Z) becomes 01:00 EST: 01:00-01:59 occurs at 05:00-05:59Z and again at 06:00-06:59Z.
  // The next 7 November is 2022 (EST by then: DST ended on 6 November 2022).
  assert.deepEqual(fires('*/30 1 7 11 *', 'America/New_York', '2021-11-07T05:00:00Z', 5), [
    '2021-11-07T01:30:00-04:00',
    '2021-11-07T01:00:00-05:00',
    '2021-11-07T01:30:00-05:00',
    '2022-11-07T01:00:00-05:00',
    '2022-11-07T01:30:00-05:00',
  ]);
});

test('Lord Howe, 25 March 2007 (a 30-minute fall-back): 5/4 1 25 * * fires 01:33 to 01:57 again', () => {
  // 02:00 +11:00 (15:00Z) becomes 01:30 +10:30: 01:30-01:59 occurs twice. 5/4 = minutes 5, 9, ..., 57.
  assert.deepEqual(fires('5/4 1 25 * *', 'Australia/Lord_Howe', '2007-03-24T14:48:59Z', 11), [
    '2007-03-25T01:49:00+11:00',
    '2007-03-25T01:53:00+11:00',
    '2007-03-25T01:57:00+11:00',
    '2007-03-25T01:33:00+10:30',
    '2007-03-25T01:37:00+10:30',
    '2007-03-25T01:41:00+10:30',
    '2007-03-25T01:45:00+10:30',
    '2007-03-25T01:49:00+10:30',
    '2007-03-25T01:53:00+10:30',
    '2007-03-25T01:57:00+10:30',
    '2007-04-25T01:05:00+10:30',
  ]);
});

test('Sydney, 2 April 2028: both day fields restricted, 15 2 1-2 * SUN#1 fires 02:15 on both passes', () => {
  // 03:00 +11:00 (16:00Z on 1 April) becomes 02:00 +10:00. Fixed-time jobs fire on the first pass only,
  // so with dst.overlap 'both' the second pass must be found too (next match: 1 May, a restricted dom).
  const trigger = new CronTrigger('15 2 1-2 * SUN#1', {
    timezone: 'Australia/Sydney',
    dst: { overlap: 'both' },
  });
  const out: string[] = [];
  let prev = new Date('2028-04-01T15:00:00Z');
  for (let i = 0; i < 3; i++) {
    const next = trigger.getNextFireTime(prev, prev)!;
    out.push(isoInZone(next.getTime(), 'Australia/Sydney'));
    prev = next;
  }
  assert.deepEqual(out, [
    '2028-04-02T02:15:00+11:00',
    '2028-04-02T02:15:00+10:00',
    '2028-05-01T02:15:00+10:00',
  ]);
});

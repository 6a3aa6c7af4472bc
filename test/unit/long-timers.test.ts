// Interval and date cases of ../shared/vectors/bug-cases.json: trigger arithmetic, and with a ManualClock that
// a fire time further away than Node's 2^31-1 ms timer limit neither fires at once nor early, and that no timer
// is ever armed for longer than the scheduler's cap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DateTrigger, IntervalTrigger, Scheduler, type TaskContext } from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';
import { captureLogger } from '../helpers/logger.js';
import { at, loadVectors, vector, WrappedClock } from '../helpers/time.js';

interface BugCase {
  id: string;
  kind: string;
  after: string;
  timezone: string;
  expected: string[];
  input: Record<string, unknown>;
}

const cases = loadVectors<BugCase>('bug-cases.json');
const MAX_NODE_TIMER = 2 ** 31 - 1;
const DAY = 86_400_000;

/** The first `n` fire times strictly after `after`, chained through `previousFireTime`. */
function chain(
  trigger: { getNextFireTime(p: Date | null, now: Date): Date | null },
  after: number,
  n: number,
) {
  const out: number[] = [];
  let prev = new Date(after);
  for (let i = 0; i < n; i++) {
    const next = trigger.getNextFireTime(prev, prev);
    if (next === null) break;
    out.push(next.getTime());
    prev = next;
  }
  return out;
}

test('the vector file has the interval and date cases this suite covers', () => {
  const ids = cases.filter((c) => c.kind === 'interval' || c.kind === 'date').map((c) => c.id);
  assert.deepEqual(ids.sort(), [
    'date-wall-time-in-zone',
    'interval-24h-across-spring-forward',
    'interval-30-days',
  ]);
});

for (const id of ['interval-30-days', 'interval-24h-across-spring-forward']) {
  test(`${id}: interval fire times are elapsed milliseconds`, () => {
    const c = vector(cases, id);
    const trigger = new IntervalTrigger({
      milliseconds: c.input.every_ms as number,
      startDate: c.input.start as string,
      timezone: c.timezone,
    });
    const after = at(c.after);
    assert.deepEqual(chain(trigger, after, c.expected.length), c.expected.map(at));
    // From "now" = after with no previous fire time, the start itself is the first fire time (at or after now).
    assert.equal(trigger.getNextFireTime(null, new Date(after))!.getTime(), at(c.input.start as string));
    // Without a start date the first fire time is one interval after now.
    const relative = new IntervalTrigger({ milliseconds: c.input.every_ms as number });
    assert.equal(relative.getNextFireTime(null, new Date(after))!.getTime(), at(c.expected[0]!));
  });
}

test('date-wall-time-in-zone: a local wall time is read with the offset in force on that date', () => {
  const c = vector(cases, 'date-wall-time-in-zone');
  const trigger = new DateTrigger({ runDate: c.input.run_at_local as string, timezone: c.timezone });
  assert.equal(trigger.runDate.getTime(), at(c.expected[0]!));
  assert.equal(trigger.runDate.toISOString(), '2021-08-04T23:08:00.000Z');
  assert.equal(trigger.getNextFireTime(null, new Date(at(c.after)))!.getTime(), at(c.expected[0]!));
});

/**
 * A scheduler on a recording clock. A 10 min cap (instead of the memory store's 30 s) keeps two months of
 * simulated wake-ups fast; the point is that the cap holds, whatever its value.
 */
const CAP = 600_000;
function longRunSetup(start: string) {
  const clock = new ManualClock(start, { settleTurns: 2 });
  const recording = new WrappedClock(clock);
  const scheduler = new Scheduler({ clock: recording, logger: captureLogger(), maxWakeInterval: CAP });
  const runs: { at: number; scheduled: number }[] = [];
  const task = (ctx: TaskContext) =>
    void runs.push({ at: clock.now(), scheduled: ctx.scheduledFireTime.getTime() });
  return { clock, recording, scheduler, runs, task };
}

test('interval-30-days: a 30-day interval job runs on day 30 and not before (no 2^31-1 ms overflow)', async () => {
  const c = vector(cases, 'interval-30-days');
  const every = c.input.every_ms as number;
  assert.ok(every > MAX_NODE_TIMER, 'the case is about delays longer than a Node timer can hold');
  const { clock, recording, scheduler, runs, task } = longRunSetup(c.input.start as string);
  await scheduler.addJob(task, 'interval', { milliseconds: every });
  await scheduler.start();
  const first = at(c.expected[0]!); // 2024-02-01T00:00Z
  await clock.advanceTo(first - 1);
  assert.deepEqual(runs, [], 'no execution before 2024-02-01T00:00Z');
  await clock.advanceTo(first + DAY);
  assert.deepEqual(runs, [{ at: first, scheduled: first }]);
  assert.equal(
    (await scheduler.getJob((await scheduler.getJobs())[0]!.id))!.nextRunTime!.getTime(),
    at(c.expected[1]!),
  );
  assert.ok(recording.delays.length > 0);
  assert.ok(recording.maxDelay <= CAP, `a timer of ${recording.maxDelay} ms was armed (cap ${CAP})`);
  await scheduler.shutdown();
});

test('a date 59 days ahead fires on day 59, not at once', async () => {
  const start = '2024-01-01T00:00:00Z';
  const runDate = at(start) + 59 * DAY; // 5,097,600,000 ms ahead: more than twice 2^31-1
  assert.equal(new Date(runDate).toISOString(), '2024-02-29T00:00:00.000Z');
  const { clock, recording, scheduler, runs, task } = longRunSetup(start);
  await scheduler.addJob(task, 'date', { runDate: new Date(runDate) });
  await scheduler.start();
  await clock.advance(1000);
  assert.deepEqual(runs, [], 'does not fire at once');
  await clock.advanceTo(runDate - 1);
  assert.deepEqual(runs, [], 'does not fire early');
  await clock.advanceTo(runDate + 60_000);
  assert.deepEqual(runs, [{ at: runDate, scheduled: runDate }]);
  assert.ok(recording.maxDelay <= CAP, `a timer of ${recording.maxDelay} ms was armed (cap ${CAP})`);
  await scheduler.shutdown();
});

test('no timer is armed for longer than maxWakeInterval, whatever the job (timeout, retry, shutdown)', async () => {
  const cap = 5_000;
  const clock = new ManualClock('2024-01-01T00:00:00Z');
  const recording = new WrappedClock(clock);
  const scheduler = new Scheduler({ clock: recording, logger: captureLogger(), maxWakeInterval: cap });
  const seen: string[] = [];
  await scheduler.addJob(
    async function slow(ctx: TaskContext) {
      seen.push(`start ${ctx.attempt}`);
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
      seen.push(`aborted ${ctx.attempt}`);
    },
    'interval',
    {
      hours: 1,
      timeout: 12_000,
      retry: { attempts: 2, backoff: 'fixed', delay: 9_000, jitter: false },
    },
  );
  await scheduler.start();
  await clock.advance(3_600_000 + 12_000 - 1);
  assert.deepEqual(seen, ['start 1'], 'the 12 s timeout has not fired early');
  await clock.advance(1);
  assert.deepEqual(seen, ['start 1', 'aborted 1']);
  await clock.advance(9_000);
  assert.deepEqual(seen, ['start 1', 'aborted 1', 'start 2']);
  const stopped = scheduler.shutdown({ timeout: 11_000 });
  await clock.advance(11_000);
  await stopped;
  assert.deepEqual(seen, ['start 1', 'aborted 1', 'start 2', 'aborted 2']);
  assert.ok(recording.maxDelay <= cap, `a timer of ${recording.maxDelay} ms was armed (cap ${cap})`);
});

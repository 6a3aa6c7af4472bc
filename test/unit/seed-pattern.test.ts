import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler } from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';
import { captureLogger } from '../helpers/logger.js';

// The seed's APScheduler pattern: a 1 s interval job, max_instances=2, whose body takes 3 s.
// APScheduler's own log for it shows two runs, then two skipped fire times, repeating: runs at
// 0, 1, 4, 5 s and skips at 2, 3, 6, 7 s.
test('1 s interval, maxInstances 2, 3 s runs: starts at 0,1,4,5 s and skips 2,3,6,7 s', async () => {
  const t0 = Date.parse('2024-04-25T07:37:40Z');
  const clock = new ManualClock(t0);
  const logger = captureLogger();
  const scheduler = new Scheduler({ clock, logger });
  const starts: number[] = [];
  const skipped: string[] = [];
  scheduler.on('job:max-instances', (e) => skipped.push(e.scheduledFireTime));
  async function tick() {
    starts.push((clock.now() - t0) / 1000);
    await clock.sleep(3000);
  }
  // First fire at t0: startDate anchors the grid.
  await scheduler.addJob(tick, 'interval', { seconds: 1, maxInstances: 2, startDate: new Date(t0) });
  await scheduler.start();
  await clock.advance(7_999);
  assert.deepEqual(starts, [0, 1, 4, 5]);
  assert.deepEqual(
    skipped.map((s) => (Date.parse(s) - t0) / 1000),
    [2, 3, 6, 7],
  );
  const warnings = logger.messages('warn');
  assert.equal(warnings.length, 4);
  assert.equal(
    warnings[0],
    'Execution of job "tick (trigger: interval[0:00:01], next run at: 2024-04-25 07:37:42 UTC)" skipped: maximum number of running instances reached (2)',
  );
  assert.equal(
    warnings[3],
    'Execution of job "tick (trigger: interval[0:00:01], next run at: 2024-04-25 07:37:47 UTC)" skipped: maximum number of running instances reached (2)',
  );
  await clock.advance(10_000);
  await scheduler.shutdown({ wait: false });
});

// A store may commit part of a firing call and fail the rest (PostgreSQL's fireConcurrency divides a claim
// among transactions): the scheduler runs what was committed, reports the failure, and fires the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore, Scheduler, type FirePlanner, type FireResult } from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';
import { captureLogger } from '../helpers/logger.js';
import { at } from '../helpers/time.js';

const T = at('2024-01-01T00:00:00Z');

/** A memory store whose first firing call fires one job and reports that the rest of the claim failed. */
class HalfFailingStore extends MemoryStore {
  calls = 0;
  override async fireDueJobs(
    now: Date,
    limit: number,
    planner: FirePlanner,
    horizon?: Date,
  ): Promise<FireResult> {
    if (++this.calls > 1) return super.fireDueJobs(now, limit, planner, horizon);
    const result = await super.fireDueJobs(now, 1, planner, horizon);
    return { ...result, more: true, error: new Error('connection refused') };
  }
}

test('a firing call that failed in part: its committed fires run, the failure is logged and emitted, the rest fire', async () => {
  const store = new HalfFailingStore();
  const clock = new ManualClock(T);
  const logger = captureLogger();
  const scheduler = new Scheduler({ clock, store, logger, fireAhead: 0 });
  const ran: string[] = [];
  scheduler.defineTask('work', (ctx) => void ran.push(ctx.jobId));
  const errors: { message: string; error: { message: string } }[] = [];
  scheduler.on('scheduler:error', (e) => errors.push(e));
  await scheduler.start();
  for (const id of ['a', 'b', 'c'])
    await scheduler.addJob('work', 'date', { runDate: new Date(T + 1000), id });
  await clock.advance(1000);
  assert.deepEqual([...ran].sort(), ['a', 'b', 'c'], 'the committed job and the rest all ran, once each');
  assert.equal(store.calls >= 2, true, 'the scheduler called again');
  assert.deepEqual(
    errors.map((e) => [e.message, e.error.message]),
    [['store failure (part of a firing batch)', 'connection refused']],
  );
  assert.ok(
    logger.messages('error').some((m) => m.includes('failed in part of a firing batch')),
    logger.messages('error').join('\n'),
  );
  await scheduler.shutdown();
});

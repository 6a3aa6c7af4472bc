// A store may commit part of a firing call and fail the rest (PostgreSQL's fireConcurrency divides a claim
// among transactions): the scheduler starts what was committed, then backs off as from any store failure,
// so a failure that recurs is not retried in a loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore, Scheduler, type FirePlanner, type FireResult } from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';
import { captureLogger } from '../helpers/logger.js';
import { at } from '../helpers/time.js';

const T = at('2024-01-01T00:00:00Z');

/** A memory store whose firing calls, while `failing`, fire one due job and report the rest as failed. */
class PartlyFailingStore extends MemoryStore {
  failing = true;
  partialCalls = 0;
  override async fireDueJobs(
    now: Date,
    limit: number,
    planner: FirePlanner,
    horizon?: Date,
  ): Promise<FireResult> {
    if (!this.failing) return super.fireDueJobs(now, limit, planner, horizon);
    const result = await super.fireDueJobs(now, 1, planner, horizon);
    if (result.fired.length === 0) return result;
    this.partialCalls++;
    return { ...result, more: true, error: new Error('connection refused') };
  }
}

test('a firing call that failed in part: its committed run starts, then the scheduler backs off before calling again', async () => {
  const store = new PartlyFailingStore();
  const clock = new ManualClock(T);
  const logger = captureLogger();
  const scheduler = new Scheduler({ clock, store, logger, fireAhead: 0 });
  const ran: string[] = [];
  // The runs keep going until the end: a finishing run would wake the loop (to start more) by itself.
  let release!: () => void;
  const end = new Promise<void>((resolve) => (release = resolve));
  scheduler.defineTask('work', async (ctx) => {
    ran.push(ctx.jobId);
    await end;
  });
  const errors: string[] = [];
  scheduler.on('scheduler:error', (e) => errors.push(`${e.message}: ${e.error.message}`));
  await scheduler.start();
  for (const id of ['a', 'b', 'c'])
    await scheduler.addJob('work', 'date', { runDate: new Date(T + 1000), id });

  await clock.advance(1000);
  assert.equal(ran.length, 1, 'the committed run started at once');
  assert.equal(store.partialCalls, 1);
  assert.deepEqual(errors, ['store failure: connection refused']);
  assert.ok(
    logger.messages('error').includes('Job store "memory" failed; retrying in 1000 ms'),
    logger.messages('error').join('\n'),
  );
  // The first back-off is 1 s: no call in it.
  await clock.advance(999);
  assert.equal(store.partialCalls, 1, 'no call during the back-off');
  await clock.advance(1);
  assert.equal(store.partialCalls, 2);
  assert.equal(ran.length, 2, 'the next committed run started');
  // The store recovers; after the second back-off (2 s) the rest fires.
  store.failing = false;
  await clock.advance(2000);
  assert.deepEqual([...ran].sort(), ['a', 'b', 'c'], 'each job ran once');
  assert.equal(errors.length, 2);
  release();
  await scheduler.shutdown();
});

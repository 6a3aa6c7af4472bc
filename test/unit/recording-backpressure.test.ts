// A store slower to record outcomes than the tasks are to end: runs whose outcomes wait to be recorded
// count against maxConcurrentRuns beyond maxConcurrentRuns of them, so the queue of outcomes (and the memory
// it holds) stays bounded while the store is slow, and every outcome is recorded once it catches up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore, Scheduler, silentLogger, type RunOutcome } from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';
import { at } from '../helpers/time.js';

const T = at('2024-01-01T00:00:00Z');

/** A memory store whose finishRun waits while `held`. */
class SlowRecording extends MemoryStore {
  held = true;
  private waiting: (() => void)[] = [];
  release(): void {
    this.held = false;
    for (const w of this.waiting.splice(0)) w();
  }
  override async finishRun(runId: string, owner: string, attempt: number, now: Date, outcome: RunOutcome) {
    if (this.held) await new Promise<void>((resolve) => this.waiting.push(resolve));
    return super.finishRun(runId, owner, attempt, now, outcome);
  }
}

/**
 * 30 jobs due at once with 3 slots on `store`, whose recording of outcomes is stuck: at most 6 tasks start
 * in 10 s (3 slots, and 3 outcomes waiting without taking one) and nothing is recorded; `unstick()`, then
 * every task starts and every outcome is recorded.
 */
async function stuckRecording(store: MemoryStore, unstick: () => void): Promise<void> {
  const clock = new ManualClock(T);
  const scheduler = new Scheduler({ clock, store, logger: silentLogger, maxConcurrentRuns: 3, fireAhead: 0 });
  let started = 0;
  for (let i = 0; i < 30; i++)
    await scheduler.addJob(() => void started++, 'interval', {
      id: `j${i}`,
      hours: 1,
      nextRunTime: new Date(T),
    });
  await scheduler.start();
  for (let i = 0; i < 10; i++) await clock.advance(1000);
  assert.equal(started, 6);
  assert.equal((await store.getRuns({ status: ['succeeded'] })).length, 0);
  unstick();
  for (let i = 0; i < 30 && started < 30; i++) await clock.advance(1000);
  assert.equal(started, 30);
  await clock.advance(10_000);
  assert.equal((await store.getRuns({ status: ['succeeded'], limit: 100 })).length, 30);
  await scheduler.shutdown();
}

test('outcomes waiting for a slow store count against maxConcurrentRuns beyond maxConcurrentRuns of them', async () => {
  const store = new SlowRecording();
  await stuckRecording(store, () => store.release());
});

/** A memory store whose finishRun fails while `failing`. */
class FailingRecording extends MemoryStore {
  failing = true;
  override async finishRun(runId: string, owner: string, attempt: number, now: Date, outcome: RunOutcome) {
    if (this.failing) throw new Error('canceling statement due to statement timeout');
    return super.finishRun(runId, owner, attempt, now, outcome);
  }
}

test('outcomes whose recording failed (kept to be recorded again) count as well', async () => {
  const store = new FailingRecording();
  await stuckRecording(store, () => (store.failing = false));
});

/** A persistent memory store (outcomes recorded in groups by finishRuns) whose finishRuns waits while held. */
class SlowGroups extends MemoryStore {
  override readonly persistent = true;
  held = true;
  private waiting: (() => void)[] = [];
  release(): void {
    this.held = false;
    for (const w of this.waiting.splice(0)) w();
  }
  override async finishRuns(
    owner: string,
    items: { runId: string; attempt: number; outcome: RunOutcome }[],
    now: Date,
  ) {
    if (this.held) await new Promise<void>((resolve) => this.waiting.push(resolve));
    return super.finishRuns(owner, items, now);
  }
}

test('with outcomes recorded in groups, two groups (1,000 outcomes) may wait before they count', async () => {
  const clock = new ManualClock(T);
  const store = new SlowGroups();
  const scheduler = new Scheduler({ clock, store, logger: silentLogger, maxConcurrentRuns: 3, fireAhead: 0 });
  let started = 0;
  for (let i = 0; i < 1100; i++)
    await scheduler.addJob('t', 'interval', { id: `j${i}`, hours: 1, nextRunTime: new Date(T) });
  scheduler.defineTask('t', () => void started++);
  await scheduler.start();
  for (let i = 0; i < 20; i++) await clock.advance(1000);
  // 3 slots, and 3 + 2 x 500 outcomes waiting without taking one.
  assert.equal(started, 1006);
  store.release();
  for (let i = 0; i < 30 && started < 1100; i++) await clock.advance(1000);
  assert.equal(started, 1100);
  await scheduler.shutdown();
});

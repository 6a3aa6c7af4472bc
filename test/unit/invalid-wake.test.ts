// A store's wake time that is an Invalid Date (a stored time that is none) makes the loop sleep its longest,
// not spin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore, Scheduler, silentLogger } from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';

class InvalidWake extends MemoryStore {
  calls = 0;
  override async getNextWakeTime(): Promise<Date | null> {
    this.calls++;
    return new Date(Number.NaN);
  }
}

test('an Invalid Date wake time is treated as none: one pass per maxWakeInterval', async () => {
  const clock = new ManualClock('2024-01-01T00:00:00Z');
  const store = new InvalidWake();
  const scheduler = new Scheduler({ clock, store, logger: silentLogger, maxWakeInterval: 1000 });
  await scheduler.start();
  for (let i = 0; i < 20; i++) await clock.advance(10); // 200 ms
  const early = store.calls;
  assert.ok(early <= 2, `${early} passes in 200 ms`);
  await clock.advance(1000);
  assert.ok(store.calls > early, 'it woke again after maxWakeInterval');
  await scheduler.shutdown();
});

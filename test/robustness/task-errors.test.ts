// Breaker: a task that rejects with a value errorToJSON cannot serialise (circular object, BigInt, an Error
// whose `name` getter throws) leaves its run `running` forever: settle() is never reached, the slot is never
// freed, and every later fire time of the job is skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler, silentLogger } from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';

const circular: Record<string, unknown> = { a: 1 };
circular.self = circular;
const badName = new Error('x');
Object.defineProperty(badName, 'name', {
  get() {
    throw new Error('name getter');
  },
});

for (const [label, reason] of [
  ['a circular object', circular],
  ['a BigInt', 10n],
  ['an Error whose name getter throws', badName],
] as const) {
  test(`a task rejecting with ${label} is recorded failed and frees its maxInstances slot`, async () => {
    const clock = new ManualClock('2024-01-01T00:00:00Z');
    const scheduler = new Scheduler({ clock, logger: silentLogger });
    let calls = 0;
    scheduler.defineTask('t', async () => {
      calls++;
      throw reason;
    });
    await scheduler.addJob('t', 'interval', { seconds: 1, id: 'j', maxInstances: 1 });
    await scheduler.start();
    try {
      await clock.advance(3000);
      const runs = await scheduler.getRuns({ jobId: 'j' });
      assert.equal(calls, 3, 'the job runs at every fire time');
      assert.deepEqual(
        runs.map((r) => r.status),
        ['failed', 'failed', 'failed'],
      );
      assert.equal(scheduler.getRunningRuns().length, 0);
    } finally {
      await scheduler.shutdown({ timeout: 10 });
    }
  });
}

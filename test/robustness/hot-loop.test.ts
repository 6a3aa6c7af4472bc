// Breaker: when a pending run cannot be acquired by this process (its task is defined only in another
// process, or maxConcurrentRuns is saturated), store.getNextWakeTime() returns the run's past notBefore,
// the scheduler arms a 0 ms timer, and polls the store in a hot loop (~800 store transactions a second on a
// real clock; under ManualClock, clock.advance() never returns). Uses the real clock, on purpose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore, Scheduler, silentLogger } from '../../src/index.js';

async function pollsPerSecond(
  setup: (s: Scheduler, store: MemoryStore) => Promise<void>,
  options = {},
): Promise<number> {
  const store = new MemoryStore();
  let calls = 0;
  const orig = store.fireDueJobs.bind(store);
  store.fireDueJobs = (...a: Parameters<typeof orig>) => {
    calls++;
    return orig(...a);
  };
  const scheduler = new Scheduler({ store, logger: silentLogger, ...options });
  await setup(scheduler, store);
  await scheduler.start();
  try {
    await new Promise((r) => setTimeout(r, 500));
    const c0 = calls;
    await new Promise((r) => setTimeout(r, 1000));
    return calls - c0;
  } finally {
    await scheduler.shutdown({ wait: false });
  }
}

test('a saturated maxConcurrentRuns does not make the scheduler poll the store in a hot loop', async () => {
  const polls = await pollsPerSecond(
    async (s) => {
      s.defineTask('slow', async () => {
        await new Promise((r) => setTimeout(r, 3000));
      });
      s.defineTask('t', async () => {});
      await s.addJob('slow', 'date', { runDate: new Date(Date.now() + 50), id: 'slow' });
      await s.addJob('t', 'date', { runDate: new Date(Date.now() + 100), id: 'other' });
    },
    { maxConcurrentRuns: 1 },
  );
  assert.ok(polls < 50, `expected a few store polls per second, got ${polls}`);
});

test('a pending run whose task this process does not define does not make the scheduler poll in a hot loop', async () => {
  const polls = await pollsPerSecond(async (s, store) => {
    s.defineTask('t', async () => {});
    await s.addJob('t', 'interval', { seconds: 1, id: 'j' });
    // Written to the store behind the scheduler's back (modifyJob refuses a task this process lacks on a
    // memory store), as a process sharing a persistent store with another that defines the task would.
    setTimeout(() => void store.updateJob('j', { taskId: 'defined-elsewhere' }), 50);
  });
  assert.ok(polls < 50, `expected a few store polls per second, got ${polls}`);
});

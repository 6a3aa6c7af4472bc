// Breaker: maxWakeInterval accepts any finite number, so with the SystemClock a capped-timer step can exceed
// Node's 2^31-1 ms limit; SystemClock clamps it and fires the step early, so a 30-day run timeout fires
// after ~24.9 days (the overflow the docs say cannot happen).
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler, TickworkError, silentLogger } from '../../src/index.js';

const DAY = 86_400_000;

test('a 30-day run timeout does not fire early whatever maxWakeInterval was accepted', async () => {
  let scheduler: Scheduler;
  try {
    scheduler = new Scheduler({ logger: silentLogger, maxWakeInterval: 40 * DAY });
  } catch (err) {
    // Rejecting a maxWakeInterval above 2^31-1 ms is a fix too.
    assert.ok(err instanceof TickworkError && err.code === 'INVALID_OPTION');
    return;
  }
  mock.timers.enable({
    apis: ['setTimeout', 'setImmediate', 'Date'],
    now: Date.parse('2024-01-01T00:00:00Z'),
  });
  try {
    const T0 = Date.now();
    let abortedAfter: number | null = null;
    scheduler.defineTask('t', async (ctx: { signal: AbortSignal }) => {
      ctx.signal.addEventListener('abort', () => {
        abortedAfter = Date.now() - T0;
      });
      await new Promise(() => {});
    });
    await scheduler.addJob('t', 'date', { runDate: new Date(T0 + 1000), id: 'j', timeout: 30 * DAY });
    await scheduler.start();
    for (let h = 0; h < 29 * 24 && abortedAfter === null; h++) {
      mock.timers.tick(3_600_000);
      for (let k = 0; k < 5; k++) await new Promise((r) => process.nextTick(r));
    }
    assert.equal(abortedAfter, null, `timed out after ${(abortedAfter ?? 0) / DAY} days`);
  } finally {
    mock.timers.reset();
    await scheduler.shutdown({ wait: false });
  }
});

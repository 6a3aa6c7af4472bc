// A claim too large for the store (one that runs past a statement timeout, say) after smaller claims of the
// same wake-up succeeded: the scheduler claims at most half that size for a while, instead of failing at the
// same size at every wake-up, and goes back to larger claims after a minute without such a failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore, Scheduler } from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';
import { captureLogger } from '../helpers/logger.js';
import { at } from '../helpers/time.js';

const T = at('2024-01-01T00:00:00Z');
const HOUR = 3_600_000;

/** A memory store whose claims of more than `maxClaim` jobs fail, recording the size of every claim. */
class SmallClaims extends MemoryStore {
  readonly claims: number[] = [];
  maxClaim = 16;
  override fireDueJobs(...args: Parameters<MemoryStore['fireDueJobs']>) {
    this.claims.push(args[1]);
    if (args[1] > this.maxClaim)
      return Promise.reject(new Error('canceling statement due to statement timeout'));
    return super.fireDueJobs(...args);
  }
}

test('a claim that fails after smaller ones succeeded halves the claims for a minute; then they double again', async () => {
  const clock = new ManualClock(T);
  const store = new SmallClaims();
  const logger = captureLogger();
  const scheduler = new Scheduler({ clock, store, logger, batchSize: 64, fireAhead: 0, random: () => 0 });
  let ran = 0;
  // A burst: `n` jobs due now, added while the scheduler is paused (each add would wake it otherwise), then
  // resumed.
  const due = async (prefix: string, n: number) => {
    const running = scheduler.state === 'running';
    if (running) await scheduler.pause();
    for (let i = 0; i < n; i++)
      await scheduler.addJob(() => void ran++, 'interval', {
        id: `${prefix}${i}`,
        hours: 1,
        nextRunTime: new Date(clock.now()),
      });
    if (running) await scheduler.resume();
  };
  await due('a', 200);
  await scheduler.start();
  await clock.advance(0);
  // The wake-up's claims: 4, 8 and 16 jobs, then 32 fails.
  assert.deepEqual(store.claims.slice(0, 4), [4, 8, 16, 32]);
  assert.deepEqual(
    logger.messages('warn').filter((m) => m.startsWith('A claim of')),
    [
      'A claim of 32 jobs failed after smaller ones succeeded; claims are at most 16 jobs for 60 s, then twice as many again each 60 s without a failure',
    ],
  );
  // The next wake-ups (the runs that ended wake the loop; else the store failure's backoff) claim at most 16
  // and fire the other 172 jobs.
  await clock.advance(1000);
  const after = store.claims.slice(4);
  assert.ok(after.length >= 11, `claims: ${after.join(', ')}`);
  assert.ok(Math.max(...after) <= 16, `claims: ${after.join(', ')}`);
  assert.equal(store.claims.filter((c) => c > 16).length, 1, 'one claim failed');
  assert.equal(ran, 200);
  assert.equal(scheduler.storeError, null);

  // Within the minute, a new burst is claimed 16 at a time: no failure.
  store.claims.length = 0;
  await clock.advance(30_000);
  await due('b', 50);
  await clock.advance(0);
  assert.deepEqual(
    store.claims.filter((c) => c > 16),
    [],
  );
  assert.equal(ran, 250);

  // A minute after the failure the claims may reach 32 again; the store takes 64 by then.
  store.maxClaim = 64;
  await clock.advance(30_000);
  store.claims.length = 0;
  await due('c', 100);
  await clock.advance(0);
  assert.deepEqual(store.claims.slice(0, 5), [4, 8, 16, 32, 32]);
  assert.equal(Math.max(...store.claims), 32);
  assert.equal(ran, 350);
  // Another minute without a failure: back to batchSize (64).
  await clock.advance(60_000);
  store.claims.length = 0;
  await due('d', 100);
  await clock.advance(0);
  assert.deepEqual(store.claims.slice(0, 5), [4, 8, 16, 32, 64]);
  assert.equal(ran, 450);
  // (All within the hour: no job fired a second time.)
  assert.ok(clock.now() < T + HOUR);
  await scheduler.shutdown();
});

test('a failure of the first claim of a wake-up (the store is down) leaves the claim sizes alone', async () => {
  const clock = new ManualClock(T);
  const store = new SmallClaims();
  store.maxClaim = 0; // every claim fails, as with the store down
  const logger = captureLogger();
  const scheduler = new Scheduler({ clock, store, logger, batchSize: 64, fireAhead: 0, random: () => 0 });
  let ran = 0;
  for (let i = 0; i < 100; i++)
    await scheduler.addJob(() => void ran++, 'interval', { id: `a${i}`, hours: 1, nextRunTime: new Date(T) });
  await scheduler.start();
  await clock.advance(0);
  assert.deepEqual(store.claims, [4]);
  // Back up: the next wake-up claims up to batchSize.
  store.maxClaim = 64;
  store.claims.length = 0;
  await clock.advance(1000);
  assert.deepEqual(store.claims.slice(0, 5), [4, 8, 16, 32, 64]);
  assert.equal(ran, 100);
  assert.deepEqual(
    logger.messages('warn').filter((m) => m.startsWith('A claim of')),
    [],
  );
  await scheduler.shutdown();
});

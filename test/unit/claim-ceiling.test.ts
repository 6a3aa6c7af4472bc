// A claim too large for the store (one that runs past a statement timeout, say) after smaller claims of the
// same wake-up succeeded: the scheduler claims at most half that size for a while, instead of failing at the
// same size at every wake-up, and goes back to larger claims after 30 s without such a failure.
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

test('a claim that fails after smaller ones succeeded halves the claims for 30 s; then they double again', async () => {
  const clock = new ManualClock(T);
  const store = new SmallClaims();
  store.maxClaim = 256;
  const logger = captureLogger();
  const scheduler = new Scheduler({ clock, store, logger, batchSize: 1024, fireAhead: 0, random: () => 0 });
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
  await due('a', 1200);
  await scheduler.start();
  await clock.advance(0);
  // The wake-up's claims: 4, 8, ... 256 jobs, then 512 fails.
  assert.deepEqual(store.claims.slice(0, 8), [4, 8, 16, 32, 64, 128, 256, 512]);
  assert.deepEqual(
    logger.messages('warn').filter((m) => m.startsWith('A claim of')),
    [
      'A claim of 512 jobs failed after smaller ones succeeded; claims are at most 256 jobs for 30 s, then twice as many again each 30 s without a failure',
    ],
  );
  // The next wake-ups (the runs that ended wake the loop; else the store failure's backoff) claim at most 256
  // and fire the other jobs.
  await clock.advance(1000);
  const after = store.claims.slice(8);
  assert.ok(Math.max(...after) <= 256, `claims: ${after.join(', ')}`);
  assert.equal(store.claims.filter((c) => c > 256).length, 1, 'one claim failed');
  assert.equal(ran, 1200);
  assert.equal(scheduler.storeError, null);

  // Within the 30 s, a new burst is claimed 256 at a time: no failure.
  store.claims.length = 0;
  await clock.advance(10_000);
  await due('b', 600);
  await clock.advance(0);
  assert.equal(Math.max(...store.claims), 256);
  assert.equal(ran, 1800);

  // 30 s after the failure the claims may reach 512; the store takes 1024 by then.
  store.maxClaim = 1024;
  await clock.advance(20_000);
  store.claims.length = 0;
  await due('c', 1200);
  await clock.advance(0);
  assert.deepEqual(store.claims.slice(0, 9), [4, 8, 16, 32, 64, 128, 256, 512, 512]);
  assert.equal(Math.max(...store.claims), 512);
  assert.equal(ran, 3000);
  // Another 30 s without a failure: back to batchSize (1024).
  await clock.advance(30_000);
  store.claims.length = 0;
  await due('d', 1200);
  await clock.advance(0);
  assert.deepEqual(store.claims.slice(0, 9), [4, 8, 16, 32, 64, 128, 256, 512, 1024]);
  assert.equal(ran, 4200);
  // (All within the hour: no job fired a second time.)
  assert.ok(clock.now() < T + HOUR);
  await scheduler.shutdown();
});

test('a failed claim of fewer than 128 jobs (a connection lost on its way, say) leaves the claim sizes alone', async () => {
  const clock = new ManualClock(T);
  const store = new SmallClaims();
  store.maxClaim = 32; // the claim of 64 fails, once
  const logger = captureLogger();
  const scheduler = new Scheduler({ clock, store, logger, batchSize: 256, fireAhead: 0, random: () => 0 });
  let ran = 0;
  for (let i = 0; i < 600; i++)
    await scheduler.addJob(() => void ran++, 'interval', { id: `a${i}`, hours: 1, nextRunTime: new Date(T) });
  const fireDueJobs = store.fireDueJobs.bind(store);
  store.fireDueJobs = (...args) => {
    const result = fireDueJobs(...args);
    if (args[1] === 64) store.maxClaim = 256;
    return result;
  };
  await scheduler.start();
  await clock.advance(1000);
  assert.deepEqual(store.claims.slice(0, 5), [4, 8, 16, 32, 64]);
  assert.equal(store.claims.filter((c) => c > 32).length > 1, true);
  // The next wake-ups claim up to batchSize.
  assert.equal(Math.max(...store.claims.slice(5)), 256, `claims: ${store.claims.join(', ')}`);
  assert.equal(ran, 600);
  assert.deepEqual(
    logger.messages('warn').filter((m) => m.startsWith('A claim of')),
    [],
  );
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

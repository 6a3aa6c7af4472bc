// Waiting for another connection's write lock: SqliteStore waits on timers between short slices of SQLite's
// busy handler, so the event loop (an HTTP server in the same process) keeps running while a call waits. The
// lock is held by a second better-sqlite3 connection in a worker thread (a wait on the same thread would block
// the holder too) and released by that thread's own timer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { SqliteStore } from '../../src/stores/sqlite/index.js';
import { job } from './store-contract.js';
import { startContext, tempDbFile } from './harness.js';

const DRIVER = createRequire(import.meta.url).resolve('better-sqlite3');

/** The worker: one connection that takes the write lock, says so, and rolls back after `holdMs`. */
const HOLDER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.exec('BEGIN IMMEDIATE');
parentPort.postMessage({ locked: true });
setTimeout(() => {
  const at = Date.now();
  db.exec('ROLLBACK');
  db.close();
  parentPort.postMessage({ releasedAt: at });
}, workerData.holdMs);
`;

interface Holder {
  /** Resolves to the time (`Date.now()`) just before the lock was given back. */
  released: Promise<number>;
  /** Whether the lock has been given back (as far as this thread has heard). */
  isReleased: () => boolean;
  stop: () => Promise<void>;
}

/** Takes the write lock of `file` in a worker thread for `holdMs`; resolves once it is held. */
async function holdWriteLock(file: string, holdMs: number): Promise<Holder> {
  const worker = new Worker(HOLDER, { eval: true, workerData: { driver: DRIVER, file, holdMs } });
  let releasedAt: number | null = null;
  const released = new Promise<number>((resolve, reject) => {
    worker.on('message', (m: { releasedAt?: number }) => {
      if (m.releasedAt !== undefined) resolve((releasedAt = m.releasedAt));
    });
    worker.once('error', reject);
  });
  released.catch(() => {});
  await new Promise<void>((resolve, reject) => {
    worker.on('message', (m: { locked?: boolean }) => {
      if (m.locked) resolve();
    });
    worker.once('error', reject);
  });
  return {
    released,
    isReleased: () => releasedAt !== null,
    stop: async () => {
      await worker.terminate();
    },
  };
}

/** Ticks every 10 ms and records the longest gap between ticks (how long the event loop was blocked). */
function watchEventLoop(): { stop: () => number } {
  let last = performance.now();
  let maxGap = 0;
  const timer = setInterval(() => {
    const t = performance.now();
    maxGap = Math.max(maxGap, t - last);
    last = t;
  }, 10);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(maxGap, performance.now() - last);
    },
  };
}

/** A started store on a fresh file, with a first job so that the schema is there. */
async function freshStore(busyTimeout?: number): Promise<{ store: SqliteStore; file: string; dir: string }> {
  const { dir, file } = tempDbFile();
  const store = new SqliteStore({ path: file, changePollInterval: 0, busyTimeout });
  await store.start(startContext);
  await store.addJob(job('first'), 'error');
  return { store, file, dir };
}

test("SqliteStore: a write waiting for another connection's lock leaves the event loop running", async () => {
  const { store, file, dir } = await freshStore();
  const holder = await holdWriteLock(file, 600);
  try {
    const loop = watchEventLoop();
    let resolvedAt = 0;
    const adding = store.addJob(job('a'), 'error').then((r) => {
      resolvedAt = Date.now();
      return r;
    });
    // Reads are not blocked by the writer (WAL): one answers while the write waits.
    assert.equal((await store.getJob('first'))?.id, 'first');
    assert.equal(holder.isReleased(), false, 'the read answered while the lock was held');
    const result = await adding;
    const maxGap = loop.stop();
    assert.equal(result.outcome, 'added');
    assert.ok(resolvedAt >= (await holder.released), 'the write went through after the lock was given back');
    assert.equal((await store.getJob('a'))?.version, 1);
    assert.ok(maxGap < 200, `the event loop was blocked for ${maxGap.toFixed(0)} ms`);
  } finally {
    await holder.stop();
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SqliteStore: writes that wait for the lock are applied in call order', async () => {
  const { store, file, dir } = await freshStore();
  const holder = await holdWriteLock(file, 300);
  try {
    const loop = watchEventLoop();
    const [paused, renamed, resumed, removed, added] = await Promise.all([
      store.updateJob('first', { paused: true }),
      store.updateJob('first', { name: 'renamed' }),
      store.updateJob('first', { paused: false }),
      store.removeJob('first'),
      store.addJob(job('first', { name: 'again' }), 'error'),
    ]);
    const maxGap = loop.stop();
    assert.deepEqual(
      [paused, renamed, resumed].map((j) => [j.version, j.paused, j.name]),
      [
        [2, true, 'name of first'],
        [3, true, 'renamed'],
        [4, false, 'renamed'],
      ],
    );
    assert.equal(removed?.version, 4);
    assert.equal(added.outcome, 'added');
    assert.equal((await store.getJob('first'))?.name, 'again');
    assert.ok(maxGap < 200, `the event loop was blocked for ${maxGap.toFixed(0)} ms`);
  } finally {
    await holder.stop();
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SqliteStore: a lock held longer than busyTimeout fails the call with STORE_ERROR, without blocking', async () => {
  const { store, file, dir } = await freshStore(300);
  const holder = await holdWriteLock(file, 1500);
  try {
    const loop = watchEventLoop();
    const started = performance.now();
    await assert.rejects(
      store.addJob(job('late'), 'error'),
      (e: Error & { code?: string; cause?: unknown }) => {
        assert.equal(e.code, 'STORE_ERROR');
        assert.match(e.message, /database is locked/);
        assert.match(String((e.cause as { code?: string }).code), /^SQLITE_BUSY/);
        return true;
      },
    );
    const elapsed = performance.now() - started;
    const maxGap = loop.stop();
    assert.ok(elapsed >= 300, `failed after ${elapsed.toFixed(0)} ms, before busyTimeout`);
    assert.equal(holder.isReleased(), false);
    assert.ok(maxGap < 200, `the event loop was blocked for ${maxGap.toFixed(0)} ms`);
    // Nothing of the failed call is left behind, and the store works once the lock is free.
    await holder.released;
    assert.equal(await store.getJob('late'), null);
    assert.equal((await store.addJob(job('late'), 'error')).outcome, 'added');
  } finally {
    await holder.stop();
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SqliteStore: start() waits for the lock without blocking the event loop', async () => {
  const { store, file, dir } = await freshStore();
  await store.stop();
  const holder = await holdWriteLock(file, 400);
  const second = new SqliteStore({ path: file, changePollInterval: 0 });
  try {
    const loop = watchEventLoop();
    await second.start(startContext);
    const startedAt = Date.now();
    const maxGap = loop.stop();
    assert.ok(startedAt >= (await holder.released), 'the migration transaction waited for the lock');
    assert.equal((await second.getJob('first'))?.id, 'first');
    assert.ok(maxGap < 200, `the event loop was blocked for ${maxGap.toFixed(0)} ms`);
  } finally {
    await holder.stop();
    await second.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

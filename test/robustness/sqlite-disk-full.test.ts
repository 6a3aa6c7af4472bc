// A real full disk under a SQLite store: a small tmpfs is mounted (root only), the scheduler runs on it, the
// disk is filled until ENOSPC, and then some room is freed. SQLite's WAL grows until its automatic
// checkpoint (1000 pages, about 4 MB) and does not shrink: room freed on a full disk went to the WAL, which
// filled the disk again before it ever reached its checkpoint, and the scheduler stayed stopped.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Scheduler, silentLogger } from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Why a test here is skipped when not root. */
const NEEDS_ROOT = isRoot
  ? false
  : 'needs root to mount a tmpfs (the full-disk case without root: sqlite-full.test.ts)';

/**
 * Runs `fn` with a new directory on which a tmpfs of `size` is mounted, then unmounts and removes it. Skips
 * `t` when the tmpfs cannot be mounted (root in a container without the capability).
 */
async function withTmpfs(t: TestContext, size: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tickwork-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    t.skip(`cannot mount a tmpfs here: ${(err as Error).message.split('\n')[0]}`);
    return;
  }
  try {
    await fn(dir);
  } finally {
    execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes zeros to `file` until the file system is full; returns its size. */
function fillDisk(file: string): number {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  let size = 0;
  try {
    for (;;) {
      try {
        size += writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw err;
      }
    }
    // The rest, 4 KB at a time, until nothing fits.
    const small = Buffer.alloc(4096);
    for (;;) {
      try {
        size += writeSync(fd, small);
      } catch {
        break;
      }
    }
  } finally {
    closeSync(fd);
  }
  return size;
}

test(
  'a full disk (tmpfs): the store gives the WAL its room back once a write succeeds again, and keeps firing',
  { skip: NEEDS_ROOT, timeout: 120_000 },
  (t) =>
    withTmpfs(t, '8m', async (dir) => {
      const path = join(dir, 'jobs.db');
      const clock = new ManualClock('2024-01-01T00:00:00Z');
      const scheduler = new Scheduler({ clock, store: new SqliteStore({ path }), logger: silentLogger });
      try {
        let ran = 0;
        scheduler.defineTask('work', () => void ran++);
        await scheduler.start();
        for (let i = 0; i < 5; i++) await scheduler.addJob('work', 'interval', { id: `j${i}`, seconds: 1 });
        const wal = () => statSync(`${path}-wal`).size;
        // Run until the WAL holds about 1.5 MB (below its checkpoint at 1000 pages).
        for (let i = 0; i < 3000 && wal() < 1_500_000; i++) await clock.advance(1000);
        assert.ok(wal() >= 1_500_000 && wal() < 3_000_000, `WAL of ${wal()} bytes`);

        const fill = join(dir, 'fill');
        const filled = fillDisk(fill);
        for (let i = 0; i < 600 && scheduler.storeError === null; i++) await clock.advance(1000);
        assert.ok(scheduler.storeError, 'the full disk stopped the loop');
        const walWhenFull = wal();

        // Free 1 MB: less than the WAL would take to reach its automatic checkpoint.
        const fd = openSync(fill, 'r+');
        ftruncateSync(fd, filled - 1024 * 1024);
        closeSync(fd);
        // The loop backs off at most 5 s; then it writes again.
        for (let i = 0; i < 6; i++) await clock.advance(1000);
        assert.equal(scheduler.storeError, null, 'the loop writes again');
        assert.ok(
          wal() < walWhenFull,
          `the WAL gave its room back (${wal()} bytes, ${walWhenFull} when full)`,
        );

        // A minute more: every job fires every second, the disk never fills up again.
        const before = ran;
        for (let i = 0; i < 60; i++) {
          await clock.advance(1000);
          assert.equal(scheduler.storeError, null, `the disk filled up again after ${i + 1} s`);
        }
        assert.ok(ran - before >= 5 * 59, `${ran - before} runs in 60 s`);
        await scheduler.shutdown();
        const db = new Database(path, { readonly: true });
        assert.deepEqual(db.pragma('integrity_check'), [{ integrity_check: 'ok' }]);
        assert.equal((db.prepare('SELECT count(*) AS n FROM jobs').get() as { n: number }).n, 5);
        db.close();
      } finally {
        if (scheduler.state !== 'stopped') await scheduler.shutdown({ wait: false }).catch(() => {});
      }
    }),
);

test(
  'a disk already full at start: the error says so (SQLite says only "disk I/O error"); with room, the store starts',
  { skip: NEEDS_ROOT, timeout: 60_000 },
  (t) =>
    withTmpfs(t, '2m', async (dir) => {
      const existing = join(dir, 'jobs.db');
      const created = new SqliteStore({ path: existing });
      await created.start({ nodeId: 'a', now: Date.now });
      await created.stop();
      const fill = join(dir, 'fill');
      const filled = fillDisk(fill);
      // An existing database (its shared-memory file cannot grow) and a new one.
      for (const path of [existing, join(dir, 'new', 'jobs.db')]) {
        const store = new SqliteStore({ path });
        await assert.rejects(
          store.start({ nodeId: 'a', now: Date.now }),
          (err: Error & { code?: string }) => {
            assert.equal(err.code, 'STORE_ERROR');
            assert.match(
              err.message,
              new RegExp(
                `^SQLite store failed: .* \\(SQLITE_[A-Z_]+\\): the file system holding ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is full \\(\\d+ bytes free\\); free some space$`,
              ),
            );
            return true;
          },
          path,
        );
      }
      // With room again, the existing database opens, its file intact.
      const fd = openSync(fill, 'r+');
      ftruncateSync(fd, filled - 1024 * 1024);
      closeSync(fd);
      const store = new SqliteStore({ path: existing });
      await store.start({ nodeId: 'a', now: Date.now });
      assert.equal(await store.countJobs(), 0);
      await store.stop();
    }),
);

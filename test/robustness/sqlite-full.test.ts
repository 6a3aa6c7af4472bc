// A full SQLite database, without root: `PRAGMA max_page_count` caps the file at its current size, so every
// write that needs a new page fails with SQLITE_FULL while reads go on, as on a full disk. The scheduler
// stays up, reports the failure, loses no job, and fires again with the misfire rules once the cap is lifted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import type Database from 'better-sqlite3';
import { Scheduler, isTickworkError, silentLogger } from '../../src/index.js';
import { createApi } from '../../src/http/index.js';
import { ManualClock } from '../../src/testing.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';
import { captureLogger } from '../helpers/logger.js';

const TOKEN = 'full-disk-token-0123456789';

/** The store's own connection: `max_page_count` is a setting of one connection, not of the file. */
function connection(store: SqliteStore): Database.Database {
  return (store as unknown as { db: Database.Database }).db;
}

/** Caps the file at the pages it has now: a write that needs one more page fails with SQLITE_FULL. */
function capAtCurrentSize(store: SqliteStore): void {
  const db = connection(store);
  db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
}

function uncap(store: SqliteStore): void {
  connection(store).pragma('max_page_count = 1073741823');
}

async function onCappedSqlite(
  body: (ctx: {
    clock: ManualClock;
    scheduler: Scheduler;
    store: SqliteStore;
    path: string;
  }) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tickwork-full-'));
  const path = join(dir, 'jobs.db');
  const clock = new ManualClock('2024-01-01T00:00:00Z');
  const store = new SqliteStore({ path });
  const scheduler = new Scheduler({ clock, store, logger: silentLogger });
  try {
    await body({ clock, scheduler, store, path });
  } finally {
    if (scheduler.state !== 'stopped') {
      const done = scheduler.shutdown({ wait: false });
      await clock.advance(0);
      await done;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Advances the clock a second at a time until the scheduler's loop fails (at most `limit` seconds). */
async function untilLoopFails(clock: ManualClock, scheduler: Scheduler, limit = 600): Promise<void> {
  for (let i = 0; i < limit && scheduler.storeError === null; i++) await clock.advance(1000);
  assert.ok(scheduler.storeError, 'the capped database refused a write of the loop');
}

test('a full SQLite database: GET /status counts the stored jobs (it reads) and answers 503 with the failure', async () => {
  await onCappedSqlite(async ({ clock, scheduler, store }) => {
    scheduler.defineTask('work', () => {});
    const api = createApi(scheduler, { auth: { tokens: [{ token: TOKEN, role: 'admin' }] } });
    await scheduler.start();
    for (const id of ['a', 'b', 'c']) await scheduler.addJob('work', 'interval', { id, seconds: 1 });
    await scheduler.addJob('work', 'interval', { id: 'p', seconds: 1, paused: true });
    capAtCurrentSize(store);
    await untilLoopFails(clock, scheduler);
    assert.match(scheduler.storeError!.message, /database or disk is full/);

    const res = await api.handle(
      new Request('http://localhost/scheduler/status', { headers: { authorization: `Bearer ${TOKEN}` } }),
    );
    const body = (await res.json()) as { jobs: number; store: { health: { ok: boolean; error: string } } };
    assert.equal(res.status, 503);
    assert.equal(body.store.health.ok, false);
    assert.match(body.store.health.error, /database or disk is full \(failing since /);
    // Four jobs are stored and readable: a count of 0 would say they were lost.
    assert.equal(body.jobs, 4);
    api.close();
  });
});

test('a full SQLite database: writes fail with STORE_ERROR (SQLITE_FULL as cause), no job is lost, and firing resumes coalesced once there is room', async () => {
  await onCappedSqlite(async ({ clock, scheduler, store, path }) => {
    const ran: string[] = [];
    scheduler.defineTask('work', (id: string) => void ran.push(`${id}@${clock.now()}`));
    await scheduler.start();
    const t0 = clock.now();
    // maxInstances 2: a run created before the failure and started late does not take the only slot.
    await scheduler.addJob('work', 'interval', { id: 'a', args: ['a'], seconds: 1, maxInstances: 2 });
    capAtCurrentSize(store);
    await untilLoopFails(clock, scheduler);
    // Fill the last free room of the pages with jobs until an add is refused.
    let refused: unknown = null;
    for (let i = 0; i < 10_000 && refused === null; i++) {
      await scheduler
        .addJob('work', 'interval', { id: `filler-${i}`, args: [`filler-${i}`], seconds: 3600, paused: true })
        .catch((err: unknown) => (refused = err));
    }
    assert.ok(isTickworkError(refused, 'STORE_ERROR'), String(refused));
    assert.equal((refused as Error & { cause?: { code?: string } }).cause?.code, 'SQLITE_FULL');
    const stored = await scheduler.countJobs();
    assert.ok(stored > 1);

    // Ten more seconds while full: nothing can be fired.
    const ranBefore = ran.length;
    const failedAt = clock.now();
    for (let i = 0; i < 10; i++) await clock.advance(1000);
    assert.equal(ran.length, ranBefore, 'nothing was fired while the database was full');
    assert.ok(scheduler.storeError, 'still failing');

    uncap(store);
    // The loop backs off at most 5 s (maxWakeInterval): within 6 s it fires again, and the fire times owed
    // since the failure are coalesced into one run, for the latest of them, then it fires every second.
    for (let i = 0; i < 6; i++) await clock.advance(1000);
    assert.equal(scheduler.storeError, null, 'the loop recovered');
    assert.equal(await scheduler.countJobs(), stored, 'every stored job is still there');
    const job = await scheduler.getJob('a');
    assert.ok(job && !job.paused);
    const runs = await scheduler.getRuns({ jobId: 'a', from: new Date(failedAt + 1), limit: 1000 });
    const firstPass = Math.min(...runs.map((r) => r.createdAt.getTime()));
    assert.ok(firstPass - failedAt >= 10_000, 'at least ten fire times were owed');
    const owed = runs.filter((r) => r.scheduledFireTime.getTime() <= firstPass);
    assert.equal(owed.length, 1, 'the backlog was coalesced into one run');
    // Fire times fall on t0 + whole seconds: the latest one at or before the first pass.
    assert.equal(owed[0]!.scheduledFireTime.getTime(), firstPass - ((firstPass - t0) % 1000));
    assert.equal(owed[0]!.status, 'succeeded');
    assert.ok(runs.every((r) => r.status === 'succeeded'));
    await scheduler.shutdown();
    // The file is sound.
    const db = new Sqlite(path, { readonly: true });
    assert.deepEqual(db.pragma('integrity_check'), [{ integrity_check: 'ok' }]);
    db.close();
  });
});

test('a retention pass that fails after the outcomes were committed reports them recorded, and prunes their jobs at the next pass', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tickwork-full-'));
  const path = join(dir, 'jobs.db');
  const clock = new ManualClock('2024-01-01T00:00:00Z');
  const logger = captureLogger();
  // Retention after every finished run, one finished run kept per job.
  const store = new SqliteStore({ path, pruneEvery: 1, maxRunsPerJob: 1 });
  const scheduler = new Scheduler({ clock, store, logger });
  const other = new Sqlite(path);
  try {
    scheduler.defineTask('work', () => {});
    await scheduler.start();
    await scheduler.addJob('work', 'interval', { id: 'a', seconds: 1 });
    await scheduler.addJob('work', 'interval', { id: 'b', seconds: 1 });
    // Deleting runs fails, as a write does on a full disk: only the retention pass deletes runs.
    other.exec(
      `CREATE TRIGGER no_delete BEFORE DELETE ON runs BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END`,
    );
    for (let i = 0; i < 3; i++) await clock.advance(1000);
    await scheduler.pauseJob('b');
    other.exec('DROP TRIGGER no_delete');
    for (let i = 0; i < 2; i++) await clock.advance(1000);

    assert.deepEqual(
      logger.messages('error').filter((m) => m.startsWith('Could not record the outcome')),
      [],
      'the outcomes were committed before retention failed',
    );
    const finished = (jobId: string) =>
      (
        other
          .prepare(`SELECT count(*) AS n FROM runs WHERE job_id = ? AND status = 'succeeded'`)
          .get(jobId) as {
          n: number;
        }
      ).n;
    // b finished three runs while retention failed; a's later runs call retention again, which prunes b too.
    assert.equal(finished('b'), 1);
    assert.equal(finished('a'), 1);
    await scheduler.shutdown();
  } finally {
    other.close();
    if (scheduler.state !== 'stopped') await scheduler.shutdown({ wait: false }).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
});

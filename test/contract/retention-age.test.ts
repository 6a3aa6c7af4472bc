// Retention by age (`maxRunAge`, SQLite, PostgreSQL, Redis and memory): finished runs older than the limit are deleted,
// active and younger runs kept; and the pruning reads only the old runs, never the whole runs table at every
// call (it runs every `pruneEvery` finished runs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { PostgresStore, quoteIdent } from '../../src/stores/postgres/index.js';
import { RedisStore } from '../../src/stores/redis/index.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';
import type { FirePlanner, PlannedRun, Store } from '../../src/stores/store.js';
import { job } from './store-contract.js';
import {
  PG_URL,
  REDIS_URL,
  deletePrefix,
  dropSchema,
  seqTuplesRead,
  tempDbFile,
  testPrefix,
  testSchema,
} from './harness.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

/** A planner that stores `runs(t)` for a job due at `t` and moves it an hour on. */
function planner(runs: (t: number) => PlannedRun[]): FirePlanner {
  return (j) => {
    const t = j.nextRunTime!.getTime();
    return { runs: runs(t), nextRunTime: new Date(t + HOUR), remove: false };
  };
}

const run = (t: number, status: PlannedRun['status']): PlannedRun => ({
  scheduledFireTime: new Date(t),
  status,
  notBefore: new Date(t),
});

/**
 * Job `old` fired 3 hours ago: a missed and a skipped run (finished; then dated 2 hours ago) and a pending
 * run. Job `young` fired 10 minutes ago: a missed run. With `maxRunAge` of an hour, prune deletes the two
 * old finished runs only.
 */
async function checkAgeRetention(
  store: Store,
  now: number,
  ageFinished: (jobId: string, finishedAt: number) => Promise<void>,
  prune: () => Promise<number>,
): Promise<void> {
  const old = now - 3 * HOUR;
  const young = now - 10 * MIN;
  await store.addJob(job('old', { nextRunTime: new Date(old) }), 'error');
  await store.addJob(job('young', { nextRunTime: new Date(young) }), 'error');
  await store.fireDueJobs(
    new Date(now),
    10,
    planner((t) =>
      t === old ? [run(t, 'missed'), run(t + 1000, 'skipped'), run(t + 2000, 'pending')] : [run(t, 'missed')],
    ),
  );
  await ageFinished('old', now - 2 * HOUR);
  await ageFinished('young', now - 10 * MIN);
  assert.equal(await prune(), 2, 'the two finished runs older than an hour');
  const left = await store.getRuns({ limit: 100 });
  assert.deepEqual(
    left.map((r) => [r.jobId, r.scheduledFireTime.getTime(), r.status]).sort(),
    [
      ['old', old + 2000, 'pending'],
      ['young', young, 'missed'],
    ].sort(),
  );
}

test('SQLite maxRunAge: finished runs older than the limit are deleted; active and younger runs kept', async () => {
  const { dir, file } = tempDbFile();
  const now = Math.floor(Date.now() / 1000) * 1000;
  const store = new SqliteStore({ path: file, maxRunAge: HOUR, pruneEvery: 100_000 });
  try {
    await store.start({ nodeId: 'test-node', now: () => now });
    await checkAgeRetention(
      store,
      now,
      async (jobId, finishedAt) => {
        const db = new Database(file);
        db.prepare(`UPDATE runs SET finished_at = ? WHERE job_id = ? AND finished_at IS NOT NULL`).run(
          finishedAt,
          jobId,
        );
        db.close();
      },
      () => store.prune(),
    );
  } finally {
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** PostgreSQL: a store with `maxRunAge` of an hour in a new schema, on a pool of one connection. */
/**
 * Inserts `n` succeeded runs of 100 jobs, the i-th scheduled `i * stepMs` ms before now and finished 10 ms
 * after that.
 */
async function insertFinishedRuns(pool: pg.Pool, s: string, n: number, stepMs: number): Promise<void> {
  await pool.query(
    `INSERT INTO ${s}.runs (id, job_id, task_id, scheduled_fire_time, not_before, status, manual, attempt,
       finished_at, created_at)
     SELECT gen_random_uuid(), 'job-' || (i % 100), 'task', now() - i * $2 * interval '1 ms',
       now() - i * $2 * interval '1 ms', 'succeeded', false, 1,
       now() - i * $2 * interval '1 ms' + interval '10 ms', now()
     FROM generate_series(1, $1::int) AS i`,
    [n, stepMs],
  );
}

async function withPostgres(fn: (store: PostgresStore, pool: pg.Pool, schema: string) => Promise<void>) {
  const schema = testSchema();
  const pool = new pg.Pool({ connectionString: PG_URL, max: 1 });
  const store = new PostgresStore({ pool }, { schema, listen: false, maxRunAge: HOUR, pruneEvery: 100_000 });
  try {
    await store.start({ nodeId: 'test-node', now: () => Date.now() });
    await fn(store, pool, schema);
  } finally {
    await store.stop();
    await pool.end();
    await dropSchema(schema);
  }
}

test('PostgreSQL maxRunAge: finished runs older than the limit are deleted; active and younger runs kept', async () => {
  await withPostgres(async (store, pool, schema) => {
    const s = quoteIdent(schema);
    // The store fires by the database's clock: due times relative to it.
    const r = await pool.query<{ t: number }>(`SELECT floor(date_part('epoch', now()) * 1000) AS t`);
    const now = Math.floor(Number(r.rows[0]!.t) / 1000) * 1000;
    await checkAgeRetention(
      store,
      now,
      async (jobId, finishedAt) => {
        await pool.query(
          `UPDATE ${s}.runs SET finished_at = to_timestamp($1 / 1000.0) WHERE job_id = $2 AND finished_at IS NOT NULL`,
          [finishedAt, jobId],
        );
      },
      () => store.prune(),
    );
  });
});

test('PostgreSQL maxRunAge: pruning a table of 20,000 young finished runs reads none of them by sequential scan', async () => {
  await withPostgres(async (store, pool, schema) => {
    const s = quoteIdent(schema);
    await insertFinishedRuns(pool, s, 20_000, 100);
    await pool.query(`ANALYZE ${s}.runs`);
    const before = await seqTuplesRead(pool, schema);
    // Seven calls: PostgreSQL switches a prepared statement to its generic plan after five.
    for (let i = 0; i < 7; i++) assert.equal(await store.prune(), 0, 'every run is younger than an hour');
    const read = (await seqTuplesRead(pool, schema)) - before;
    // A scan of the table per call would read 7 x 20,000 = 140,000 rows.
    assert.ok(read < 20_000, `pruning read ${read} runs by sequential scan`);
    assert.equal((await store.getRuns({ limit: 1 })).length, 1);
  });
});

test('PostgreSQL maxRunAge: pruning a table of 300,000 finished runs, nearly all of them old, reads only those it deletes, not the table', async () => {
  await withPostgres(async (store, pool, schema) => {
    const s = quoteIdent(schema);
    // 300,000 runs a second apart, ending now: all but the last hour's 3,600 are past the limit.
    await insertFinishedRuns(pool, s, 300_000, 1000);
    await pool.query(`VACUUM ANALYZE ${s}.runs`);
    const before = await seqTuplesRead(pool, schema);
    // Seven calls (PostgreSQL switches a prepared statement to its generic plan after five): 10,000 each.
    for (let i = 0; i < 7; i++) assert.equal(await store.prune(), 10_000);
    const read = (await seqTuplesRead(pool, schema)) - before;
    // A scan of the table per call (a hash join of the oldest 10,000 ids with every run) reads about
    // 7 x 300,000 = 2,100,000 rows.
    assert.ok(read < 100_000, `pruning read ${read} runs by sequential scan`);
  });
});

test('Redis maxRunAge: finished runs older than the limit are deleted; active and younger runs kept', async () => {
  const prefix = testPrefix();
  const admin = new Redis(REDIS_URL);
  const store = new RedisStore(
    { url: REDIS_URL },
    { prefix, listen: false, maxRunAge: HOUR, pruneEvery: 100_000 },
  );
  try {
    await store.start({ nodeId: 'test-node', now: () => Date.now() });
    // The store fires by the server's clock: due times relative to it.
    const [sec] = await admin.time();
    const now = Number(sec) * 1000;
    await checkAgeRetention(
      store,
      now,
      async (jobId, finishedAt) => {
        for (const id of await admin.zrange(`${prefix}job-runs:${jobId}`, '0', '-1'))
          if (await admin.hexists(`${prefix}run:${id}`, 'finished_at'))
            await admin.hset(`${prefix}run:${id}`, 'finished_at', String(finishedAt));
      },
      () => store.prune(),
    );
    // The deleted runs are gone from every index, not only their hashes.
    assert.equal(await admin.zcard(`${prefix}runs`), 2);
    assert.equal(await admin.zcard(`${prefix}job-runs:old`), 1);
  } finally {
    await store.stop();
    await admin.quit();
    await deletePrefix(prefix);
  }
});

test('Redis maxRunAge: old runs that are kept (pending, of a task no process runs) do not stop the pruning of older finished ones', async () => {
  const prefix = testPrefix();
  const admin = new Redis(REDIS_URL);
  const store = new RedisStore(
    { url: REDIS_URL },
    { prefix, listen: false, maxRunAge: HOUR, pruneEvery: 100_000 },
  );
  try {
    await store.start({ nodeId: 'test-node', now: () => Date.now() });
    const [sec] = await admin.time();
    const now = Number(sec) * 1000;
    // 10,001 pending runs two hours old, written as the store writes them, then 5 finished runs three hours
    // old: the finished ones come after the first 10,000 entries of the time index (the old page size).
    const old = now - 2 * HOUR;
    const pipeline = admin.pipeline();
    for (let i = 0; i < 10_001; i++) {
      const id = `p${String(i).padStart(5, '0')}`;
      pipeline.hset(`${prefix}run:${id}`, {
        id,
        job_id: 'idle',
        task_id: 'nobody',
        scheduled_fire_time: String(old),
        not_before: String(old),
        status: 'pending',
        manual: '0',
        attempt: '0',
        created_at: String(old),
      });
      pipeline.zadd(`${prefix}runs`, old - 10_001 + i, id);
    }
    for (let i = 0; i < 5; i++) {
      const id = `m${i}`;
      const t = now - 3 * HOUR + i;
      pipeline.hset(`${prefix}run:${id}`, {
        id,
        job_id: 'done',
        task_id: 't',
        scheduled_fire_time: String(t),
        not_before: String(t),
        status: 'missed',
        manual: '0',
        attempt: '0',
        finished_at: String(t),
        created_at: String(t),
      });
      pipeline.zadd(`${prefix}runs`, old + 1 + i, id);
      pipeline.zadd(`${prefix}job-runs:done`, t, id);
    }
    await pipeline.exec();
    assert.equal(await store.prune(), 5);
    assert.equal(await admin.exists(`${prefix}run:m0`), 0);
    assert.equal(await admin.zcard(`${prefix}runs`), 10_001, 'the pending runs kept');
  } finally {
    await store.stop();
    await admin.quit();
    await deletePrefix(prefix);
  }
});

test("memory maxRunAge: finished runs older than the limit are dropped at the next finish, active and younger runs kept, and removed jobs' history goes with them", async () => {
  const store = new MemoryStore({ maxRunAge: HOUR });
  await store.start({ nodeId: 'test', now: () => Date.now() });
  const now = Date.UTC(2024, 0, 1, 12);
  const old = now - 3 * HOUR;
  await store.addJob(job('old', { nextRunTime: new Date(old) }), 'error');
  // Fired 3 hours ago (the memory store takes the time given): a missed and a skipped run, and a pending one.
  await store.fireDueJobs(new Date(old), 10, (j) => {
    const t = j.nextRunTime!.getTime();
    return {
      runs: [run(t, 'missed'), run(t + 1000, 'skipped'), run(t + 2000, 'pending')],
      nextRunTime: new Date(now + 10 * HOUR),
      remove: false,
    };
  });
  // A date job fired and removed by its plan 2 hours ago: a missed run, the only trace of it.
  await store.addJob(job('gone', { nextRunTime: new Date(now - 2 * HOUR) }), 'error');
  await store.fireDueJobs(new Date(now - 2 * HOUR), 10, (j) => ({
    runs: [run(j.nextRunTime!.getTime(), 'missed')],
    nextRunTime: null,
    remove: true,
  }));
  assert.equal((await store.getRuns({ limit: 100 })).length, 4);
  // A finish now (a missed run of a young job) drops what is more than an hour old.
  await store.addJob(job('young', { nextRunTime: new Date(now - 10 * MIN) }), 'error');
  await store.fireDueJobs(
    new Date(now),
    10,
    planner((t) => [run(t, 'missed')]),
  );
  const left = await store.getRuns({ limit: 100 });
  assert.deepEqual(
    left.map((r) => [r.jobId, r.scheduledFireTime.getTime() - now, r.status]).sort(),
    [
      ['old', -3 * HOUR + 2000, 'pending'],
      ['young', -10 * MIN, 'missed'],
    ].sort(),
  );
  // Nothing of the removed job is left.
  const maps = store as unknown as Record<string, Map<string, unknown>>;
  for (const m of ['finished', 'latestFireTime', 'active', 'retired'])
    assert.equal(maps[m]!.has('gone'), false, m);
  await store.stop();
});

test('memory maxRunAge: a one-shot job a second for two hours keeps an hour of history, not all of it', async () => {
  const store = new MemoryStore({ maxRunAge: HOUR });
  await store.start({ nodeId: 'test', now: () => Date.now() });
  const start = Date.UTC(2024, 0, 1);
  for (let i = 0; i < 7200; i++) {
    const t = start + i * 1000;
    await store.addJob(job(`once-${i}`, { nextRunTime: new Date(t) }), 'error');
    await store.fireDueJobs(new Date(t), 10, (j) => ({
      runs: [run(j.nextRunTime!.getTime(), 'pending')],
      nextRunTime: null,
      remove: true,
    }));
    const [a] = await store.acquireRuns('n', new Date(t), 1, 30_000);
    await store.finishRun(a!.run.id, 'n', a!.run.attempt, new Date(t + 10), { status: 'succeeded' });
  }
  const maps = store as unknown as Record<string, Map<string, unknown>>;
  // Runs finished in the last hour (at most 3,601), each of a removed job; nothing older.
  assert.ok(maps.runs!.size <= 3601, `${maps.runs!.size} runs kept`);
  assert.ok(maps.finished!.size <= 3601 && maps.latestFireTime!.size <= 3601);
  const runs = await store.getRuns({ limit: 10_000 });
  assert.ok(Math.min(...runs.map((r) => r.scheduledFireTime.getTime())) >= start + 7199_000 - HOUR);
  await store.stop();
});

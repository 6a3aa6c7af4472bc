// Query plans that must not depend on how stale the table statistics are. A runs table analyzed while it was
// empty (a new deployment, or retention that emptied it) and then filled by a burst of fires must still be
// read through its indexes: a plan cached from the empty table's statistics scans every run for every job
// fired, and the cost of a batch grows with the table (quadratic in the burst).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { PostgresStore, quoteIdent } from '../../src/stores/postgres/index.js';
import type { FirePlanner } from '../../src/stores/store.js';
import { PG_URL, dropSchema, heapBlocksRead, seqTuplesRead, startContext, testSchema } from './harness.js';

const JOBS = 3000;
const BATCH = 100;
const HOUR = 3_600_000;

const planner: FirePlanner = (j) => {
  const t = j.nextRunTime!;
  return {
    runs: [{ scheduledFireTime: t, status: 'pending', notBefore: t }],
    nextRunTime: new Date(t.getTime() + HOUR),
    remove: false,
  };
};

/** Fires every due job in batches; resolves to the number fired. */
async function fireAll(store: PostgresStore): Promise<number> {
  let fired = 0;
  for (;;) {
    const r = await store.fireDueJobs(new Date(), BATCH, planner);
    fired += r.fired.length;
    if (r.fired.length === 0 && !r.more) return fired;
  }
}

/** Leases and completes every pending run in batches; resolves to the number completed. */
async function runAll(store: PostgresStore): Promise<number> {
  let finished = 0;
  for (;;) {
    const a = await store.acquireRuns('test-node', new Date(), BATCH, 30_000);
    if (a.length === 0) return finished;
    const done = await store.finishRuns!(
      'test-node',
      a.map((x) => ({ runId: x.run.id, attempt: x.run.attempt, outcome: { status: 'succeeded' as const } })),
      new Date(),
    );
    finished += done.filter(Boolean).length;
  }
}

/** Inserts `n` interval jobs `<prefix>-<i>`, due a minute ago. */
async function addDueJobs(pool: pg.Pool, s: string, prefix: string, n: number): Promise<void> {
  const due = Math.floor(Date.now() / 1000) * 1000 - 60_000;
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(4, '0')}`);
  await pool.query(
    `INSERT INTO ${s}.jobs (id, name, task_id, trigger, args, max_instances, misfire_grace_time, coalesce,
       jitter, timeout, retry, paused, next_run_time, version, created_at, updated_at)
     SELECT id, id, 'task', $2, '[]', 1, 1000, true, NULL, NULL, NULL, false, to_timestamp($3 / 1000.0), 1,
       now(), now()
     FROM unnest($1::text[]) AS t(id)`,
    [ids, JSON.stringify({ type: 'interval', version: 1, milliseconds: HOUR }), due],
  );
}

/**
 * Runs `fn` with a started store in a fresh schema on a pool of ONE connection: every statement of the store
 * runs on the same server process, whose plan cache and statistics are what these tests read. Removes the
 * schema after.
 */
async function withStore(
  fireConcurrency: number | undefined,
  fn: (store: PostgresStore, pool: pg.Pool, schema: string, s: string) => Promise<void>,
): Promise<void> {
  const schema = testSchema();
  const pool = new pg.Pool({ connectionString: PG_URL, max: 1 });
  const store = new PostgresStore(
    { pool },
    { schema, listen: false, ...(fireConcurrency === undefined ? {} : { fireConcurrency }) },
  );
  try {
    await store.start(startContext);
    await fn(store, pool, schema, quoteIdent(schema));
  } finally {
    await store.stop();
    await pool.end();
    await dropSchema(schema);
  }
}

test('PostgreSQL: after retention empties the runs table and it is analyzed empty, a burst of 3,000 fires is fired and leased through the indexes', async () => {
  await withStore(1, async (store, pool, schema, s) => {
    // A running scheduler: its statements have run many times on this connection (PostgreSQL switches a
    // prepared statement to a cached generic plan after five runs).
    await addDueJobs(pool, s, 'warm', 10 * BATCH);
    await pool.query(`ANALYZE ${s}.jobs`);
    assert.equal(await fireAll(store), 10 * BATCH);
    assert.equal(await runAll(store), 10 * BATCH);
    // Retention removes every run; autovacuum then analyzes the empty table.
    await pool.query(`DELETE FROM ${s}.runs`);
    await pool.query(`VACUUM ANALYZE ${s}.runs`);
    await addDueJobs(pool, s, 'job', JOBS);
    const before = await seqTuplesRead(pool, schema);
    assert.equal(await fireAll(store), JOBS);
    const afterFiring = await seqTuplesRead(pool, schema);
    assert.equal(await runAll(store), JOBS);
    const afterRuns = await seqTuplesRead(pool, schema);

    // A plan that scans the table for every job fired reads on the order of JOBS^2 / 2 = 4,500,000 runs.
    // Through the indexes, only the first batches are read by sequential scan, while the table is a few
    // pages and a scan is the cheaper plan (about 120,000 here). The bound is a tenth of the former.
    const bound = (JOBS * JOBS) / 20;
    assert.ok(afterFiring - before < bound, `firing read ${afterFiring - before} runs by sequential scan`);
    assert.ok(
      afterRuns - afterFiring < bound,
      `leasing read ${afterRuns - afterFiring} runs by sequential scan`,
    );
  });
});

test('PostgreSQL: a page of jobs by id (the default order), by id after a keyset cursor, of unpaused jobs, by name and by next run time reads an index, not the whole table', async () => {
  await withStore(undefined, async (store, pool, schema, s) => {
    // 20,000 jobs named in reverse, due 20,000 s apart in reverse, every tenth paused.
    const n = 20_000;
    await pool.query(
      `INSERT INTO ${s}.jobs (id, name, task_id, trigger, args, max_instances, misfire_grace_time, coalesce,
         jitter, timeout, retry, paused, next_run_time, version, created_at, updated_at)
       SELECT 'job-' || lpad(i::text, 5, '0'), 'name-' || lpad(($1 - 1 - i)::text, 5, '0'), 'task', $2, '[]', 1,
         1000, true, NULL, NULL, NULL, i % 10 = 0, now() + ($1 - i) * interval '1 second', 1, now(), now()
       FROM generate_series(0, $1 - 1) AS i`,
      [n, JSON.stringify({ type: 'interval', version: 1, milliseconds: HOUR })],
    );
    await pool.query(`VACUUM ANALYZE ${s}.jobs`);
    const ids = (from: number, step = 1) =>
      Array.from({ length: 3 }, (_, k) => `job-${String(from + k * step).padStart(5, '0')}`);
    const pages: [string, Parameters<PostgresStore['getJobs']>[0], string[]][] = [
      ['by id', { limit: 3 }, ids(0)],
      ['by id after a cursor', { limit: 3, afterId: 'job-10000' }, ids(10001)],
      ['unpaused by id', { paused: false, limit: 3 }, ids(1)],
      ['by name', { sort: 'name', limit: 3 }, ids(n - 1, -1)],
      ['by next run time', { sort: 'nextRunTime', limit: 3 }, ids(n - 1, -1)],
    ];
    for (const [what, filter, expected] of pages) {
      const before = await seqTuplesRead(pool, schema, 'jobs');
      assert.deepEqual(
        (await store.getJobs(filter)).map((j) => j.id),
        expected,
        what,
      );
      const read = (await seqTuplesRead(pool, schema, 'jobs')) - before;
      assert.equal(read, 0, `${what}: ${read} jobs read by sequential scan`);
    }
  });
});

test("PostgreSQL: counting a fired job's active runs reads that job's runs through the active-runs index, not every active run", async () => {
  await withStore(1, async (store, pool, schema, s) => {
    // 4,000 pending runs of other jobs (waiting for a task no process has), then 1,000 due jobs.
    await pool.query(
      `INSERT INTO ${s}.runs (job_id, task_id, scheduled_fire_time, not_before, status, manual, created_at)
       SELECT 'busy-' || i, 'elsewhere', now() - i * interval '1 second', now(), 'pending', false, now()
       FROM generate_series(1, 4000) AS i`,
    );
    await addDueJobs(pool, s, 'job', 1000);
    await pool.query(`VACUUM ANALYZE ${s}.jobs`);
    await pool.query(`VACUUM ANALYZE ${s}.runs`);
    const before = await heapBlocksRead(pool, schema, 'runs');
    assert.equal(await fireAll(store), 1000);
    const read = (await heapBlocksRead(pool, schema, 'runs')) - before;
    // Through the index's condition, a count reads the job's own runs: none, or the one just created (about
    // 2,000 blocks in all here, with the inserts). Reading every active run and filtering them instead read
    // about 66,000.
    assert.ok(read < 10_000, `${read} blocks of runs read to fire 1,000 jobs`);
  });
});

// Recording outcomes (`finishRuns`) and renewing leases (`heartbeatRuns`) on PostgreSQL cost one primary-key
// probe per listed run, whatever the planner believes about the table. Both lock the listed runs of this
// owner that are `running`; joined the other way (every running run of the table scanned against the
// list), a plan made while running runs looked rare took seconds per call once many were running: after a
// burst of 50,000 due jobs a process recorded about 200 outcomes a second and fell further behind as runs
// kept finishing. The statistics are set up here as they were then, with autovacuum off on `runs` so that
// nothing analyzes the table in between.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { PostgresStore, quoteIdent } from '../../src/stores/postgres/index.js';
import { PG_URL, dropSchema, startContext, testSchema } from './harness.js';

const RUNS = 20_000;

/**
 * `analyzed` finished runs (90 of them `running` for another owner) analyzed, then `RUNS - analyzed` more
 * added, unanalyzed; all but those 90 are then leased to `node-a` (through a store of its own, with the
 * default statement timeout). Resolves to the leased runs.
 */
async function manyRunning(
  admin: pg.Client,
  schema: string,
  analyzed: number,
): Promise<{ id: string; attempt: number }[]> {
  const s = quoteIdent(schema);
  const store = new PostgresStore({ connectionString: PG_URL }, { schema, listen: false });
  await store.start(startContext);
  const insert = `INSERT INTO ${s}.runs (job_id, task_id, scheduled_fire_time, not_before, status, manual, created_at)
    SELECT 'job-' || (g % 1000), 'task', now() - g * interval '1 s' - $2 * interval '1 day',
      now() - g * interval '1 s', 'succeeded', false, now()
    FROM generate_series(1, $1::int) g`;
  await admin.query(`ALTER TABLE ${s}.runs SET (autovacuum_enabled = false)`);
  await admin.query(insert, [analyzed, 0]);
  await admin.query(
    `UPDATE ${s}.runs SET status = 'running', owner = 'node-b', lease_expires_at = now() + interval '1 day'
     WHERE id IN (SELECT id FROM ${s}.runs LIMIT 90)`,
  );
  await admin.query(`ANALYZE ${s}.runs`);
  await admin.query(insert, [RUNS - analyzed, 1]);
  await admin.query(`UPDATE ${s}.runs SET status = 'pending' WHERE owner IS NULL`);
  try {
    const acquired = await store.acquireRuns('node-a', new Date(), RUNS, 600_000);
    assert.equal(acquired.length, RUNS - 90);
    return acquired.map((a) => ({ id: a.run.id, attempt: a.run.attempt }));
  } finally {
    await store.stop();
  }
}

test('PostgreSQL: outcomes of 500 runs are recorded within a 500 ms statement timeout while 20,000 runs are running and the statistics were taken at 1,000 runs', async () => {
  const schema = testSchema();
  const admin = new pg.Client({ connectionString: PG_URL });
  const store = new PostgresStore(
    { connectionString: PG_URL },
    { schema, listen: false, statementTimeout: 500, pruneEvery: 1_000_000 },
  );
  try {
    await admin.connect();
    await store.start(startContext);
    const running = await manyRunning(admin, schema, 1000);
    // (Before the fix: 1.4 s per group, past the timeout.) Several groups, past the point where a prepared
    // statement may switch to a generic plan.
    for (let g = 0; g < 8; g++) {
      const group = running.slice(g * 500, (g + 1) * 500);
      const done = await store.finishRuns(
        'node-a',
        group.map((r) => ({ runId: r.id, attempt: r.attempt, outcome: { status: 'succeeded' as const } })),
        new Date(),
      );
      assert.equal(done.filter(Boolean).length, 500, `group ${g}`);
    }
    // The fence still holds: another owner's run, a stale attempt and a run already finished are refused.
    const other = await admin.query<{ id: string }>(
      `SELECT id FROM ${quoteIdent(schema)}.runs WHERE owner = 'node-b' LIMIT 1`,
    );
    const fenced = await store.finishRuns(
      'node-a',
      [
        { runId: other.rows[0]!.id, attempt: 0, outcome: { status: 'succeeded' } },
        { runId: running[5000]!.id, attempt: running[5000]!.attempt + 1, outcome: { status: 'failed' } },
        { runId: running[0]!.id, attempt: running[0]!.attempt, outcome: { status: 'failed' } },
        { runId: running[5001]!.id, attempt: running[5001]!.attempt, outcome: { status: 'failed' } },
      ],
      new Date(),
    );
    assert.deepEqual(fenced, [false, false, false, true]);
    assert.equal((await store.getRun(running[0]!.id))!.status, 'succeeded');
    assert.equal((await store.getRun(running[5000]!.id))!.status, 'running');
    assert.equal((await store.getRun(running[5001]!.id))!.status, 'failed');
  } finally {
    await store.stop();
    await admin.end();
    await dropSchema(schema);
  }
});

test('PostgreSQL: a heartbeat of 5,000 runs renews them within a 2 s statement timeout on generic plans while 20,000 runs are running', async () => {
  const schema = testSchema();
  const admin = new pg.Client({ connectionString: PG_URL });
  // Generic plans for the store's prepared statements, as the server may choose after five executions (or a
  // database configured so).
  const url = `${PG_URL}?options=${encodeURIComponent('-c plan_cache_mode=force_generic_plan')}`;
  const store = new PostgresStore(
    { connectionString: url },
    { schema, listen: false, statementTimeout: 2000 },
  );
  try {
    await admin.connect();
    await store.start(startContext);
    const running = await manyRunning(admin, schema, RUNS);
    const beat = running.slice(0, 5000);
    // (Before the fix: 11 s, past the timeout.)
    const held = await store.heartbeatRuns('node-a', beat, new Date(), 900_000);
    assert.equal(held.length, 5000);
    const renewed = await admin.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${quoteIdent(schema)}.runs
       WHERE lease_expires_at > now() + interval '800 s' AND owner = 'node-a'`,
    );
    assert.equal(renewed.rows[0]!.n, 5000);
    // A run of another attempt or owner is not renewed.
    const stale = await store.heartbeatRuns(
      'node-a',
      [{ id: running[6000]!.id, attempt: running[6000]!.attempt + 1 }],
      new Date(),
      900_000,
    );
    assert.deepEqual(stale, []);
  } finally {
    await store.stop();
    await admin.end();
    await dropSchema(schema);
  }
});

// The PostgreSQL firing step with large batches: the cost of its write statement must grow with the number of
// runs it stores, not with its square. A backlog not coalesced (jobs with `coalesce: false` and the default
// `maxInstances: 1` after an outage) plans one pending run and many skipped ones per job; with claims of
// 1,000 jobs per transaction that is tens of thousands of runs in one statement.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { PostgresStore, quoteIdent } from '../../src/stores/postgres/index.js';
import type { FirePlanner } from '../../src/stores/store.js';
import { job } from './store-contract.js';
import { PG_URL, dropSchema, startContext, testSchema } from './harness.js';

test('PostgreSQL: a firing transaction of 100 jobs owing 300 fire times each (one pending run, 299 skipped) stores its 30,000 runs well within a 5 s statement timeout', async () => {
  const schema = testSchema();
  const admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
  const store = new PostgresStore(
    { connectionString: PG_URL },
    { schema, listen: false, fireConcurrency: 1, statementTimeout: 5000 },
  );
  const JOBS = 100;
  const OWED = 300;
  const t = Math.floor(Date.now() / 1000) * 1000 - OWED * 1000;
  // As the scheduler plans a backlog with coalesce off and maxInstances 1: the first owed fire time runs, the
  // others find the slot taken and are recorded skipped.
  const planner: FirePlanner = () => ({
    runs: Array.from({ length: OWED }, (_, i) => ({
      scheduledFireTime: new Date(t + i * 1000),
      status: i === 0 ? ('pending' as const) : ('skipped' as const),
      notBefore: new Date(t + i * 1000),
    })),
    nextRunTime: new Date(t + OWED * 1000),
    remove: false,
  });
  try {
    await store.start(startContext);
    for (let i = 0; i < JOBS; i++)
      await store.addJob(job(`job-${String(i).padStart(3, '0')}`, { nextRunTime: new Date(t) }), 'error');
    // (Before the fix, the statement matched every skipped run against every planned run: 9 x 10^8 row
    // visits, a minute or more, cut off by the statement timeout.)
    const result = await store.fireDueJobs(new Date(), 1000, planner);
    assert.equal(result.fired.length, JOBS);
    assert.equal(result.more, false);
    const runs = result.fired.flatMap((f) => f.runs);
    assert.equal(runs.length, JOBS * OWED);
    assert.equal(runs.filter((r) => r.status === 'pending').length, JOBS);
    const stored = await admin.query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM ${quoteIdent(schema)}.runs GROUP BY status ORDER BY status`,
    );
    assert.deepEqual(stored.rows, [
      { status: 'pending', n: JOBS },
      { status: 'skipped', n: JOBS * (OWED - 1) },
    ]);
  } finally {
    await store.stop();
    await admin.end();
    await dropSchema(schema);
  }
});

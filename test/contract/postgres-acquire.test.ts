// PostgreSQL leasing is atomic: `acquireRuns` leases runs and reads their jobs in one transaction. When the
// read of the jobs fails after the runs were leased (a statement timeout, a connection terminated), the call
// rejects and nothing stays leased. Committed on its own, the lease would hold the runs for a process that
// never learnt of them: they would not start, and would be reaped as abandoned when the lease ran out (a fire
// time never executed, for a job without a retry policy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { PostgresStore, quoteIdent } from '../../src/stores/postgres/index.js';
import { job } from './store-contract.js';
import { PG_URL, dropSchema, startContext, testSchema } from './harness.js';

test('PostgreSQL: an acquireRuns whose read of the jobs fails leaves its runs pending, not leased to a caller that never got them', async () => {
  const schema = testSchema();
  const admin = new pg.Client({ connectionString: PG_URL });
  const store = new PostgresStore(
    { connectionString: PG_URL },
    { schema, listen: false, statementTimeout: 500 },
  );
  const s = quoteIdent(schema);
  try {
    await admin.connect();
    await store.start(startContext);
    await store.addJob(job('a', { nextRunTime: null, paused: true }), 'error');
    const run = await store.createManualRun('a', new Date());
    assert.equal(run.status, 'pending');
    // Another session holds `jobs` (a migration, a VACUUM FULL): leasing the run (an update of `runs` only)
    // goes through, reading its job waits and is cancelled by the statement timeout.
    await admin.query('BEGIN');
    await admin.query(`LOCK TABLE ${s}.jobs IN ACCESS EXCLUSIVE MODE`);
    await assert.rejects(
      store.acquireRuns('node-a', new Date(), 10, 30_000),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'STORE_ERROR');
        return true;
      },
    );
    await admin.query('ROLLBACK');
    const after = await store.getRun(run.id);
    assert.equal(after!.status, 'pending', 'not leased to node-a, which was told the call failed');
    assert.equal(after!.owner, null);
    assert.equal(after!.attempt, 0);
    // The next call leases it, with its job.
    const acquired = await store.acquireRuns('node-a', new Date(), 10, 30_000);
    assert.deepEqual(
      acquired.map((a) => [a.run.id, a.run.status, a.run.attempt, a.job?.id]),
      [[run.id, 'running', 1, 'a']],
    );
  } finally {
    await admin.query('ROLLBACK').catch(() => {});
    await admin.end();
    await store.stop();
    await dropSchema(schema);
  }
});

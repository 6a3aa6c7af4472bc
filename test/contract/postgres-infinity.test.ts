// PostgreSQL timestamps of 'infinity' and '-infinity' in run rows (tickwork never writes them; a hand-written
// one must neither break the scheduler's loop nor hold a job's maxInstances slot for good).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { PostgresStore, quoteIdent } from '../../src/stores/postgres/index.js';
import { job } from './store-contract.js';
import { PG_URL, dropSchema, startContext, testSchema } from './harness.js';

test("PostgreSQL: a lease of 'infinity' is reaped, a fire time of '-infinity' is marked unreadable, the wake time stays a time", async () => {
  const schema = testSchema();
  const store = new PostgresStore({ connectionString: PG_URL }, { schema, poolSize: 2, listen: false });
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    await store.start(startContext);
    await store.addJob({ ...job('k'), nextRunTime: null, paused: true }, 'error');
    const s = quoteIdent(schema);
    const insert = `INSERT INTO ${s}.runs (id, job_id, task_id, scheduled_fire_time, not_before, status, manual,
        attempt, owner, lease_expires_at, started_at, error, created_at)
      VALUES ($1, 'k', 'task', $2::timestamptz, now() - interval '5 s', $3, false, $4, $5, $6::timestamptz, $7::timestamptz, $8, now())`;
    const lease = '01900000-0000-7000-8000-000000000001';
    await admin.query(insert, [
      lease,
      new Date(Date.now() - 5000),
      'running',
      1,
      'dead',
      'infinity',
      new Date(),
      null,
    ]);
    // The only candidate is the infinite lease: no time to wake at (it was the string 'infinity', and every
    // pass of the loop failed on it).
    assert.equal(await store.getNextWakeTime(), null);
    const reaped = await store.reapExpiredRuns(new Date(), 10);
    assert.deepEqual(
      reaped.map((r) => [r.id, r.status]),
      [[lease, 'abandoned']],
    );
    // A lease past the year 9999 that is not 'infinity' (the year 280000): reaped too; as the only
    // candidate, no wake time (it was an Invalid Date, and the loop spun on it).
    const far = '01900000-0000-7000-8000-000000000003';
    await admin.query(insert, [
      far,
      new Date(Date.now() - 6000),
      'running',
      1,
      'dead',
      '280000-01-01',
      new Date(),
      null,
    ]);
    assert.equal(await store.getNextWakeTime(), null);
    assert.deepEqual(
      (await store.reapExpiredRuns(new Date(), 10)).map((r) => [r.id, r.status]),
      [[far, 'abandoned']],
    );
    const fire = '01900000-0000-7000-8000-000000000002';
    await admin.query(insert, [
      fire,
      '-infinity',
      'pending',
      1,
      null,
      null,
      null,
      '{"name":"Error","message":"boom"}',
    ]);
    const wake = await store.getNextWakeTime();
    assert.ok(wake instanceof Date && wake.getTime() <= Date.now(), String(wake));
    const acquired = await store.acquireRuns('me', new Date(), 10, 30_000);
    assert.deepEqual(
      acquired.map((a) => [a.run.id, a.run.error?.name]),
      [[fire, 'UnreadableRun']],
    );
    assert.match(acquired[0]!.run.error!.message, /scheduled_fire_time.*its error: boom/);
  } finally {
    await admin.end();
    await store.stop();
    await dropSchema(schema);
  }
});

// The PostgreSQL firing step's recheck of maxInstances under the row locks. The claim counts a job's active
// runs on its statement's snapshot, taken before the row lock; a run that becomes active between the two (a
// manual run committed by another process) is not in that count. The write step counts again and stores a
// pending run that no longer fits maxInstances as skipped (a queued one stays pending), and the result
// reports the plan as applied.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { PostgresStore, quoteIdent } from '../../src/stores/postgres/index.js';
import type { FireContext, FirePlanner } from '../../src/stores/store.js';
import { job } from './store-contract.js';
import { PG_URL, dropSchema, startContext, testSchema } from './harness.js';

test("PostgreSQL: a run that became active after the claim's snapshot is counted under the lock; the pending run that no longer fits maxInstances is stored and reported as skipped", async () => {
  const schema = testSchema();
  const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
  const other = new pg.Pool({ connectionString: PG_URL, max: 1 });
  const store = new PostgresStore({ pool }, { schema, listen: false, fireConcurrency: 1 });
  const s = quoteIdent(schema);
  const t = Math.floor(Date.now() / 1000) * 1000 - 60_000;
  try {
    await store.start(startContext);
    await store.addJob(job('a', { nextRunTime: new Date(t), maxInstances: 2 }), 'error');
    await store.addJob(job('b', { nextRunTime: new Date(t), maxInstances: 2 }), 'error');
    // After the claim has returned (the rows are locked, its snapshot taken) and before the planner runs,
    // another connection commits an active run of `a`, as another process's manual run would.
    const connect = pool.connect.bind(pool);
    // (`pool.query` checks out with a callback: left as it is.)
    const wrapped = new WeakSet<object>();
    const wrap = async () => {
      const client = await connect();
      if (wrapped.has(client)) return client;
      wrapped.add(client);
      const query = client.query.bind(client) as (...a: unknown[]) => Promise<unknown>;
      (client as { query: unknown }).query = async (...args: unknown[]) => {
        const result = await query(...args);
        const q = args[0] as { name?: string };
        if (typeof q === 'object' && q.name?.endsWith('claim')) {
          await other.query(
            `INSERT INTO ${s}.runs (id, job_id, task_id, scheduled_fire_time, not_before, status, manual, created_at)
             SELECT gen_random_uuid(), id, 'task', now(), now(), 'running', true, now()
             FROM unnest(ARRAY['a', 'b']) AS id`,
          );
        }
        return result;
      };
      return client;
    };
    (pool as { connect: unknown }).connect = (callback?: unknown) =>
      callback !== undefined ? (connect as (cb: unknown) => void)(callback) : wrap();
    const told: Record<string, number> = {};
    // Two pending runs per job (a backlog not coalesced): the first and second of maxInstances 2; b's second
    // is queued (it waits for the first instead of needing a slot of its own).
    const planner: FirePlanner = (j, context: FireContext) => {
      told[j.id] = context.activeRuns;
      return {
        runs: [
          { scheduledFireTime: new Date(t), status: 'pending', notBefore: new Date(t) },
          {
            scheduledFireTime: new Date(t + 1000),
            status: 'pending',
            notBefore: new Date(t + 1000),
            queued: j.id === 'b',
          },
        ],
        nextRunTime: new Date(t + 3_600_000),
        remove: false,
      };
    };
    const result = await store.fireDueJobs(new Date(), 10, planner);
    assert.deepEqual(told, { a: 0, b: 0 }, 'the planner was told of no active run');
    const byJob = Object.fromEntries(
      result.fired.map((f) => [f.job.id, f.runs.map((r) => [r.scheduledFireTime.getTime(), r.status])]),
    );
    // Each: one active run now, so 1 + 1 fits maxInstances 2 and 1 + 2 does not; b's queued run is never
    // stored as skipped.
    assert.deepEqual(byJob, {
      a: [
        [t, 'pending'],
        [t + 1000, 'skipped'],
      ],
      b: [
        [t, 'pending'],
        [t + 1000, 'pending'],
      ],
    });
    const planA = result.fired.find((f) => f.job.id === 'a')!.plan;
    assert.deepEqual(
      planA.runs.map((r) => r.status),
      ['pending', 'skipped'],
      'the plan as applied',
    );
    const stored = await store.getRuns({ jobId: 'a' });
    assert.deepEqual(
      stored.filter((r) => !r.manual).map((r) => [r.scheduledFireTime.getTime(), r.status]),
      [
        [t + 1000, 'skipped'],
        [t, 'pending'],
      ],
    );
    assert.notEqual(
      stored.find((r) => r.status === 'skipped')!.finishedAt,
      null,
      'a skipped run is stored finished',
    );
    assert.equal((await store.getJob('a'))!.nextRunTime!.getTime(), t + 3_600_000);
    const queued = await other.query(
      `SELECT job_id, extract(epoch FROM scheduled_fire_time) * 1000 AS t, queued FROM ${s}.runs
       WHERE NOT manual ORDER BY job_id, scheduled_fire_time`,
    );
    assert.deepEqual(
      queued.rows.map((r: { job_id: string; t: string; queued: boolean }) => [
        r.job_id,
        Number(r.t) - t,
        r.queued,
      ]),
      [
        ['a', 0, false],
        ['a', 1000, false],
        ['b', 0, false],
        ['b', 1000, true],
      ],
    );
  } finally {
    await store.stop();
    await pool.end();
    await other.end();
    await dropSchema(schema);
  }
});

test('PostgreSQL: a job at the largest version (integer) wraps to 1 when it fires, changes or is replaced; the other jobs keep firing', async () => {
  const schema = testSchema();
  const admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
  const store = new PostgresStore({ connectionString: PG_URL }, { schema, listen: false });
  const s = quoteIdent(schema);
  const due = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
  const simple: FirePlanner = (j) => ({
    runs: [{ scheduledFireTime: j.nextRunTime!, status: 'pending', notBefore: j.nextRunTime! }],
    nextRunTime: new Date(j.nextRunTime!.getTime() + 3_600_000),
    remove: false,
  });
  try {
    await store.start(startContext);
    for (const id of ['max', 'good', 'edited', 'replaced'])
      await store.addJob(job(id, { nextRunTime: due }), 'error');
    await admin.query(`UPDATE ${s}.jobs SET version = 2147483647 WHERE id <> 'good'`);
    const result = await store.fireDueJobs(new Date(), 10, simple);
    assert.deepEqual(result.fired.map((f) => f.job.id).sort(), ['edited', 'good', 'max', 'replaced']);
    assert.equal((await store.getJob('max'))!.version, 1);
    await admin.query(`UPDATE ${s}.jobs SET version = 2147483647 WHERE id IN ('edited', 'replaced')`);
    assert.equal((await store.updateJob('edited', { name: 'renamed' })).version, 1);
    const replaced = await store.addJob(job('replaced', { name: 'new name', nextRunTime: due }), 'replace');
    assert.deepEqual([replaced.outcome, replaced.job.version], ['replaced', 1]);
    assert.equal((await store.getJob('replaced'))!.version, 1);
  } finally {
    await store.stop();
    await admin.end();
    await dropSchema(schema);
  }
});

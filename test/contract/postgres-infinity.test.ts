// PostgreSQL timestamps of 'infinity' and '-infinity' in job and run rows (tickwork never writes them; a
// hand-written one must neither break the scheduler's loop, nor leave a job never due and never reported, nor
// hold a job's maxInstances slot for good).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { Scheduler, silentLogger } from '../../src/index.js';
import { PostgresStore, quoteIdent } from '../../src/stores/postgres/index.js';
import type { FirePlanner } from '../../src/stores/store.js';
import { triggerFromJSON } from '../../src/triggers/index.js';
import { job, simplePlanner } from './store-contract.js';
import { PG_URL, dropSchema, startContext, testSchema } from './harness.js';
import { waitFor } from '../cluster/helpers.js';

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

/** A planner like the scheduler's: quarantines a job whose trigger `triggerFromJSON` rejects. */
const quarantining: FirePlanner = (j, ctx) => {
  try {
    triggerFromJSON(j.trigger);
  } catch (err) {
    return { runs: [], nextRunTime: null, remove: false, quarantine: (err as Error).message };
  }
  return simplePlanner()(j, ctx);
};

test("PostgreSQL: a job whose next_run_time is past the year 9999 ('infinity') or before the year 0000 is quarantined, not left never due", async () => {
  const schema = testSchema();
  const store = new PostgresStore({ connectionString: PG_URL }, { schema, poolSize: 2, listen: false });
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    await store.start(startContext);
    const s = quoteIdent(schema);
    // A healthy job an hour away, and four jobs whose next run time is written by hand.
    await store.addJob({ ...job('ok'), nextRunTime: new Date(Date.now() + 3_600_000) }, 'error');
    const bad: [string, string][] = [
      ['inf', 'infinity'],
      ['far', '280000-01-01T00:00:00Z'],
      ['neg', '-infinity'],
      ['bc', '4713-01-01 00:00:00+00 BC'],
    ];
    for (const [id, text] of bad) {
      await store.addJob(job(id), 'error');
      await admin.query(`UPDATE ${s}.jobs SET next_run_time = $1::timestamptz WHERE id = $2`, [text, id]);
    }
    // Such a job makes the store due now (it is no time to wait for).
    const wake = await store.getNextWakeTime();
    assert.equal(wake?.getTime(), 0);
    // One firing step claims all four (the healthy job is not due) and the planner quarantines them.
    const result = await store.fireDueJobs(new Date(), 10, quarantining);
    assert.deepEqual(result.fired.map((f) => f.job.id).sort(), ['bc', 'far', 'inf', 'neg']);
    for (const f of result.fired) {
      assert.equal(f.job.trigger.type, '__invalid__', f.job.id);
      assert.equal(f.job.trigger.field, 'next_run_time', f.job.id);
      assert.equal(f.runs.length, 0);
      assert.ok(f.plan.quarantine !== undefined, f.job.id);
    }
    // Kept, paused, the reason stored; nothing left to wake for but the healthy job.
    const rows = await admin.query<{
      id: string;
      paused: boolean;
      quarantine: string | null;
      t: string | null;
    }>(`SELECT id, paused, quarantine, next_run_time::text AS t FROM ${s}.jobs ORDER BY id COLLATE "C"`);
    assert.deepEqual(
      rows.rows.map((r) => [r.id, r.paused, r.quarantine !== null && r.t === null]),
      [
        ['bc', true, true],
        ['far', true, true],
        ['inf', true, true],
        ['neg', true, true],
        ['ok', false, false],
      ],
    );
    const after = await store.getNextWakeTime();
    assert.ok(after !== null && after.getTime() > Date.now() + 3_500_000, String(after));
    assert.deepEqual((await store.fireDueJobs(new Date(), 10, quarantining)).fired, []);
  } finally {
    await admin.end();
    await store.stop();
    await dropSchema(schema);
  }
});

test("PostgreSQL: a pending run whose not_before is past the year 9999 ('infinity') is leased as unreadable, not left holding its slot", async () => {
  const schema = testSchema();
  const store = new PostgresStore({ connectionString: PG_URL }, { schema, poolSize: 2, listen: false });
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    await store.start(startContext);
    await store.addJob({ ...job('k'), nextRunTime: null, paused: true }, 'error');
    const s = quoteIdent(schema);
    const insert = `INSERT INTO ${s}.runs (id, job_id, task_id, scheduled_fire_time, not_before, status, manual,
        attempt, created_at)
      VALUES ($1, 'k', $2, $3::timestamptz, $4::timestamptz, 'pending', false, 0, now())`;
    const inf = '01900000-0000-7000-8000-000000000011';
    const far = '01900000-0000-7000-8000-000000000012';
    const sft = '01900000-0000-7000-8000-000000000013';
    const other = '01900000-0000-7000-8000-000000000014';
    const past = new Date(Date.now() - 60_000).toISOString();
    await admin.query(insert, [inf, 'task', past, 'infinity']);
    await admin.query(insert, [far, 'task', new Date(Date.now() - 50_000).toISOString(), '280000-01-01']);
    // A fire time of 'infinity' with a due not_before: leased at once (as the stores always did).
    await admin.query(insert, [sft, 'task', 'infinity', past]);
    // A run of a task the caller does not run: left to a process that runs it.
    await admin.query(insert, [other, 'elsewhere', new Date(Date.now() - 40_000).toISOString(), 'infinity']);
    assert.equal((await store.getNextWakeTime(['task']))?.getTime(), 0);
    const acquired = await store.acquireRuns('me', new Date(), 10, 30_000, ['task']);
    assert.deepEqual(
      acquired.map((a) => [a.run.id, a.run.error?.name, a.run.status]).sort(),
      [
        [inf, 'UnreadableRun', 'running'],
        [far, 'UnreadableRun', 'running'],
        [sft, 'UnreadableRun', 'running'],
      ].sort(),
    );
    assert.match(acquired.find((a) => a.run.id === inf)!.run.error!.message, /not_before/);
    // Nothing more to lease or to wake for among the caller's tasks; the other task's run is still pending.
    // (the wake time is now the end of the three leases, 30 s away)
    const wake = await store.getNextWakeTime(['task']);
    assert.ok(wake !== null && wake.getTime() > Date.now() + 20_000, String(wake));
    assert.deepEqual(await store.acquireRuns('me', new Date(), 10, 30_000, ['task']), []);
    assert.equal((await store.getRun(other))!.status, 'pending');
    assert.equal((await store.getNextWakeTime(['elsewhere']))?.getTime(), 0);
  } finally {
    await admin.end();
    await store.stop();
    await dropSchema(schema);
  }
});

test("PostgreSQL, with a scheduler: a job due at 'infinity' is quarantined (event, reason), a run not before 'infinity' is cancelled (RUN_UNREADABLE) and frees its job's slot", async () => {
  const schema = testSchema();
  const store = new PostgresStore(
    { connectionString: PG_URL },
    { schema, poolSize: 2, listen: false, maxWakeInterval: 200 },
  );
  const scheduler = new Scheduler({ store, logger: silentLogger });
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    let ran = 0;
    scheduler.defineTask('work', () => void ran++);
    const quarantined: { jobId: string; reason: string }[] = [];
    scheduler.on('job:quarantined', (e) => void quarantined.push({ jobId: e.jobId, reason: e.reason }));
    await scheduler.start();
    await scheduler.addJob('work', 'interval', { id: 'bad', hours: 1 });
    await scheduler.addJob('work', 'interval', { id: 'slot', seconds: 1, maxInstances: 1 });
    const s = quoteIdent(schema);
    await admin.query(`UPDATE ${s}.jobs SET next_run_time = 'infinity' WHERE id = 'bad'`);
    // A pending run of `slot` that can never come due: it holds the job's only slot.
    const stuck = '01900000-0000-7000-8000-000000000021';
    await admin.query(
      `INSERT INTO ${s}.runs (id, job_id, task_id, scheduled_fire_time, not_before, status, manual, attempt,
         created_at) VALUES ($1, 'slot', 'work', now() - interval '1 minute', 'infinity', 'pending', false, 0, now())`,
      [stuck],
    );
    const done = await waitFor(() => quarantined.length > 0 && ran > 0, 10_000);
    assert.ok(done, `quarantined ${JSON.stringify(quarantined)}, ran ${ran}`);
    assert.equal(quarantined.length, 1);
    assert.equal(quarantined[0]!.jobId, 'bad');
    assert.match(quarantined[0]!.reason, /next_run_time/);
    const bad = await scheduler.getJob('bad');
    assert.equal(bad?.paused, true);
    assert.match(bad?.quarantine ?? '', /next_run_time/);
    const run = await store.getRun(stuck);
    assert.equal(run?.status, 'cancelled');
    assert.equal(run?.error?.code, 'RUN_UNREADABLE');
  } finally {
    await scheduler.shutdown();
    await admin.end();
    await dropSchema(schema);
  }
});

// A PostgreSQL connection loss in the middle of work: every session of the scheduler is terminated with
// pg_terminate_backend, twice, while a 200 ms interval job runs. Nothing may be lost or doubled: with
// coalescing off and no misfire limit, every fire time between the first and the last gets exactly one
// run, and every run is recorded as succeeded. Real time (the database's clock decides what is due).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { Scheduler, silentLogger } from '../../src/index.js';
import { PostgresStore } from '../../src/stores/postgres/index.js';

const PG = process.env.TICKWORK_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test(
  'the scheduler survives pg_terminate_backend on all its sessions and loses nothing',
  { timeout: 60_000 },
  async () => {
    const app = `tw_outage_${randomUUID().slice(0, 8)}`;
    const schema = `tw_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    const admin = new pg.Client({ connectionString: PG });
    await admin.connect();
    const url = new URL(PG); // TICKWORK_TEST_PG may carry a query string of its own
    url.searchParams.set('application_name', app);
    const store = new PostgresStore({ connectionString: url.toString() }, { schema });
    const errors: string[] = [];
    const scheduler = new Scheduler({ store, logger: silentLogger, maxWakeInterval: 500 });
    scheduler.on('scheduler:error', (e) => errors.push(e.error.message));
    const executed: number[] = [];
    scheduler.defineTask('beat', async (ctx: { scheduledFireTime: Date }) => {
      executed.push(ctx.scheduledFireTime.getTime());
      await sleep(20);
    });
    try {
      await scheduler.start();
      await scheduler.addJob('beat', 'interval', {
        id: 'beat',
        milliseconds: 200,
        coalesce: false,
        misfireGraceTime: null,
        maxInstances: 50,
      });
      const terminate = async () => {
        const r = await admin.query(
          'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1',
          [app],
        );
        return r.rows[0].n as number;
      };
      await sleep(1200);
      const first = await terminate();
      await sleep(800);
      const second = await terminate();
      await sleep(1500);
      assert.ok(first + second > 0, 'the test must actually have cut connections');
      await scheduler.shutdown({ wait: true, timeout: 5000 });

      const check = new PostgresStore({ connectionString: PG }, { schema, listen: false });
      await check.start({ nodeId: 'check', now: () => Date.now() });
      const runs = (await check.getRuns({ jobId: 'beat', limit: 1000 })).filter((r) => !r.manual);
      await check.stop();
      const times = runs.map((r) => r.scheduledFireTime.getTime()).sort((a, b) => a - b);
      assert.ok(times.length >= 12, `expected at least 12 fire times in 3.5 s, got ${times.length}`);
      // No gaps and no doubles: consecutive fire times are exactly one interval apart.
      for (let i = 1; i < times.length; i++) assert.equal(times[i]! - times[i - 1]!, 200, `gap at ${i}`);
      // Each run was executed once, and recorded as succeeded (no pending or running run was left behind
      // once the scheduler shut down waiting for its runs).
      assert.equal(new Set(executed).size, executed.length, 'no fire time executed twice');
      const byStatus = new Map<string, number>();
      for (const r of runs) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
      const unfinished = (byStatus.get('pending') ?? 0) + (byStatus.get('running') ?? 0);
      assert.equal(byStatus.get('succeeded'), runs.length - unfinished, JSON.stringify([...byStatus]));
      // Runs created just before the shutdown may still be pending (another process would take them).
      assert.ok(unfinished <= 2, JSON.stringify([...byStatus]));
      assert.ok(executed.length >= times.length - 2);
    } finally {
      if (scheduler.state !== 'stopped') await scheduler.shutdown({ wait: false });
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    }
  },
);

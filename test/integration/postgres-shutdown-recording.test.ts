// A graceful shutdown waits for the outcomes of runs that have ended but are not recorded yet. A run leaves
// the running set when its task returns, and its outcome then waits for the group being recorded (group
// commit): shutdown({ wait: true }) waited only for the runs still running, then closed the store, so the
// outcomes still queued failed ("the store is not started") and their runs stayed `running` in the store,
// to be reaped as abandoned by another process (and run again when the job has a retry policy). After a
// burst of due jobs, thousands of outcomes may be queued. Real time (the database decides what is due).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { Scheduler } from '../../src/index.js';
import { PostgresStore, quoteIdent } from '../../src/stores/postgres/index.js';
import { captureLogger } from '../helpers/logger.js';

const PG = process.env.TICKWORK_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('shutdown({ wait: true }) records the outcome of a run that ended while an earlier group of outcomes was being recorded', async () => {
  const schema = `tw_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const s = quoteIdent(schema);
  const admin = new pg.Client({ connectionString: PG });
  const store = new PostgresStore({ connectionString: PG }, { schema, listen: false });
  const logger = captureLogger();
  const scheduler = new Scheduler({ store, logger });
  const gates = new Map<string, () => void>();
  const started = new Set<string>();
  scheduler.defineTask('gated', async (ctx: { jobId: string }) => {
    started.add(ctx.jobId);
    await new Promise<void>((resolve) => gates.set(ctx.jobId, resolve));
  });
  const until = async (what: string, check: () => boolean | Promise<boolean>) => {
    for (let i = 0; i < 500; i++) {
      if (await check()) return;
      await sleep(10);
    }
    assert.fail(`timed out waiting for ${what}`);
  };
  try {
    await admin.connect();
    await scheduler.start();
    for (const id of ['a', 'b']) await scheduler.addJob('gated', 'interval', { id, hours: 1, paused: true });
    const runA = await scheduler.runJob('a');
    const runB = await scheduler.runJob('b');
    await until('both runs to start', () => started.has('a') && started.has('b'));
    // Another session holds a's row: the group recording a's outcome waits for it.
    await admin.query('BEGIN');
    await admin.query(`SELECT 1 FROM ${s}.runs WHERE id = $1 FOR UPDATE`, [runA.id]);
    gates.get('a')!();
    await until('the outcome of a to wait for the lock', async () => {
      const r = await admin.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`,
      );
      return r.rows[0]!.n > 0;
    });
    // b ends now: its outcome waits for the next group.
    gates.get('b')!();
    await sleep(50);
    const stopping = scheduler.shutdown({ wait: true, timeout: 10_000 });
    await sleep(300);
    await admin.query('ROLLBACK');
    await stopping;
    const stored = await admin.query<{ id: string; status: string }>(
      `SELECT id::text AS id, status FROM ${s}.runs WHERE id = ANY($1::uuid[]) ORDER BY job_id`,
      [[runA.id, runB.id]],
    );
    assert.deepEqual(
      stored.rows.map((r) => r.status),
      ['succeeded', 'succeeded'],
      'both outcomes recorded before the store closed',
    );
    assert.deepEqual(
      logger.messages('error').filter((m) => m.includes('Could not record')),
      [],
    );
  } finally {
    await admin.query('ROLLBACK').catch(() => {});
    await scheduler.shutdown({ wait: false }).catch(() => {});
    await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
    await admin.end();
  }
});

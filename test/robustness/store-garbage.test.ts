// Breaker: a job row whose trigger JSON parses but yields a fire time outside the Date range (an interval of
// 1e300 ms, which IntervalTrigger accepts) is not quarantined by the planner. PostgreSQL: every firing
// transaction then fails with "timestamp cannot be NaN" and no job of the store fires any more. SQLite: the
// bad job silently gets next_run_time NULL while staying unpaused (never fires again, never reported).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Scheduler, silentLogger } from '../../src/index.js';
import { PostgresStore } from '../../src/stores/postgres/index.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';
import { ManualClock } from '../../src/testing.js';
import { PG_URL, adminOrSkip, testSchema } from '../cluster/helpers.js';

const HUGE = '{"type":"interval","version":1,"milliseconds":1e300}';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('postgres: one job row with an out-of-range trigger does not stop the other jobs, and is quarantined', async (t) => {
  const admin = await adminOrSkip(t);
  if (!admin) return;
  const schema = testSchema();
  try {
    let good = 0;
    const make = () => {
      const s = new Scheduler({
        store: new PostgresStore({ connectionString: PG_URL, schema }),
        logger: silentLogger,
      });
      s.defineTask('good', async () => void good++);
      s.defineTask('badtask', async () => {});
      return s;
    };
    let s = make();
    await s.start();
    await s.addJob('good', 'interval', { seconds: 1, id: 'good' });
    await s.addJob('badtask', 'interval', { seconds: 1, id: 'bad' });
    await sleep(1200);
    await s.shutdown();
    await admin.query(`UPDATE "${schema}".jobs SET trigger = $1 WHERE id = 'bad'`, [HUGE]);
    s = make();
    const quarantined: string[] = [];
    s.on('job:quarantined', (e) => void quarantined.push(e.jobId));
    good = 0;
    await s.start();
    await sleep(4500);
    const bad = await s.getJob('bad');
    await s.shutdown();
    assert.ok(good >= 3, `the good job ran ${good} times in 4.5 s`);
    assert.ok(bad !== null, 'the bad job is kept');
    assert.ok(bad.paused || quarantined.includes('bad'), 'the bad job is paused/reported');
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
});

test('sqlite: a job row with an out-of-range trigger is quarantined (paused and reported), not left dead', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tickwork-garbage-'));
  const file = join(dir, 'jobs.db');
  try {
    const clock = new ManualClock('2024-01-01T00:00:00Z');
    const make = () => {
      const s = new Scheduler({
        clock,
        store: new SqliteStore({ path: file, changePollInterval: 0 }),
        logger: silentLogger,
      });
      s.defineTask('good', async () => {});
      s.defineTask('badtask', async () => {});
      return s;
    };
    let s = make();
    await s.addJob('good', 'interval', { seconds: 1, id: 'good' });
    await s.addJob('badtask', 'interval', { seconds: 1, id: 'bad' });
    await s.start();
    await clock.advance(1000);
    await s.shutdown();
    const db = new Database(file);
    db.prepare(`UPDATE jobs SET trigger = ? WHERE id = 'bad'`).run(HUGE);
    db.close();
    s = make();
    const quarantined: string[] = [];
    s.on('job:quarantined', (e) => void quarantined.push(e.jobId));
    await s.start();
    await clock.advance(3000);
    const bad = await s.getJob('bad');
    await s.shutdown();
    assert.ok(bad !== null, 'the bad job is kept');
    assert.ok(
      bad.paused && quarantined.includes('bad'),
      `bad job: paused=${bad.paused}, reported=${quarantined}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

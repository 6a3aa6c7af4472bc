// Schedulers under a manual clock: a start that fails, a step of the wall clock, a process without a task.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import {
  MemoryStore,
  Scheduler,
  TickworkError,
  isTickworkError,
  silentLogger,
  type ConflictPolicy,
  type JobRecord,
} from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';
import { captureLogger } from '../helpers/logger.js';
import { onSqlite } from '../helpers/sqlite.js';

test('a start() that fails while storing the queued jobs has fired and run nothing', async () => {
  await onSqlite(async ({ clock, scheduler, path }) => {
    const ran: string[] = [];
    scheduler.defineTask('work', (id: string) => void ran.push(id));
    await scheduler.start();
    await scheduler.addJob('work', 'interval', { id: 'x', args: ['x'], seconds: 10 });
    await scheduler.addJob('work', 'interval', { id: 'a', args: ['a'], seconds: 10 });
    await scheduler.shutdown();
    await clock.advance(60_000); // x and a are due
    const next = new Scheduler({ clock, store: new SqliteStore({ path }), logger: silentLogger });
    next.defineTask('work', (id: string) => void ran.push(id));
    void next.addJob('work', 'interval', { id: 'b', args: ['b'], seconds: 10 }).catch(() => {});
    // `a` exists: without replaceExisting, storing it fails, and so does start().
    void next.addJob('work', 'interval', { id: 'a', args: ['a'], seconds: 10 }).catch(() => {});
    await assert.rejects(next.start(), (err: unknown) => isTickworkError(err, 'JOB_CONFLICT'));
    await clock.advance(1000);
    assert.deepEqual(ran, []);
    const db = new Database(path, { readonly: true });
    const runs = db.prepare('SELECT job_id, status FROM runs').all();
    db.close();
    assert.deepEqual(runs, [], 'no run was created');
  });
});

test('SQLite, two processes: a wall-clock step longer than the lease does not let the other process take a run still going', async () => {
  await onSqlite(async ({ clock, path }) => {
    const make = (nodeId: string) =>
      new Scheduler({ clock, store: new SqliteStore({ path }), logger: silentLogger, nodeId });
    const a = make('A');
    const b = make('B');
    const log: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    for (const [name, s] of [
      ['A', a],
      ['B', b],
    ] as const) {
      s.defineTask('long', async (ctx: { attempt: number }) => {
        log.push(`${name} runs attempt ${ctx.attempt}`);
        await gate;
      });
      s.on('job:abandoned', () => log.push(`${name} abandoned a run`));
    }
    await a.start();
    await a.addJob('long', 'date', { id: 'j', runDate: new Date(clock.now() + 5000), retry: 3 });
    await clock.advance(5000); // A starts the run (lease 30 s, renewed every 10 s)
    await b.start();
    await clock.advance(1000);
    clock.jump(120_000); // NTP steps the wall clock of the host 2 minutes forward
    for (let i = 0; i < 30; i++) await clock.advance(1000);
    assert.deepEqual(log, ['A runs attempt 1'], 'B neither abandoned nor re-ran the run A is running');
    release();
    await clock.advance(1000);
    await a.shutdown();
    await b.shutdown();
  });
});

test('a process without the task of a job says why its fire times are skipped: the runs wait for a process that has it', async () => {
  await onSqlite(async ({ clock, scheduler, path }) => {
    scheduler.defineTask('hello', () => {});
    await scheduler.start();
    await scheduler.addJob('hello', 'interval', { id: 'h', seconds: 10 });
    await scheduler.shutdown();
    const logger = captureLogger();
    const other = new Scheduler({ clock, store: new SqliteStore({ path }), logger }); // defines no task
    await other.start();
    await clock.advance(25_000);
    const skipped = logger.lines.filter((l) =>
      l.msg.includes('skipped: maximum number of running instances'),
    );
    assert.ok(skipped.length >= 1, logger.lines.map((l) => l.msg).join('\n'));
    for (const l of skipped)
      assert.match(
        l.msg,
        /\(task "hello" is not defined in this process: its runs wait for a process that defines it\)$/,
      );
    await other.shutdown();
  });
});

test('a resume() during start() fires nothing before the start completes; a store failure leaves the job queued for the next start()', async () => {
  const clock = new ManualClock('2024-01-01T00:00:00Z');
  let failOnce = true;
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  class Flaky extends MemoryStore {
    override async addJob(job: JobRecord, conflict: ConflictPolicy) {
      if (job.id === 'x' && failOnce) {
        failOnce = false;
        await held;
        throw new TickworkError('STORE_ERROR', 'the store went away');
      }
      return super.addJob(job, conflict);
    }
  }
  const scheduler = new Scheduler({ clock, store: new Flaky(), logger: silentLogger });
  const ran: string[] = [];
  scheduler.defineTask('t', (id: string) => void ran.push(id));
  await scheduler.addJob('t', 'interval', {
    id: 'w',
    args: ['w'],
    seconds: 10,
    nextRunTime: new Date(clock.now()),
  });
  await scheduler.addJob('t', 'interval', { id: 'x', args: ['x'], seconds: 10 });
  const starting = scheduler.start({ paused: true });
  await clock.advance(0);
  scheduler.resume(); // while start() waits for the store
  await clock.advance(100);
  release();
  await assert.rejects(starting, (err: unknown) => isTickworkError(err, 'STORE_ERROR'));
  await clock.advance(1000);
  assert.deepEqual(ran, [], 'nothing ran');
  await scheduler.start();
  assert.deepEqual(
    (await scheduler.getJobs()).map((j) => j.id),
    ['w', 'x'],
    'the job the failed start was storing was stored by the next one',
  );
  await clock.advance(1000);
  assert.deepEqual(ran, ['w']);
  await scheduler.shutdown();
});

// Breaker: bad arguments to the read and job-control methods (getJob, getJobs, getRun, getRuns, pauseJob,
// resumeJob, removeJob, runJob, modifyJob, rescheduleJob) reached the store: PostgreSQL answered STORE_ERROR
// (SQLSTATE 22P02, 2201W, 22007, 22021), SQLite accepted `limit: -1`, others leaked a raw TypeError. A
// BigInt `timezone` in addJob's shorthand threw `TypeError: Do not know how to serialize a BigInt`. Each must
// be refused with a TickworkError naming the field, before any store call, on every store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore, Scheduler, TickworkError, type Store } from '../../src/index.js';
import { PostgresStore } from '../../src/stores/postgres/index.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';
import { ManualClock } from '../../src/testing.js';
import { PG_URL, adminOrSkip, testSchema } from '../cluster/helpers.js';
import { captureLogger } from '../helpers/logger.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Asserts `call` throws or rejects with a TickworkError of `code` whose `details.field` is `field`. */
async function refused(call: () => unknown, field: string, code = 'INVALID_OPTION'): Promise<void> {
  await assert.rejects(
    async () => call(),
    (err: unknown) => {
      assert.ok(err instanceof TickworkError, `expected a TickworkError, got ${String(err)}`);
      assert.equal(err.code, code, err.message);
      assert.equal(err.details.field, field, err.message);
      return true;
    },
    `field ${field}`,
  );
}

// Casts for arguments the types forbid (the point of the test).
const any = (v: unknown) => v as never;

/** Store methods the bad calls would reach; counted to show they are refused before the store. */
const STORE_METHODS = [
  'getJob',
  'getJobs',
  'getRun',
  'getRuns',
  'updateJob',
  'removeJob',
  'createManualRun',
  'addJob',
] as const;

function countStoreCalls(store: Store): string[] {
  const calls: string[] = [];
  const s = store as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of STORE_METHODS) {
    const orig = s[name]!.bind(store);
    s[name] = (...args: unknown[]) => {
      calls.push(name);
      return orig(...args);
    };
  }
  return calls;
}

interface Backend {
  name: string;
  store: Store;
  clock?: ManualClock;
}

async function exercise(backend: Backend): Promise<void> {
  const logger = captureLogger();
  const scheduler = new Scheduler({
    store: backend.store,
    logger,
    ...(backend.clock ? { clock: backend.clock } : {}),
  });
  let runs = 0;
  scheduler.defineTask('good', async () => {
    runs++;
  });
  await scheduler.start();
  try {
    await scheduler.addJob('good', 'interval', { seconds: 1, id: 'good' });
    const calls = countStoreCalls(backend.store);

    // getRuns: every field of RunFilter.
    await refused(() => scheduler.getRuns(any('x')), 'filter');
    await refused(() => scheduler.getRuns({ limit: -1 }), 'limit');
    await refused(() => scheduler.getRuns({ limit: 1.5 }), 'limit');
    await refused(() => scheduler.getRuns({ limit: any('x') }), 'limit');
    await refused(() => scheduler.getRuns({ limit: Number.POSITIVE_INFINITY }), 'limit');
    await refused(() => scheduler.getRuns({ offset: -1 }), 'offset');
    await refused(() => scheduler.getRuns({ offset: any('2') }), 'offset');
    await refused(() => scheduler.getRuns({ from: any('2024-01-01') }), 'from');
    await refused(() => scheduler.getRuns({ from: any(0) }), 'from');
    await refused(() => scheduler.getRuns({ from: new Date(Number.NaN) }), 'from');
    await refused(() => scheduler.getRuns({ to: any('2024-01-01T00:00:00Z') }), 'to');
    await refused(() => scheduler.getRuns({ to: new Date('nope') }), 'to');
    await refused(() => scheduler.getRuns({ to: any({}) }), 'to');
    await refused(() => scheduler.getRuns({ status: any('done') }), 'status');
    await refused(() => scheduler.getRuns({ status: any(3) }), 'status');
    await refused(() => scheduler.getRuns({ status: any(['failed', 'nope']) }), 'status[1]');
    await refused(() => scheduler.getRuns({ jobId: 'a\u0000b' }), 'jobId');
    await refused(() => scheduler.getRuns({ jobId: '\uD800' }), 'jobId');
    await refused(() => scheduler.getRuns({ jobId: '' }), 'jobId');
    await refused(() => scheduler.getRuns({ jobId: any(5) }), 'jobId');

    // getJobs: ids must be an array of ids; the other fields.
    await refused(() => scheduler.getJobs({ ids: any('x') }), 'ids');
    await refused(() => scheduler.getJobs({ ids: any(10n) }), 'ids');
    await refused(() => scheduler.getJobs({ ids: ['good', 'a\u0000b'] }), 'ids[1]');
    await refused(() => scheduler.getJobs({ ids: any([1]) }), 'ids[0]');
    await refused(() => scheduler.getJobs({ taskId: any(1) }), 'taskId');
    await refused(() => scheduler.getJobs({ afterId: 'a\u0000' }), 'afterId');
    await refused(() => scheduler.getJobs({ paused: any('yes') }), 'paused');
    await refused(() => scheduler.getJobs({ limit: -1 }), 'limit');
    await refused(() => scheduler.getJobs({ sort: any('size') }), 'sort');

    // Ids: checked as addJob checks them.
    await refused(() => scheduler.getJob('a\u0000b'), 'id');
    await refused(() => scheduler.getJob(any({})), 'id');
    await refused(() => scheduler.getJob(''), 'id');
    await refused(() => scheduler.getJob('..'), 'id');
    await refused(() => scheduler.getRun(any({})), 'id');
    await refused(() => scheduler.getRun('a\u0000b'), 'id');
    await refused(() => scheduler.pauseJob(any({})), 'id');
    await refused(() => scheduler.resumeJob(any({})), 'id');
    await refused(() => scheduler.removeJob(any(Symbol())), 'id');
    await refused(() => scheduler.runJob(any({})), 'id');
    await refused(() => scheduler.runJob('\uDC00x'), 'id');
    await refused(() => scheduler.modifyJob(any(5), { name: 'x' }), 'id');
    await refused(() => scheduler.rescheduleJob(any(5), 'interval', { seconds: 2 }), 'id');

    // A BigInt (or any non-string) timezone: INVALID_TIMEZONE, as for a number, not a TypeError.
    await refused(
      () => scheduler.addJob('good', 'interval', any({ seconds: 1, timezone: 10n })),
      'timezone',
      'INVALID_TIMEZONE',
    );
    await refused(
      () => scheduler.addJob('good', 'cron', any({ minute: '*', timezone: 10n })),
      'timezone',
      'INVALID_TIMEZONE',
    );
    await refused(
      () => scheduler.rescheduleJob('good', 'interval', { seconds: 2, timezone: any(10n) }),
      'timezone',
      'INVALID_TIMEZONE',
    );

    assert.deepEqual(calls, [], `store methods reached by bad calls (${backend.name})`);
    assert.deepEqual(logger.messages('error'), []);

    // Valid input behaves as before, alike on every store.
    assert.deepEqual(await scheduler.getJobs({ ids: [] }), []);
    assert.deepEqual(
      (await scheduler.getJobs({ ids: ['good', 'missing'], paused: false, afterId: 'a' })).map((j) => j.id),
      ['good'],
    );
    assert.deepEqual(await scheduler.getRuns({ status: [] }), []);
    assert.deepEqual(await scheduler.getRuns({ limit: 0 }), []);
    // The whole Date range is a valid bound (PostgreSQL refused times before 4714 BC with STORE_ERROR).
    assert.deepEqual(await scheduler.getRuns({ to: new Date(-8.64e15) }), []);
    assert.deepEqual(await scheduler.getRuns({ from: new Date(8.64e15) }), []);
    assert.equal(await scheduler.getJob('missing'), null);
    assert.equal(await scheduler.getRun('missing'), null);

    // The scheduler still runs the job.
    if (backend.clock) await backend.clock.advance(3000);
    else await sleep(2500);
    assert.ok(runs >= 2, `the job ran ${runs} times (${backend.name})`);
    const manual = await scheduler.runJob('good');
    if (backend.clock) await backend.clock.advance(10);
    else await sleep(300);
    const [run] = await scheduler.getRuns({
      jobId: 'good',
      status: ['succeeded'],
      from: new Date(-8.64e15),
      to: new Date(8.64e15),
      limit: 1,
    });
    assert.ok(run, 'a succeeded run is listed');
    assert.equal((await scheduler.getRun(manual.id))?.status, 'succeeded');
    assert.deepEqual(logger.messages('error'), []);
  } finally {
    await scheduler.shutdown();
  }
}

test('memory store: bad read and job-control arguments are INVALID_OPTION naming the field', async () => {
  await exercise({
    name: 'memory',
    store: new MemoryStore(),
    clock: new ManualClock('2024-01-01T00:00:00Z'),
  });
});

test('sqlite store: bad read and job-control arguments are INVALID_OPTION naming the field', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tickwork-read-input-'));
  try {
    await exercise({
      name: 'sqlite',
      store: new SqliteStore({ path: join(dir, 'jobs.db'), changePollInterval: 0 }),
      clock: new ManualClock('2024-01-01T00:00:00Z'),
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('postgres store: bad read and job-control arguments are INVALID_OPTION, not STORE_ERROR', async (t) => {
  const admin = await adminOrSkip(t);
  if (!admin) return;
  const schema = testSchema();
  try {
    await exercise({ name: 'postgres', store: new PostgresStore({ connectionString: PG_URL, schema }) });
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
});

test('before start: bad ids and filters are refused first, and a BigInt scheduler timezone too', async () => {
  const scheduler = new Scheduler({ clock: new ManualClock(0), logger: captureLogger() });
  await refused(() => scheduler.getRun(any(1)), 'id');
  await refused(() => scheduler.getRuns({ limit: -1 }), 'limit');
  await refused(() => scheduler.getJob(any(null)), 'id');
  await refused(() => scheduler.removeJob('a\u007fb'), 'id');
  await refused(() => new Scheduler({ timezone: any(10n) }), 'timezone', 'INVALID_TIMEZONE');
});

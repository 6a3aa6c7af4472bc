// Exactly-once firing under contention: four store instances with their own connections fire the same due
// jobs at once. Every (job, fire time) must be planned once and stored once: no duplicates, no gaps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import { PostgresStore } from '../../src/stores/postgres/index.js';
import { RedisStore } from '../../src/stores/redis/index.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';
import type { FirePlanner, FireResult, Store } from '../../src/stores/store.js';
import { job } from './store-contract.js';
import {
  PG_URL,
  REDIS_URL,
  deletePrefix,
  dropSchema,
  startContext,
  tempDbFile,
  testPrefix,
  testSchema,
} from './harness.js';

const JOBS = 100;
const TSX_API = import.meta.resolve('tsx/esm/api');
const SECOND = 1000;

/** Every job's stored runs, in fire-time order, as `id@time`. */
async function runsByJob(store: Store): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (let offset = 0; ; offset += 1000) {
    const page = await store.getRuns({ limit: 1000, offset });
    for (const r of page) {
      const list = out.get(r.jobId) ?? [];
      list.push(r.scheduledFireTime.getTime());
      out.set(r.jobId, list);
    }
    if (page.length < 1000) break;
  }
  for (const list of out.values()) list.sort((a, b) => a - b);
  return out;
}

function countDuplicates(list: string[]): number {
  return list.length - new Set(list).size;
}

/** Adds the runs a firing call created to `into`, as `jobId@time`. */
function collectRuns(result: FireResult, into: string[]): void {
  for (const f of result.fired)
    for (const run of f.runs) into.push(`${run.jobId}@${run.scheduledFireTime.getTime()}`);
}

/** Fires with `store` until nothing is due, collecting the runs created. */
async function fireAll(store: Store, limit: number, planner: FirePlanner, into: string[]): Promise<void> {
  for (;;) {
    const r = await store.fireDueJobs(new Date(), limit, planner);
    collectRuns(r, into);
    if (r.fired.length === 0 && !r.more) break;
  }
}

test('SQLite: 4 connections in 4 threads fire 100 jobs x 21 fire times exactly once', async () => {
  const { dir, file } = tempDbFile();
  const base = Math.floor(Date.now() / SECOND) * SECOND - 60 * SECOND;
  const now = base + 20 * SECOND; // fire times base, base+1s, ..., base+20s are due: 21 per job
  const setup = new SqliteStore({ path: file });
  try {
    await setup.start(startContext);
    for (let i = 0; i < JOBS; i++)
      await setup.addJob(job(`job-${String(i).padStart(3, '0')}`, { nextRunTime: new Date(base) }), 'error');
    // Workers do not inherit tsx's loader on Node 20: load the TypeScript worker through tsx's API.
    const url = new URL('./sqlite-fire-worker.ts', import.meta.url).href;
    const workers = [0, 1, 2, 3].map(
      () =>
        new Worker(
          `import(${JSON.stringify(TSX_API)}).then((m) => m.tsImport(${JSON.stringify(url)}, ${JSON.stringify(url)}))`,
          { eval: true, workerData: { file, now, limit: 7 } },
        ),
    );
    const message = (w: Worker) =>
      new Promise<unknown>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
    // Each opens its connection first; then all start firing at once (a worker that loads faster than the
    // others must not find the work done before they begin).
    await Promise.all(workers.map(message));
    const done = workers.map(message) as Promise<{ planned: string[]; inserted: string[] }>[];
    for (const w of workers) w.postMessage('go');
    const results = await Promise.all(done);
    const planned = results.flatMap((r) => r.planned);
    const inserted = results.flatMap((r) => r.inserted);
    assert.equal(countDuplicates(planned), 0, 'no fire time planned twice');
    assert.equal(planned.length, JOBS * 21);
    assert.equal(inserted.length, JOBS * 21);
    assert.ok(results.filter((r) => r.planned.length > 0).length >= 2, 'the work was shared');
    const stored = await runsByJob(setup);
    const expected = Array.from({ length: 21 }, (_, i) => base + i * SECOND);
    assert.equal(stored.size, JOBS);
    for (const [id, times] of stored) assert.deepEqual(times, expected, id);
    for (const j of await setup.getJobs()) assert.equal(j.nextRunTime?.getTime(), base + 21 * SECOND);
  } finally {
    await setup.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Fires with every store side by side, in batches of `batch`, until nothing is due (each planned fire time
 * one pending run, the next a second later), then checks: no fire time planned twice, every planned one
 * stored, and each of the `count` jobs (runs read through `runsFrom`, jobs through `jobsFrom`) holding every
 * fire time from `base` to its current one, at least `minDue` of them, and caught up.
 */
async function fireSideBySide(
  stores: Store[],
  batch: number,
  o: { base: number; count: number; minDue: number; runsFrom: Store; jobsFrom: Store },
): Promise<void> {
  const planned: string[] = [];
  const inserted: string[] = [];
  const planner: FirePlanner = (j) => {
    const t = j.nextRunTime!;
    planned.push(`${j.id}@${t.getTime()}`);
    return {
      runs: [{ scheduledFireTime: t, status: 'pending', notBefore: t }],
      nextRunTime: new Date(t.getTime() + SECOND),
      remove: false,
    };
  };
  let lastNow = 0;
  await Promise.all(
    stores.map(async (s) => {
      for (;;) {
        const r = await s.fireDueJobs(new Date(), batch, planner);
        lastNow = Math.max(lastNow, r.now.getTime());
        collectRuns(r, inserted);
        if (r.fired.length === 0 && !r.more) break;
      }
    }),
  );
  assert.equal(countDuplicates(planned), 0, 'no fire time planned twice');
  assert.deepEqual([...inserted].sort(), [...planned].sort(), 'every planned fire time was stored');
  const stored = await runsByJob(o.runsFrom);
  assert.equal(stored.size, o.count);
  const jobs = new Map((await o.jobsFrom.getJobs()).map((j) => [j.id, j]));
  for (const [id, times] of stored) {
    const next = jobs.get(id)!.nextRunTime!.getTime();
    const expected = Array.from({ length: (next - o.base) / SECOND }, (_, i) => o.base + i * SECOND);
    assert.deepEqual(times, expected, `${id}: every fire time from the first to the current one, no gaps`);
    assert.ok(times.length >= o.minDue, `${id}: at least the ${o.minDue} fire times due at the start`);
    assert.ok(next > lastNow - 2 * SECOND, `${id}: caught up`);
  }
}

test('PostgreSQL: 4 stores with their own pools fire 100 jobs concurrently, each fire time exactly once', async () => {
  const schema = testSchema();
  const stores = [0, 1, 2, 3].map(
    () => new PostgresStore({ connectionString: PG_URL }, { schema, poolSize: 2, listen: false }),
  );
  try {
    for (const s of stores) await s.start(startContext);
    const base = Math.floor(Date.now() / SECOND) * SECOND - 20 * SECOND;
    for (let i = 0; i < JOBS; i++)
      await stores[0]!.addJob(
        job(`job-${String(i).padStart(3, '0')}`, { nextRunTime: new Date(base) }),
        'error',
      );
    await fireSideBySide(stores, 7, {
      base,
      count: JOBS,
      minDue: 21,
      runsFrom: stores[0]!,
      jobsFrom: stores[0]!,
    });
  } finally {
    for (const s of stores) await s.stop();
    await dropSchema(schema);
  }
});

/** A planner firing each job's due time once, recording what it planned, next fire time a second later. */
function recordingPlanner(planned: string[]): FirePlanner {
  return (j) => {
    const t = j.nextRunTime!;
    planned.push(`${j.id}@${t.getTime()}`);
    return {
      runs: [{ scheduledFireTime: t, status: 'pending', notBefore: t }],
      nextRunTime: new Date(t.getTime() + 3600 * SECOND),
      remove: false,
    };
  };
}

/** Adds `n` jobs due a minute ago; resolves to that fire time. */
async function addDueJobs(store: Store, n: number): Promise<number> {
  const base = Math.floor(Date.now() / SECOND) * SECOND - 60 * SECOND;
  for (let i = 0; i < n; i++)
    await store.addJob(job(`job-${String(i).padStart(3, '0')}`, { nextRunTime: new Date(base) }), 'error');
  return base;
}

test('PostgreSQL fireConcurrency: one call divides its claim among transactions side by side; two stores so divided fire each job once', async () => {
  const schema = testSchema();
  const pool = new pg.Pool({ connectionString: PG_URL, max: 8 });
  // Connections checked out at once, as the pool reports them.
  let inUse = 0;
  let maxInUse = 0;
  pool.on('acquire', () => (maxInUse = Math.max(maxInUse, ++inUse)));
  pool.on('release', () => inUse--);
  const a = new PostgresStore({ pool }, { schema, listen: false, fireConcurrency: 3 });
  const b = new PostgresStore({ connectionString: PG_URL }, { schema, listen: false, fireConcurrency: 2 });
  try {
    // The scheduler's default claim (its batchSize): 1,000 jobs per transaction, as many as fireConcurrency.
    assert.equal(a.fireBatchSize, 3000);
    assert.equal(b.fireBatchSize, 2000);
    assert.equal(
      new PostgresStore({ pool }, { listen: false }).fireBatchSize,
      2000,
      'the default fireConcurrency 2',
    );
    // No more transactions than the pool has connections: its size caps the claim.
    assert.equal(new PostgresStore({ pool }, { fireConcurrency: 16 }).fireBatchSize, 8000, 'a pool of 8');
    assert.equal(new PostgresStore({ connectionString: PG_URL }, { fireConcurrency: 8 }).fireBatchSize, 4000);
    assert.equal(new PostgresStore({ connectionString: PG_URL }, { poolSize: 1 }).fireBatchSize, 1000);
    await a.start(startContext);
    await b.start(startContext);
    const base = await addDueJobs(a, 400);
    const planned: string[] = [];
    const planner = recordingPlanner(planned);
    // Below 2 shares of 64 jobs a claim is not divided: one transaction, one connection.
    maxInUse = 0;
    const small = await a.fireDueJobs(new Date(), 127, planner);
    assert.equal(small.fired.length, 127);
    assert.equal(small.more, true);
    assert.equal(maxInUse, 1, 'a claim of 127 is one transaction');
    // 200 = 3 shares (68 + 66 + 66) on three connections at once; `b` fires the rest alongside. The pool
    // holds 3 idle connections first: a share that had to wait for a new connection could start after
    // another share had finished, and the three would not be seen open at once.
    const warm = await Promise.all([pool.connect(), pool.connect(), pool.connect()]);
    for (const c of warm) c.release();
    maxInUse = 0;
    const inserted: string[] = [];
    const [big] = await Promise.all([
      a.fireDueJobs(new Date(), 200, planner),
      fireAll(b, 128, planner, inserted),
    ]);
    assert.equal(maxInUse, 3, 'three transactions were open at once');
    assert.ok(big.fired.length > 0 && big.fired.length <= 200);
    collectRuns(small, inserted);
    collectRuns(big, inserted);
    // Whatever is left (b may finish first) fires now.
    await fireAll(a, 200, planner, inserted);
    assert.equal(countDuplicates(planned), 0, 'no job planned twice');
    assert.equal(planned.length, 400);
    assert.deepEqual([...inserted].sort(), [...planned].sort(), 'every planned fire time was stored once');
    const stored = await runsByJob(a);
    assert.equal(stored.size, 400);
    for (const [id, times] of stored) assert.deepEqual(times, [base], id);
    for (const j of await a.getJobs({ limit: 1000 }))
      assert.equal(j.nextRunTime?.getTime(), base + 3600 * SECOND);
  } finally {
    await a.stop();
    await b.stop();
    await pool.end();
    await dropSchema(schema);
  }
});

/**
 * Runs `fn` with a started store (`fireConcurrency`) on a caller-owned pool of `max` connections in a new
 * schema; stops the store, ends the pool and drops the schema afterwards.
 */
async function withPooledStore(
  max: number,
  fireConcurrency: number,
  fn: (store: PostgresStore, pool: pg.Pool) => Promise<void>,
): Promise<void> {
  const schema = testSchema();
  const pool = new pg.Pool({ connectionString: PG_URL, max });
  const store = new PostgresStore({ pool }, { schema, listen: false, fireConcurrency });
  try {
    await store.start(startContext);
    await fn(store, pool);
  } finally {
    await store.stop();
    await pool.end();
    await dropSchema(schema);
  }
}

test("PostgreSQL fireConcurrency: when one of the transactions fails, the others' fires are returned (more: true) and nothing is lost or doubled", async () => {
  await withPooledStore(4, 2, async (store, pool) => {
    const connect = pool.connect.bind(pool);
    let failures = 0;
    // The pool refuses the next `failures` checkouts (promise form, as the store checks out), as a pool whose
    // server refuses connections does. `pool.query` checks out with a callback: left as it is.
    (pool as { connect: unknown }).connect = (callback?: unknown) =>
      callback !== undefined
        ? (connect as (cb: unknown) => void)(callback)
        : failures > 0
          ? (failures--, Promise.reject(new Error('connection refused')))
          : connect();
    const base = await addDueJobs(store, 200);
    const planned: string[] = [];
    const planner = recordingPlanner(planned);
    failures = 1;
    const partial = await store.fireDueJobs(new Date(), 200, planner);
    assert.equal(partial.fired.length, 100, 'the share whose transaction ran');
    assert.equal(partial.more, true, 'the caller is told to call again');
    assert.equal((partial.error as { code?: string } | undefined)?.code, 'STORE_ERROR', 'and of the failure');
    failures = 2;
    await assert.rejects(store.fireDueJobs(new Date(), 200, planner), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'STORE_ERROR');
      return true;
    });
    const rest = await store.fireDueJobs(new Date(), 200, planner);
    assert.equal(rest.fired.length, 100);
    assert.equal(countDuplicates(planned), 0);
    const stored = await runsByJob(store);
    assert.equal(stored.size, 200, 'every job fired');
    for (const [id, times] of stored) assert.deepEqual(times, [base], `${id}: once`);
  });
});

test('PostgreSQL fireConcurrency: a claim is divided only among connections the pool can hand out without waiting', async () => {
  await withPooledStore(1, 2, async (store, pool) => {
    await addDueJobs(store, 300);
    // One connection (open and idle now), and a checkout that waits is refused after 1 ms: a second share
    // would fail.
    pool.options.connectionTimeoutMillis = 1;
    const planned: string[] = [];
    const r = await store.fireDueJobs(new Date(), 256, recordingPlanner(planned));
    assert.equal(r.error, undefined);
    assert.equal(r.fired.length, 256, 'one transaction fired the whole claim');
    assert.equal(r.more, true);
  });
});

test('Redis: 4 stores with their own connections fire 2,000 due jobs side by side, each fire time exactly once', async () => {
  const prefix = testPrefix();
  const stores = [0, 1, 2, 3].map(() => new RedisStore({ url: REDIS_URL }, { prefix, listen: false }));
  const N = 2000;
  try {
    for (const s of stores) await s.start(startContext);
    const base = Math.floor(Date.now() / SECOND) * SECOND - 5 * SECOND;
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = w; i < N; i += 8)
          await stores[0]!.addJob(
            job(`job-${String(i).padStart(4, '0')}`, { nextRunTime: new Date(base) }),
            'error',
          );
      }),
    );
    assert.equal(await stores[0]!.countJobs(), N);
    await fireSideBySide(stores, 50, {
      base,
      count: N,
      minDue: 6,
      runsFrom: stores[1]!,
      jobsFrom: stores[2]!,
    });
  } finally {
    for (const s of stores) await s.stop();
    await deletePrefix(prefix);
  }
});

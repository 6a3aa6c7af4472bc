/**
 * Job listing at scale: a page of `getJobs` (51 jobs, what `GET /jobs` asks for a page of 50) in each order
 * and filter the dashboard offers, on each store holding 100,000 jobs, with BullMQ's listing of its job
 * schedulers (sorted by next run time) in the same run.
 *
 *   npm run bench:listing        (node --import tsx bench/listing.ts)
 *
 * The jobs: ids job-000000…, names in another order (job i is named n-(7919·i mod N)), every tenth paused
 * (its next run time cleared, as `pauseJob` does), the others due one second apart. Each store is seeded
 * through its own `addJob`, so the indexes are the store's own. Each page is timed `SAMPLES` times (default
 * 20) after a warm-up; the median and the slowest are printed. `TICKWORK_BENCH_JOBS` changes the number of
 * jobs; `TICKWORK_BENCH_PG` the PostgreSQL server (default postgres://postgres@127.0.0.1:5432/test),
 * `TICKWORK_BENCH_REDIS` the Redis server (default redis://127.0.0.1:6379). A store that cannot be reached is
 * reported as not measured.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { JobRecord } from '../dist/core/structures.js';
import { MemoryStore } from '../dist/stores/memory/index.js';
import { PostgresStore, quoteIdent } from '../dist/stores/postgres/index.js';
import { RedisStore } from '../dist/stores/redis/index.js';
import { SqliteStore } from '../dist/stores/sqlite/index.js';
import type { JobFilter, Store } from '../dist/stores/store.js';

const JOBS = Number(process.env.TICKWORK_BENCH_JOBS ?? 100_000);
const SAMPLES = Number(process.env.SAMPLES ?? 20);
const PG_URL = process.env.TICKWORK_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.TICKWORK_BENCH_REDIS ?? 'redis://127.0.0.1:6379';
const PAGE = 51;
const HOUR = 3_600_000;

/** The pages timed on every store: what the dashboard's sort and filter controls ask for. */
const PAGES: [string, JobFilter][] = [
  ['by id, first page', { sort: 'id', limit: PAGE }],
  ['by id, keyset page in the middle', { sort: 'id', limit: PAGE, afterId: id(JOBS / 2) }],
  ['by name, first page', { sort: 'name', limit: PAGE }],
  ['by name, offset 1,000', { sort: 'name', limit: PAGE, offset: 1000 }],
  ['by next run time, first page', { sort: 'nextRunTime', limit: PAGE }],
  ['unpaused, by id, first page', { paused: false, limit: PAGE }],
  ['paused, by id, first page', { paused: true, limit: PAGE }],
];

function id(i: number): string {
  return `job-${String(i).padStart(6, '0')}`;
}

function jobRecord(i: number, now: number): JobRecord {
  const paused = i % 10 === 0;
  return {
    id: id(i),
    name: `n-${String((i * 7919) % JOBS).padStart(6, '0')}`,
    taskId: 'work',
    trigger: { type: 'interval', version: 1, hours: 1 },
    args: [],
    maxInstances: 1,
    misfireGraceTime: 1000,
    coalesce: true,
    jitter: null,
    timeout: null,
    retry: null,
    paused,
    nextRunTime: paused ? null : new Date(now + HOUR + i * 1000),
    quarantine: null,
    version: 1,
    createdAt: new Date(now),
    updatedAt: new Date(now),
  };
}

function median(samples: number[]): number {
  const s = samples.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const results: { store: string; page: string; p50: number; max: number }[] = [];
const notMeasured: string[] = [];

async function time(store: string, page: string, fn: () => Promise<number>, expect: number): Promise<void> {
  await fn(); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t = performance.now();
    const n = await fn();
    samples.push(performance.now() - t);
    if (n !== expect) throw new Error(`${store}, ${page}: ${n} jobs, expected ${expect}`);
  }
  results.push({ store, page, p50: median(samples), max: Math.max(...samples) });
}

async function benchStore(name: string, store: Store, cleanup: () => Promise<void>): Promise<void> {
  try {
    await store.start({ nodeId: 'bench', now: Date.now });
    const t0 = performance.now();
    const now = Date.now();
    for (let i = 0; i < JOBS; i += 500) {
      await Promise.all(
        Array.from({ length: Math.min(500, JOBS - i) }, (_, k) =>
          store.addJob(jobRecord(i + k, now), 'error'),
        ),
      );
    }
    console.log(
      `${name}: ${JOBS.toLocaleString('en-US')} jobs added in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    for (const [page, filter] of PAGES) {
      await time(name, page, async () => (await store.getJobs(filter)).length, PAGE);
    }
  } catch (err) {
    notMeasured.push(`${name}: ${(err as Error).message}`);
  } finally {
    await store.stop().catch(() => {});
    await cleanup().catch(() => {});
  }
}

/** BullMQ's job schedulers (one per job, every hour), listed 51 at a time by next run time. */
async function benchBullMQ(): Promise<void> {
  const { Queue } = await import('bullmq');
  const url = new URL(REDIS_URL);
  const connection = { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };
  const queueName = `tickwork-bench-${randomBytes(4).toString('hex')}`;
  const queue = new Queue(queueName, { connection });
  try {
    const t0 = performance.now();
    for (let i = 0; i < JOBS; i += 500) {
      await Promise.all(
        Array.from({ length: Math.min(500, JOBS - i) }, (_, k) =>
          queue.upsertJobScheduler(
            id(i + k),
            { every: HOUR, startDate: Date.now() + HOUR + (i + k) * 1000 },
            {
              name: 'work',
            },
          ),
        ),
      );
    }
    console.log(
      `BullMQ: ${JOBS.toLocaleString('en-US')} job schedulers added in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    await time(
      'BullMQ (Redis)',
      'by next run time, first page',
      async () => (await queue.getJobSchedulers(0, PAGE - 1, true)).length,
      PAGE,
    );
    await time(
      'BullMQ (Redis)',
      'by next run time, offset 1,000',
      async () => (await queue.getJobSchedulers(1000, 1000 + PAGE - 1, true)).length,
      PAGE,
    );
  } catch (err) {
    notMeasured.push(`BullMQ: ${(err as Error).message}`);
  } finally {
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
  }
}

await benchStore('memory', new MemoryStore(), async () => {});

const dir = mkdtempSync(join(tmpdir(), 'tickwork-bench-listing-'));
await benchStore('SQLite', new SqliteStore({ path: join(dir, 'jobs.db') }), async () =>
  rmSync(dir, { recursive: true, force: true }),
);

const schema = `tw_bench_${randomBytes(4).toString('hex')}`;
await benchStore(
  'PostgreSQL',
  new PostgresStore({ connectionString: PG_URL }, { schema, listen: false }),
  async () => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
    await c.end();
  },
);

const prefix = `tw_bench_${randomBytes(4).toString('hex')}:`;
await benchStore('Redis', new RedisStore({ url: REDIS_URL }, { prefix, listen: false }), async () => {
  const r = new Redis(REDIS_URL);
  for (let cursor = '0'; ;) {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await r.del(...keys);
    cursor = next;
    if (cursor === '0') break;
  }
  await r.quit();
});

await benchBullMQ();

console.log(
  `\nA page of ${PAGE} jobs out of ${JOBS.toLocaleString('en-US')}: median and slowest of ${SAMPLES} (ms)\n`,
);
const pageWidth = Math.max(...results.map((r) => r.page.length));
const storeWidth = Math.max(...results.map((r) => r.store.length));
console.log(`| ${'store'.padEnd(storeWidth)} | ${'page'.padEnd(pageWidth)} | median ms | max ms |`);
console.log(`| ${'-'.repeat(storeWidth)} | ${'-'.repeat(pageWidth)} | --------- | ------ |`);
for (const r of results)
  console.log(
    `| ${r.store.padEnd(storeWidth)} | ${r.page.padEnd(pageWidth)} | ${r.p50.toFixed(2).padStart(9)} | ${r.max.toFixed(1).padStart(6)} |`,
  );
const redisNext = results.find((r) => r.store === 'Redis' && r.page === 'by next run time, first page');
const bullNext = results.find(
  (r) => r.store === 'BullMQ (Redis)' && r.page === 'by next run time, first page',
);
if (redisNext && bullNext)
  console.log(
    `\nBy next run time, first page: tickwork on Redis takes ${(redisNext.p50 / bullNext.p50).toFixed(2)}x the time of BullMQ's getJobSchedulers.`,
  );
for (const m of notMeasured) console.log(`not measured: ${m}`);

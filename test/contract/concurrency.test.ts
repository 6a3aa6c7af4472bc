// Exactly-once firing under contention: four store instances with their own connections fire the same due
// jobs at once. Every (job, fire time) must be planned once and stored once: no duplicates, no gaps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { PostgresStore } from '../../src/stores/postgres/index.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';
import type { FirePlanner, Store } from '../../src/stores/store.js';
import { job } from './store-contract.js';
import { PG_URL, dropSchema, startContext, tempDbFile, testSchema } from './harness.js';

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

test('SQLite: 4 connections in 4 threads fire 100 jobs x 21 fire times exactly once', async () => {
  const { dir, file } = tempDbFile();
  const base = Math.floor(Date.now() / SECOND) * SECOND - 60 * SECOND;
  const now = base + 20 * SECOND; // fire times base, base+1s, ..., base+20s are due: 21 per job
  const setup = new SqliteStore({ path: file });
  try {
    await setup.start(startContext);
    for (let i = 0; i < JOBS; i++)
      await setup.addJob(job(`job-${String(i).padStart(3, '0')}`, { nextRunTime: new Date(base) }), 'error');
    const results = await Promise.all(
      [0, 1, 2, 3].map(
        () =>
          new Promise<{ planned: string[]; inserted: string[] }>((resolve, reject) => {
            // Workers do not inherit tsx's loader on Node 20: load the TypeScript worker through tsx's API.
            const url = new URL('./sqlite-fire-worker.ts', import.meta.url).href;
            const w = new Worker(
              `import(${JSON.stringify(TSX_API)}).then((m) => m.tsImport(${JSON.stringify(url)}, ${JSON.stringify(url)}))`,
              { eval: true, workerData: { file, now, limit: 7 } },
            );
            w.once('message', resolve);
            w.once('error', reject);
          }),
      ),
    );
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
          const r = await s.fireDueJobs(new Date(), 7, planner);
          lastNow = Math.max(lastNow, r.now.getTime());
          for (const f of r.fired)
            for (const run of f.runs) inserted.push(`${run.jobId}@${run.scheduledFireTime.getTime()}`);
          if (r.fired.length === 0 && !r.more) break;
        }
      }),
    );
    assert.equal(countDuplicates(planned), 0, 'no fire time planned twice');
    assert.deepEqual([...inserted].sort(), [...planned].sort(), 'every planned fire time was stored');
    const stored = await runsByJob(stores[0]!);
    assert.equal(stored.size, JOBS);
    const jobs = new Map((await stores[0]!.getJobs()).map((j) => [j.id, j]));
    for (const [id, times] of stored) {
      const next = jobs.get(id)!.nextRunTime!.getTime();
      const expected = Array.from({ length: (next - base) / SECOND }, (_, i) => base + i * SECOND);
      assert.deepEqual(times, expected, `${id}: every fire time from the first to the current one, no gaps`);
      assert.ok(times.length >= 21, `${id}: at least the 21 fire times due at the start`);
      assert.ok(next > lastNow - 2 * SECOND, `${id}: caught up`);
    }
  } finally {
    for (const s of stores) await s.stop();
    await dropSchema(schema);
  }
});

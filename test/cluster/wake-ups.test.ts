// Two schedulers on one PostgreSQL schema (and, in the last test, on one Redis prefix): a change made on node
// A (a job added, resumed, run now) wakes node B through LISTEN/NOTIFY (Redis: pub/sub), so B starts the run
// within 100 ms although its idle timer is armed for seconds. Node A is started paused, so only B fires and
// runs. Without LISTEN (`listen: false`, as behind PgBouncer in transaction mode) the same works, only at B's
// next poll (its `maxWakeInterval`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { Scheduler, silentLogger } from '../../src/index.js';
import { PostgresStore } from '../../src/stores/postgres/index.js';
import { RedisStore } from '../../src/stores/redis/index.js';
import { REDIS_URL, deletePrefix, testPrefix } from '../contract/harness.js';
import { PG_URL, dropSchema, sleep, testSchema, waitFor } from './helpers.js';

interface Pair {
  a: Scheduler;
  b: Scheduler;
  started: Map<string, number>;
  close(): Promise<void>;
}

async function pair(schema: string, listenOnB: boolean, bWake: number): Promise<Pair> {
  const started = new Map<string, number>();
  const probe = (ctx: { jobId: string }) => {
    if (!started.has(ctx.jobId)) started.set(ctx.jobId, performance.now());
  };
  const storeA = new PostgresStore({ connectionString: PG_URL }, { schema, poolSize: 2 });
  const storeB = new PostgresStore(
    { connectionString: PG_URL },
    { schema, poolSize: 2, listen: listenOnB, maxWakeInterval: bWake },
  );
  const a = new Scheduler({ store: storeA, logger: silentLogger, nodeId: 'node-a' });
  const b = new Scheduler({ store: storeB, logger: silentLogger, nodeId: 'node-b' });
  a.defineTask('probe', probe);
  b.defineTask('probe', probe);
  await a.start({ paused: true });
  await b.start();
  await storeB.listening();
  return {
    a,
    b,
    started,
    async close() {
      await a.shutdown();
      await b.shutdown();
    },
  };
}

test('a job added, resumed or run now on node A starts within 100 ms on node B (LISTEN/NOTIFY)', async () => {
  const schema = testSchema();
  const p = await pair(schema, true, 5000);
  try {
    await sleep(200); // B is idle now, its timer armed for about 5 s
    const latency = async (id: string, change: () => Promise<unknown>): Promise<number> => {
      const t0 = performance.now();
      await change();
      assert.ok(await waitFor(() => p.started.has(id), 3000), `job ${id} did not start on node B`);
      return p.started.get(id)! - t0;
    };
    const added = await latency('added', () =>
      p.a.addJob('probe', 'date', { id: 'added', runDate: new Date() }),
    );
    // Due 400 ms from now, so still ahead when resumed 200 ms later (a date that passed while paused is not
    // owed: resumeJob would remove the job).
    await p.a.addJob('probe', 'date', { id: 'resumed', runDate: new Date(Date.now() + 400), paused: true });
    await p.a.addJob('probe', 'interval', { id: 'manual', hours: 1 });
    await sleep(200);
    assert.ok(!p.started.has('resumed') && !p.started.has('manual'));
    const resumed = await latency('resumed', () => p.a.resumeJob('resumed'));
    const manual = await latency('manual', () => p.a.runJob('manual'));
    // Without the notification B would start them at its next poll, seconds later (its cap is 5 s). The
    // latencies are printed; the assertion leaves room for a loaded CI machine (this is not a timing test).
    for (const [what, ms] of Object.entries({ added, resumed, manual })) {
      console.log(`# ${what}: started on node B ${ms.toFixed(1)} ms after the change on node A`);
      assert.ok(ms < 1000, `${what}: started on node B after ${ms.toFixed(1)} ms`);
    }
    const nodes = await p.b.getNodes();
    assert.deepEqual(
      nodes.map((n) => n.id),
      ['node-a', 'node-b'],
    );
  } finally {
    await p.close();
    await dropSchema(schema);
  }
});

test('without LISTEN (listen: false) node B still runs what node A adds, at its next poll', async () => {
  const schema = testSchema();
  const p = await pair(schema, false, 1000);
  try {
    await sleep(100);
    const t0 = performance.now();
    await p.a.addJob('probe', 'date', { id: 'added', runDate: new Date() });
    assert.ok(await waitFor(() => p.started.has('added'), 3000), 'the job did not start on node B');
    // B heard nothing: it found the job at a poll, at most its maxWakeInterval (1 s) later.
    assert.ok(p.started.get('added')! - t0 < 1500);
    await p.a.addJob('probe', 'interval', { id: 'manual', hours: 1 });
    await p.a.runJob('manual');
    assert.ok(await waitFor(() => p.started.has('manual'), 3000), 'the manual run did not start on node B');
  } finally {
    await p.close();
    await dropSchema(schema);
  }
});

test('Redis: a job added or run now on node A starts on node B at once (pub/sub), not at its next poll', async () => {
  const prefix = testPrefix();
  const started = new Map<string, number>();
  const probe = (ctx: { jobId: string }) => {
    if (!started.has(ctx.jobId)) started.set(ctx.jobId, performance.now());
  };
  const storeB = new RedisStore({ url: REDIS_URL }, { prefix, maxWakeInterval: 5000 });
  const a = new Scheduler({
    store: new RedisStore({ url: REDIS_URL }, { prefix }),
    logger: silentLogger,
    nodeId: 'node-a',
  });
  const b = new Scheduler({ store: storeB, logger: silentLogger, nodeId: 'node-b' });
  a.defineTask('probe', probe);
  b.defineTask('probe', probe);
  try {
    await a.start({ paused: true });
    await b.start();
    await storeB.listening();
    await sleep(200); // B is idle now, its timer armed for about 5 s
    const latency = async (id: string, change: () => Promise<unknown>): Promise<number> => {
      const t0 = performance.now();
      await change();
      assert.ok(await waitFor(() => started.has(id), 4000), `job ${id} did not start on node B`);
      return started.get(id)! - t0;
    };
    const added = await latency('added', () =>
      a.addJob('probe', 'date', { id: 'added', runDate: new Date() }),
    );
    await a.addJob('probe', 'interval', { id: 'manual', hours: 1 });
    await sleep(200);
    const manual = await latency('manual', () => a.runJob('manual'));
    for (const [what, ms] of Object.entries({ added, manual })) {
      console.log(`# ${what}: started on node B ${ms.toFixed(1)} ms after the change on node A`);
      // Without the message B would start it at its next poll, seconds later (its cap is 5 s).
      assert.ok(ms < 1000, `${what}: started on node B after ${ms.toFixed(1)} ms`);
    }
  } finally {
    await a.shutdown();
    await b.shutdown();
    await deletePrefix(prefix);
  }
});

// A process heartbeats its runs while it records a group of their outcomes: the two multi-row updates take
// the rows' locks in the same (id) order, so they wait for each other but never deadlock (PostgreSQL would
// abort one of them after deadlock_timeout, 1 s, and the outcomes would be recorded late or as stale).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PostgresStore } from '../../src/stores/postgres/index.js';
import type { FirePlanner } from '../../src/stores/store.js';
import { job } from './store-contract.js';
import { PG_URL, dropSchema, startContext, testSchema } from './harness.js';

const RUNS = 400;

test('PostgreSQL: heartbeats and groups of outcomes over the same runs, in opposite orders, never deadlock', async () => {
  const schema = testSchema();
  const store = new PostgresStore({ connectionString: PG_URL }, { schema, poolSize: 8, listen: false });
  try {
    await store.start(startContext);
    const past = new Date(Date.now() - 60_000);
    for (let i = 0; i < RUNS; i++) {
      await store.addJob(job(`j${String(i).padStart(4, '0')}`, { nextRunTime: past }), 'error');
    }
    const planner: FirePlanner = (j) => ({
      runs: [{ scheduledFireTime: j.nextRunTime!, status: 'pending', notBefore: j.nextRunTime! }],
      nextRunTime: new Date(j.nextRunTime!.getTime() + 3_600_000),
      remove: false,
    });
    for (;;) {
      const r = await store.fireDueJobs(new Date(), 1000, planner);
      if (!r.more) break;
    }
    const acquired = await store.acquireRuns('n1', new Date(), RUNS, 60_000);
    assert.equal(acquired.length, RUNS);
    const runs = acquired.map((a) => ({ id: a.run.id, attempt: a.run.attempt }));
    // Outcomes in groups of 50 in one order, heartbeats of all runs in the opposite order, side by side.
    const groups: Promise<boolean[]>[] = [];
    const beats: Promise<string[]>[] = [];
    for (let g = 0; g < RUNS; g += 50) {
      const group = runs.slice(g, g + 50);
      groups.push(
        store.finishRuns(
          'n1',
          group.map((r) => ({ runId: r.id, attempt: r.attempt, outcome: { status: 'succeeded' as const } })),
          new Date(),
        ),
      );
      beats.push(store.heartbeatRuns('n1', [...runs].reverse(), new Date(), 60_000));
    }
    const answers = (await Promise.all(groups)).flat();
    await Promise.all(beats); // a deadlock would reject one of these with STORE_ERROR
    assert.equal(answers.filter(Boolean).length, RUNS, 'every outcome recorded once');
  } finally {
    await store.stop();
    await dropSchema(schema);
  }
});

// GET /runs paged by cursor on every store while retention deletes runs of the pages already read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FirePlanner, Store } from '../../src/stores/store.js';
import { memoryHarness, postgresHarness, redisHarness, sqliteHarness } from '../contract/harness.js';
import type { Harness as StoreHarness } from '../contract/store-contract.js';
import { job } from '../contract/store-contract.js';
import { harness } from './helpers.js';

const HOUR = 3_600_000;

/** One run at the job's next run time; the job is left without one. */
const once: FirePlanner = (j) => ({
  runs: [{ scheduledFireTime: j.nextRunTime!, status: 'pending', notBefore: j.nextRunTime! }],
  nextRunTime: null,
  remove: false,
});

const stores: [string, () => Promise<StoreHarness>][] = [
  ['memory', () => memoryHarness({ maxRunsPerJob: 1 })],
  ['sqlite', () => sqliteHarness({ maxRunsPerJob: 1 })],
  ['postgres', () => postgresHarness({ maxRunsPerJob: 1 })],
  ['redis', () => redisHarness({ maxRunsPerJob: 1 })],
];

for (const [kind, make] of stores) {
  test(`GET /runs by cursor (${kind}): the last run of a page deleted by retention before the next page leaves out none of the runs after it`, async () => {
    const s = await make();
    const store: Store = s.store;
    const h = await harness({ scheduler: { store } });
    try {
      h.scheduler.pause(); // the test fires and finishes the runs itself
      // Runs at fire time T of jobs b (created first) and a (created next: it lists first, by id), then a's
      // runs at T + 1 h and T + 2 h. Each firing at its own millisecond: the ids (UUIDs of version 7) of runs
      // sharing a fire time follow their creation (a store with a clock of its own takes it from there).
      const T = Math.floor(Date.now() / 1000) * 1000 - 24 * HOUR;
      let at = Date.now();
      const fire = async (id: string, time: number) => {
        if ((await store.getJob(id)) === null)
          await store.addJob(job(id, { taskId: `t${id}`, nextRunTime: new Date(time) }), 'error');
        else await store.updateJob(id, { nextRunTime: new Date(time) });
        await new Promise((r) => setTimeout(r, 3));
        at = Math.max(at + 2, Date.now());
        const fired = await store.fireDueJobs(new Date(at), 10, once);
        return fired.fired.flatMap((f) => f.runs)[0]!;
      };
      const b = await fire('b', T);
      const a0 = await fire('a', T);
      const a1 = await fire('a', T + HOUR);
      const a2 = await fire('a', T + 2 * HOUR);
      // a's runs end (b's stays pending: no retention deletes it); a's first two now, the third after page 1.
      const leased = await store.acquireRuns('me', new Date(at), 10, 60_000, ['ta']);
      const finish = async (id: string) => {
        const run = leased.find((l) => l.run.id === id)!.run;
        assert.ok(await store.finishRun(id, 'me', run.attempt, new Date(at), { status: 'succeeded' }));
      };
      await finish(a0.id);
      await finish(a1.id);
      const page1 = await h.json('GET', '/scheduler/runs?limit=3');
      assert.deepEqual(
        page1.body.items.map((r: { id: string }) => r.id),
        [a2.id, a1.id, a0.id],
      );
      assert.ok(page1.body.nextCursor);
      // Retention (one run kept per job) deletes a's runs at T and T + 1 h: the page's last run among them.
      await finish(a2.id);
      await s.prune?.();
      assert.deepEqual(
        (await store.getRuns()).map((r) => r.id),
        [a2.id, b.id],
      );
      const page2 = await h.json('GET', `/scheduler/runs?limit=3&cursor=${page1.body.nextCursor}`);
      assert.equal(page2.status, 200);
      assert.deepEqual(
        page2.body.items.map((r: { id: string }) => r.id),
        [b.id],
      );
    } finally {
      await h.close();
      await s.cleanup();
    }
  });
}

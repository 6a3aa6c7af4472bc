// Nodes whose clocks are 30 s off, on one PostgreSQL schema. The database clock decides what is due, and each
// node arms its wake-up timer in the database's time frame (its measured clock offset), so a fast node does
// not spin and a slow one does not sleep too long; and none fires early or twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler, silentLogger } from '../../src/index.js';
import { SkewedClock } from '../../src/core/clock.js';
import { PostgresStore } from '../../src/stores/postgres/index.js';
import { PG_URL, dropSchema, sleep, testSchema } from './helpers.js';

const SKEW = 30_000;

function node(schema: string, skew: number, executed: string[]) {
  const store = new PostgresStore({ connectionString: PG_URL }, { schema, poolSize: 2 });
  let fireCalls = 0;
  const fire = store.fireDueJobs.bind(store);
  store.fireDueJobs = (...args) => {
    fireCalls++;
    return fire(...args);
  };
  const scheduler = new Scheduler({
    store,
    clock: new SkewedClock(skew),
    logger: silentLogger,
    nodeId: `skew${skew}`,
  });
  scheduler.defineTask('tick', (ctx: { jobId: string; scheduledFireTime: Date; runId: string }) => {
    executed.push(`${ctx.jobId}@${ctx.scheduledFireTime.getTime()}#${ctx.runId}`);
  });
  return { scheduler, fireCalls: () => fireCalls };
}

const jobOptions = (id: string, startDate: Date, ms: number) => ({
  id,
  milliseconds: ms,
  startDate,
  coalesce: false,
  misfireGraceTime: null,
  maxInstances: 10,
  replaceExisting: true,
});

for (const skew of [SKEW, -SKEW]) {
  test(`a node whose clock is ${skew > 0 ? 'ahead' : 'behind'} by 30 s fires on time, without spinning`, async () => {
    const schema = testSchema();
    const executed: string[] = [];
    const n = node(schema, skew, executed);
    try {
      await n.scheduler.start();
      assert.ok(Math.abs(n.scheduler.clockOffset + skew) < 1000, `offset ${n.scheduler.clockOffset}`);
      const start = new Date(Date.now() + 500);
      await n.scheduler.addJob('tick', 'interval', jobOptions('tick', start, 500));
      await sleep(3000);
      const runs = (await n.scheduler.getRuns({ jobId: 'tick' })).filter((r) => r.startedAt !== null);
      assert.ok(runs.length >= 5, `only ${runs.length} runs`);
      for (const r of runs) {
        const late = r.startedAt!.getTime() - r.scheduledFireTime.getTime();
        assert.ok(late >= 0, `run started ${-late} ms early by the database clock`);
        // Timers armed in the node's own frame would be 30 s off; the bound leaves room for a loaded machine.
        assert.ok(late < 2000, `run started ${late} ms late (the timer is not in the database's time frame)`);
      }
      // A spinning node calls the store thousands of times in 3 s; ours wakes about once per fire time.
      assert.ok(n.fireCalls() < 40, `${n.fireCalls()} firing calls in 3 s`);
      const [info] = await n.scheduler.getNodes();
      assert.equal(info!.id, `skew${skew}`);
      assert.ok(Math.abs(info!.clockOffset + skew) < 1000);
    } finally {
      await n.scheduler.shutdown();
      await dropSchema(schema);
    }
  });
}

test('three nodes at -30 s, 0 and +30 s: every fire time once, none early', async () => {
  const schema = testSchema();
  const executed: string[] = [];
  const nodes = [node(schema, -SKEW, executed), node(schema, 0, executed), node(schema, SKEW, executed)];
  try {
    for (const n of nodes) await n.scheduler.start();
    const start = Date.now() + 500;
    for (const n of nodes)
      for (let j = 0; j < 5; j++)
        await n.scheduler.addJob('tick', 'interval', jobOptions(`j${j}`, new Date(start + j * 37), 200));
    await sleep(3000);
    const end = start + 2500;
    for (const n of nodes) n.scheduler.pause();
    await sleep(300);
    const byFire = new Map<string, Set<string>>();
    for (const e of executed) {
      const [fire, runId] = e.split('#') as [string, string];
      if (!byFire.has(fire)) byFire.set(fire, new Set());
      byFire.get(fire)!.add(runId);
    }
    for (let j = 0; j < 5; j++) {
      for (let t = start + j * 37; t < end; t += 200) {
        const runs = byFire.get(`j${j}@${t}`);
        assert.ok(runs, `fire time ${t} of j${j} was not executed`);
        assert.equal(runs.size, 1, `fire time ${t} of j${j} fired ${runs.size} times`);
      }
    }
    const runs = await nodes[1]!.scheduler.getRuns({ limit: 1000 });
    for (const r of runs)
      if (r.startedAt) assert.ok(r.startedAt >= r.scheduledFireTime, 'a run started early');
    const info = await nodes[1]!.scheduler.getNodes();
    assert.equal(info.length, 3);
  } finally {
    for (const n of nodes) await n.scheduler.shutdown();
    await dropSchema(schema);
  }
});

test('a node whose clock steps back an hour measures its offset again at once: a job added then fires 10 s later by the database clock, not at once', async () => {
  const schema = testSchema();
  const store = new PostgresStore({ connectionString: PG_URL }, { schema, poolSize: 2 });
  /** The system clock, with a skew the test changes: the wall clock steps, timers count elapsed time. */
  class SteppingClock extends SkewedClock {
    step = 0;
    override now(): number {
      return super.now() + this.step;
    }
  }
  const clock = new SteppingClock(0);
  const scheduler = new Scheduler({ store, clock, logger: silentLogger, maxWakeInterval: 1000 });
  scheduler.defineTask('tick', () => {});
  try {
    await scheduler.start();
    await sleep(1500);
    assert.ok(Math.abs(scheduler.clockOffset) < 1000, `offset ${scheduler.clockOffset} at start`);
    clock.step = -3_600_000; // NTP steps this machine's clock back an hour
    await sleep(2500); // two passes of the loop at least
    const offset = scheduler.clockOffset;
    assert.ok(Math.abs(offset - 3_600_000) < 1000, `offset ${offset} after the step`);
    const added = await scheduler.addJob('tick', 'interval', { id: 'every10s', seconds: 10 });
    const dbNow = Date.now(); // this host's real clock is the database's (same machine)
    const first = added.nextRunTime!.getTime();
    assert.ok(
      first > dbNow + 8000 && first <= dbNow + 10_500,
      `first fire time ${first - dbNow} ms from now, 10 s expected`,
    );
  } finally {
    await scheduler.shutdown();
    await dropSchema(schema);
  }
});

// A Redis connection loss in the middle of work: every connection of the scheduler's store is killed with
// CLIENT KILL, twice, while a 200 ms interval job runs. Nothing may be lost or doubled: with coalescing off and
// no misfire limit, every fire time between the first and the last gets exactly one run, and every run is
// recorded as succeeded. Real time (the Redis server's clock decides what is due).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Scheduler, silentLogger } from '../../src/index.js';
import { RedisStore } from '../../src/stores/redis/index.js';
import { REDIS_URL, deletePrefix, testPrefix } from '../contract/harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test(
  'the scheduler survives CLIENT KILL of all its Redis connections and loses nothing',
  { timeout: 60_000 },
  async () => {
    const name = `tw_outage_${randomUUID().slice(0, 8)}`;
    const prefix = testPrefix();
    const admin = new Redis(REDIS_URL);
    const url = new URL(REDIS_URL);
    url.searchParams.set('connectionName', name); // ioredis's own parameter: the store's connections are named
    const store = new RedisStore({ url: url.toString() }, { prefix });
    const errors: string[] = [];
    const scheduler = new Scheduler({ store, logger: silentLogger, maxWakeInterval: 500 });
    scheduler.on('scheduler:error', (e) => errors.push(e.error.message));
    const executed: number[] = [];
    scheduler.defineTask('beat', async (ctx: { scheduledFireTime: Date }) => {
      executed.push(ctx.scheduledFireTime.getTime());
      await sleep(20);
    });
    try {
      await scheduler.start();
      await scheduler.addJob('beat', 'interval', {
        id: 'beat',
        milliseconds: 200,
        coalesce: false,
        misfireGraceTime: null,
        maxInstances: 50,
      });
      const kill = async () => {
        const list = (await admin.client('LIST')) as string;
        const ids = list
          .split('\n')
          .filter((line) => line.includes(` name=${name} `))
          .map((line) => /\bid=(\d+)/.exec(line)![1]!);
        for (const id of ids) await admin.client('KILL', 'ID', id);
        return ids.length;
      };
      await sleep(1200);
      const first = await kill();
      await sleep(800);
      const second = await kill();
      await sleep(1500);
      assert.ok(first > 0 && second > 0, 'the test must actually have cut connections');
      await scheduler.shutdown({ wait: true, timeout: 5000 });

      const check = new RedisStore({ url: REDIS_URL }, { prefix, listen: false });
      await check.start({ nodeId: 'check', now: () => Date.now() });
      const runs = (await check.getRuns({ jobId: 'beat', limit: 1000 })).filter((r) => !r.manual);
      await check.stop();
      const times = runs.map((r) => r.scheduledFireTime.getTime()).sort((a, b) => a - b);
      assert.ok(times.length >= 12, `expected at least 12 fire times in 3.5 s, got ${times.length}`);
      // No gaps and no doubles: consecutive fire times are exactly one interval apart.
      for (let i = 1; i < times.length; i++) assert.equal(times[i]! - times[i - 1]!, 200, `gap at ${i}`);
      assert.equal(new Set(executed).size, executed.length, 'no fire time executed twice');
      const byStatus = new Map<string, number>();
      for (const r of runs) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
      const unfinished = (byStatus.get('pending') ?? 0) + (byStatus.get('running') ?? 0);
      assert.equal(byStatus.get('succeeded'), runs.length - unfinished, JSON.stringify([...byStatus]));
      // Runs created just before the shutdown may still be pending (another process would take them).
      assert.ok(unfinished <= 2, JSON.stringify([...byStatus]));
      assert.ok(executed.length >= times.length - 2);
    } finally {
      if (scheduler.state !== 'stopped') await scheduler.shutdown({ wait: false });
      await admin.quit();
      await deletePrefix(prefix);
    }
  },
);

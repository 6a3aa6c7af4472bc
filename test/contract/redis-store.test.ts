// RedisStore beyond the contract: a claimer that dies between its claim and its apply, connections killed or
// cut mid-work, hashes written badly by hand, the subscriber's reconnection, a caller-owned client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { isTickworkError } from '../../src/core/errors.js';
import type { JobRecord } from '../../src/core/structures.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { RedisStore } from '../../src/stores/redis/index.js';
import { APPLY, CLAIM, JOB_INDEX, LIST_JOBS } from '../../src/stores/redis/scripts.js';
import type { FirePlanner, JobFilter, StoreChange } from '../../src/stores/store.js';
import { IntervalTrigger, triggerFromJSON } from '../../src/triggers/index.js';
import { job } from './store-contract.js';
import { REDIS_URL, deletePrefix, startContext, testPrefix } from './harness.js';

const SECOND = 1000;
const HOUR = 3_600_000;

/** The store's private fields (its client, its subscriber). */
const fields = (store: RedisStore) => store as unknown as Record<string, Redis | null>;

/** Polls `check` every 10 ms until it holds (at most `ms`). */
async function until(check: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Kills a client's connection from another one (`CLIENT KILL ADDR`). */
async function kill(admin: Redis, client: Redis): Promise<void> {
  const stream = (client as unknown as { stream: Socket }).stream;
  await admin.client('KILL', 'ADDR', `${stream.localAddress}:${stream.localPort}`);
}

/** A planner that plans each job's due fire time once and moves it a second on, recording what it planned. */
function secondPlanner(planned: string[], step = SECOND): FirePlanner {
  return (j) => {
    const t = j.nextRunTime!;
    planned.push(`${j.id}@${t.getTime()}`);
    return {
      runs: [{ scheduledFireTime: t, status: 'pending', notBefore: t }],
      nextRunTime: new Date(t.getTime() + step),
      remove: false,
    };
  };
}

/** As the scheduler plans: a job whose trigger cannot be built is quarantined; the others fire an hour apart. */
const quarantining: FirePlanner = (j, ctx) => {
  try {
    triggerFromJSON(j.trigger);
  } catch (err) {
    return { runs: [], nextRunTime: null, remove: false, quarantine: (err as Error).message };
  }
  return secondPlanner([], HOUR)(j, ctx);
};

async function withPrefix(fn: (prefix: string, admin: Redis) => Promise<void>): Promise<void> {
  const prefix = testPrefix();
  const admin = new Redis(REDIS_URL);
  try {
    await fn(prefix, admin);
  } finally {
    await admin.quit();
    await deletePrefix(prefix);
  }
}

test('a claimer that dies between claim and apply loses nothing: its claims expire, another fires the jobs once, its late apply stores nothing', async () => {
  await withPrefix(async (prefix, admin) => {
    const store = new RedisStore({ url: REDIS_URL }, { prefix, listen: false });
    await store.start(startContext);
    try {
      const due = new Date(Date.now() - 10 * SECOND);
      for (const id of ['a', 'b', 'c']) await store.addJob(job(id, { nextRunTime: due }), 'error');
      // The dead process: it claimed two jobs (for 300 ms) and never applied its plan.
      const token = randomBytes(12).toString('hex');
      const claimed = (await admin.eval(CLAIM.lua, 0, prefix, '2', token, '300', '[]')) as [
        string,
        number,
        string[][],
        number[],
      ];
      assert.equal(claimed[2].length, 2);
      assert.equal(claimed[1], 1, 'a third due job remains');
      // Another process skips the claimed jobs (they are not lost: their claim runs out).
      const planned: string[] = [];
      const first = await store.fireDueJobs(new Date(), 10, secondPlanner(planned, HOUR));
      assert.deepEqual(
        first.fired.map((f) => f.job.id),
        ['c'],
      );
      await until(
        async () => (await admin.exists(`${prefix}claim:a`, `${prefix}claim:b`)) === 0,
        5000,
        'expiry',
      );
      const second = await store.fireDueJobs(new Date(), 10, secondPlanner(planned, HOUR));
      assert.deepEqual(second.fired.map((f) => f.job.id).sort(), ['a', 'b']);
      // The dead process wakes up and applies its stale plan: the token no longer holds, nothing is stored.
      const stale = claimed[2].map((flat) => {
        const h: Record<string, string> = {};
        for (let i = 0; i < flat.length; i += 2) h[flat[i]!] = flat[i + 1]!;
        return {
          i: h.id,
          v: h.version,
          n: String(due.getTime() + 60 * SECOND),
          runs: [
            {
              r: '0190a0a0-0000-7000-8000-000000000001',
              s: String(due.getTime() + 1),
              b: '0',
              st: 'pending',
              k: 1,
              e: 0,
            },
          ],
        };
      });
      const late = (await admin.eval(APPLY.lua, 0, prefix, token, '0', JSON.stringify(stale), 'x', '{}')) as [
        string[],
        string[],
        string[],
      ];
      assert.deepEqual(late, [[], [], []]);
      const runs = await store.getRuns({ limit: 100 });
      assert.deepEqual(runs.map((r) => `${r.jobId}@${r.scheduledFireTime.getTime()}`).sort(), [
        `a@${due.getTime()}`,
        `b@${due.getTime()}`,
        `c@${due.getTime()}`,
      ]);
      for (const id of ['a', 'b', 'c'])
        assert.equal((await store.getJob(id))!.nextRunTime!.getTime(), due.getTime() + HOUR, id);
      assert.deepEqual(planned.sort(), runs.map((r) => `${r.jobId}@${r.scheduledFireTime.getTime()}`).sort());
      assert.equal(await admin.exists(`${prefix}claim:a`), 0, 'claims released by the apply');
    } finally {
      await store.stop();
    }
  });
});

test('a run that became active between the claim and the apply is counted by the apply: a pending run that no longer fits maxInstances is stored skipped, a queued one stays pending', async () => {
  await withPrefix(async (prefix) => {
    const store = new RedisStore({ url: REDIS_URL }, { prefix, listen: false });
    await store.start(startContext);
    try {
      const t = Math.floor(Date.now() / 1000) * 1000 - 60 * SECOND;
      for (const id of ['a', 'b'])
        await store.addJob(job(id, { nextRunTime: new Date(t), maxInstances: 2 }), 'error');
      // Just before the apply, a manual run of each job becomes active, as another process's would.
      const original = (store as unknown as { eval: (s: { name: string }, a: string[]) => Promise<unknown> })
        .eval;
      (store as unknown as { eval: unknown }).eval = async function (
        this: unknown,
        script: { name: string },
        args: string[],
      ) {
        if (script.name === 'apply') for (const id of ['a', 'b']) await store.createManualRun(id, new Date());
        return original.call(this, script, args);
      };
      const told: Record<string, number> = {};
      const result = await store.fireDueJobs(new Date(), 10, (j, context) => {
        told[j.id] = context.activeRuns;
        return {
          runs: [
            { scheduledFireTime: new Date(t), status: 'pending', notBefore: new Date(t) },
            {
              scheduledFireTime: new Date(t + 1000),
              status: 'pending',
              notBefore: new Date(t + 1000),
              queued: j.id === 'b',
            },
          ],
          nextRunTime: new Date(t + HOUR),
          remove: false,
        };
      });
      assert.deepEqual(told, { a: 0, b: 0 });
      // Each: one active run now, so 1 + 1 fits maxInstances 2 and 1 + 2 does not; b's queued run is exempt.
      const byJob = Object.fromEntries(
        result.fired.map((f) => [f.job.id, f.runs.map((r) => [r.scheduledFireTime.getTime() - t, r.status])]),
      );
      assert.deepEqual(byJob, {
        a: [
          [0, 'pending'],
          [1000, 'skipped'],
        ],
        b: [
          [0, 'pending'],
          [1000, 'pending'],
        ],
      });
      const stored = (await store.getRuns({ limit: 10 })).filter((r) => !r.manual);
      assert.deepEqual(
        stored.map((r) => `${r.jobId}@${r.scheduledFireTime.getTime() - t}:${r.status}`).sort(),
        ['a@0:pending', 'a@1000:skipped', 'b@0:pending', 'b@1000:pending'],
      );
    } finally {
      await store.stop();
    }
  });
});

test('connections killed mid-work (CLIENT KILL): calls fail with STORE_ERROR or succeed, the stores reconnect, every fire time is stored once', async () => {
  await withPrefix(async (prefix, admin) => {
    const stores = [0, 1, 2].map(
      () => new RedisStore({ url: REDIS_URL }, { prefix, listen: false, claimTimeout: 300 }),
    );
    try {
      for (const s of stores) await s.start(startContext);
      const base = Math.floor(Date.now() / SECOND) * SECOND - 30 * SECOND;
      for (let i = 0; i < 300; i++)
        await stores[0]!.addJob(
          job(`job-${String(i).padStart(3, '0')}`, { nextRunTime: new Date(base) }),
          'error',
        );
      const planned: string[] = [];
      const errors: unknown[] = [];
      let stop = false;
      const killer = (async () => {
        for (let k = 0; k < 12 && !stop; k++) {
          await new Promise((r) => setTimeout(r, 25));
          await kill(admin, fields(stores[k % 3]!).client!).catch(() => {});
        }
      })();
      await Promise.all(
        stores.map(async (s) => {
          for (let quiet = 0; quiet < 3;) {
            try {
              const r = await s.fireDueJobs(new Date(), 20, secondPlanner(planned));
              quiet = r.fired.length === 0 && !r.more ? quiet + 1 : 0;
              if (quiet > 0) await new Promise((r2) => setTimeout(r2, 150)); // let expired claims lapse
            } catch (err) {
              errors.push(err);
              assert.ok(isTickworkError(err, 'STORE_ERROR'), String(err));
              await new Promise((r) => setTimeout(r, 20)); // back off, as the scheduler does
            }
          }
        }),
      );
      stop = true;
      await killer;
      assert.ok(errors.length > 0, 'some calls met a killed connection');
      // Whatever failed, each job has every fire time from base to its next run time, once.
      const jobs = await stores[1]!.getJobs();
      assert.equal(jobs.length, 300);
      const byJob = new Map<string, number[]>();
      for (let offset = 0; ; offset += 1000) {
        const page = await stores[2]!.getRuns({ limit: 1000, offset });
        for (const r of page)
          byJob.set(r.jobId, [...(byJob.get(r.jobId) ?? []), r.scheduledFireTime.getTime()]);
        if (page.length < 1000) break;
      }
      for (const j of jobs) {
        const times = (byJob.get(j.id) ?? []).sort((a, b) => a - b);
        const expected = Array.from(
          { length: (j.nextRunTime!.getTime() - base) / SECOND },
          (_, i) => base + i * SECOND,
        );
        assert.deepEqual(times, expected, `${j.id}: each fire time once, no gaps`);
        assert.ok(times.length >= 31, `${j.id} caught up`);
      }
    } finally {
      for (const s of stores) await s.stop();
    }
  });
});

/** A TCP proxy in front of Redis that can be cut: every socket closed, new ones refused until reopened. */
async function cuttableProxy(): Promise<{
  port: number;
  sockets: Set<Socket>;
  proxy: Server;
  setOpen(open: boolean): void;
}> {
  const target = new URL(REDIS_URL);
  const sockets = new Set<Socket>();
  let open = true;
  const proxy: Server = createServer((client) => {
    if (!open) return client.destroy();
    const upstream = connect(Number(target.port || 6379), target.hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const port = (proxy.address() as { port: number }).port;
  return {
    port,
    sockets,
    proxy,
    setOpen(value) {
      open = value;
      if (!value) for (const s of sockets) s.destroy();
    },
  };
}

test('a firing step whose apply is cut off: the same store claims the jobs again at once (not after claimTimeout) and fires each once', async () => {
  const { port, sockets, proxy, setOpen } = await cuttableProxy();
  await withPrefix(async (prefix) => {
    const store = new RedisStore(
      { url: `redis://127.0.0.1:${port}` },
      { prefix, listen: false, claimTimeout: 60_000 },
    );
    await store.start(startContext);
    try {
      const due = new Date(Date.now() - 5 * SECOND);
      for (const id of ['a', 'b']) await store.addJob(job(id, { nextRunTime: due }), 'error');
      const planned: string[] = [];
      // The connection goes down between the claim and the apply (the planner runs in between).
      await assert.rejects(
        store.fireDueJobs(new Date(), 10, (j, ctx) => {
          setOpen(false);
          return secondPlanner(planned, HOUR)(j, ctx);
        }),
        (err: unknown) => isTickworkError(err, 'STORE_ERROR'),
      );
      setOpen(true);
      let fired: string[] = [];
      await until(
        async () => {
          try {
            fired = (await store.fireDueJobs(new Date(), 10, secondPlanner(planned, HOUR))).fired.map(
              (f) => f.job.id,
            );
            return true;
          } catch {
            return false;
          }
        },
        10_000,
        'the store to work again',
      );
      assert.deepEqual(fired, ['a', 'b'], 'claimed again at once, though the lost claims hold for a minute');
      const runs = await store.getRuns({ limit: 10 });
      assert.deepEqual(runs.map((r) => `${r.jobId}@${r.scheduledFireTime.getTime()}`).sort(), [
        `a@${due.getTime()}`,
        `b@${due.getTime()}`,
      ]);
    } finally {
      await store.stop();
      proxy.close();
      for (const s of sockets) s.destroy();
    }
  });
});

test('an outage (the connection cut and refused) makes calls reject with STORE_ERROR; after it the store works again with nothing lost', async () => {
  const { port, sockets, proxy, setOpen } = await cuttableProxy();
  await withPrefix(async (prefix) => {
    const store = new RedisStore({ url: `redis://127.0.0.1:${port}` }, { prefix });
    await store.start(startContext);
    try {
      const due = new Date(Date.now() - 5 * SECOND);
      await store.addJob(job('a', { nextRunTime: due }), 'error');
      setOpen(false);
      // Subscribing during the outage: the subscriber connects (and subscribes) once Redis is back.
      const heard: StoreChange[] = [];
      const off = store.subscribe((c) => heard.push(c));
      await assert.rejects(store.fireDueJobs(new Date(), 10, secondPlanner([])), (err: unknown) => {
        assert.ok(isTickworkError(err, 'STORE_ERROR'), String(err));
        return true;
      });
      await assert.rejects(store.getJob('a'), (err: unknown) => isTickworkError(err, 'STORE_ERROR'));
      setOpen(true);
      let fired: string[] = [];
      await until(
        async () => {
          try {
            const r = await store.fireDueJobs(new Date(), 10, secondPlanner([]));
            fired = r.fired.map((f) => f.job.id);
            return true;
          } catch {
            return false;
          }
        },
        10_000,
        'the store to work again',
      );
      assert.deepEqual(fired, ['a'], 'the job that was due during the outage fires after it');
      const runs = await store.getRuns({ jobId: 'a' });
      assert.deepEqual(
        runs.map((r) => r.scheduledFireTime.getTime()),
        [due.getTime()],
      );
      await store.listening();
      const other = new RedisStore({ url: REDIS_URL }, { prefix, listen: false });
      await other.start(startContext);
      try {
        await until(
          async () => {
            await other.updateJob('a', { name: `n${heard.length}` });
            await new Promise((r) => setTimeout(r, 20));
            return heard.some((c) => c.kind === 'job-modified' && c.jobId === 'a');
          },
          10_000,
          "another process's change, heard by the subscriber opened during the outage",
        );
      } finally {
        off();
        await other.stop();
      }
    } finally {
      await store.stop();
      proxy.close();
      for (const s of sockets) s.destroy();
    }
  });
});

test('job hashes written badly by hand (a number that is not one, a field missing) are listed as __invalid__, quarantined, never deleted', async () => {
  await withPrefix(async (prefix, admin) => {
    const store = new RedisStore({ url: REDIS_URL }, { prefix, listen: false });
    await store.start(startContext);
    try {
      const past = new Date(Date.now() - 60 * SECOND);
      const trigger = new IntervalTrigger({ seconds: 60, startDate: new Date(0) }).toJSON();
      for (const id of ['ok', 'count', 'gone'])
        await store.addJob(job(id, { nextRunTime: past, trigger }), 'error');
      await admin.hset(`${prefix}job:count`, 'max_instances', 'lots');
      await admin.hdel(`${prefix}job:gone`, 'trigger');
      const listed = await store.getJobs();
      assert.deepEqual(
        listed.map((j) => [j.id, j.trigger.type, j.trigger.field ?? null]),
        [
          ['count', '__invalid__', 'max_instances'],
          ['gone', '__invalid__', 'trigger'],
          ['ok', 'interval', null],
        ],
      );
      const result = await store.fireDueJobs(new Date(), 10, quarantining);
      assert.deepEqual(
        result.fired.map((f) => [f.job.id, f.runs.length, f.plan.quarantine !== undefined]),
        [
          ['count', 0, true],
          ['gone', 0, true],
          ['ok', 1, false],
        ],
      );
      assert.equal(await store.countJobs(), 3, 'nothing deleted');
      assert.deepEqual(
        (await store.getJobs({ paused: true })).map((j) => j.id),
        ['count', 'gone'],
      );
      assert.equal(await admin.hget(`${prefix}job:count`, 'max_instances'), 'lots', 'the bad value kept');
      assert.equal(await admin.hget(`${prefix}job:count`, 'paused'), '1');
      assert.ok((await admin.hget(`${prefix}job:gone`, 'quarantine'))!.length > 0, 'the reason stored');
      assert.equal(await admin.zscore(`${prefix}due`, 'count'), null, 'no longer due');
      // Repairing the field brings the job back.
      await store.updateJob('count', { maxInstances: 2, paused: false, nextRunTime: past });
      const again = await store.fireDueJobs(new Date(), 10, secondPlanner([], HOUR));
      assert.deepEqual(
        again.fired.map((f) => [f.job.id, f.job.maxInstances, f.runs.length]),
        [['count', 2, 1]],
      );
    } finally {
      await store.stop();
    }
  });
});

test('a subscriber whose connection is killed reconnects, announces a resync, and hears changes again', async () => {
  await withPrefix(async (prefix, admin) => {
    const store = new RedisStore({ url: REDIS_URL }, { prefix });
    const other = new RedisStore({ url: REDIS_URL }, { prefix, listen: false });
    await store.start(startContext);
    await other.start(startContext);
    const heard: StoreChange[] = [];
    const off = store.subscribe((c) => heard.push(c));
    try {
      await store.listening();
      await other.addJob(job('before'), 'error');
      await until(() => heard.some((c) => c.jobId === 'before'), 5000, 'the first message');
      await kill(admin, fields(store).subscriber!);
      await until(
        () => heard.some((c) => c.kind === 'job-modified' && c.jobId === undefined),
        5000,
        'a resync',
      );
      // Subscribed again: the next change made elsewhere arrives.
      await until(
        async () => {
          await other.updateJob('before', { name: `n${heard.length}` });
          await new Promise((r) => setTimeout(r, 20));
          return heard.some((c) => c.kind === 'job-modified' && c.jobId === 'before');
        },
        5000,
        'a message after the reconnection',
      );
    } finally {
      off();
      await store.stop();
      await other.stop();
    }
  });
});

test('a caller-owned client is used as it is and never closed by the store', async () => {
  await withPrefix(async (prefix) => {
    const client = new Redis(REDIS_URL);
    const store = new RedisStore({ client }, { prefix });
    try {
      await store.start(startContext);
      await store.addJob(job('mine'), 'error');
      const off = store.subscribe(() => {});
      await store.listening();
      off();
      await store.stop();
      assert.equal(client.status, 'ready', 'still open');
      assert.equal(await client.hget(`${prefix}job:mine`, 'id'), 'mine');
      assert.throws(
        () => new RedisStore({ client, url: REDIS_URL } as never),
        (err: unknown) => isTickworkError(err, 'INVALID_OPTION'),
      );
      const prefixed = new Redis(REDIS_URL, { keyPrefix: 'elsewhere:', lazyConnect: true });
      assert.throws(
        () => new RedisStore({ client: prefixed }),
        (err: unknown) => isTickworkError(err, 'INVALID_OPTION') && /keyPrefix/.test(err.message),
      );
      prefixed.disconnect();
    } finally {
      await client.quit();
    }
  });
});

test('the store reads the Redis clock: measureClockOffset against a node 30 s slow, and nodes seen by that clock', async () => {
  await withPrefix(async (prefix) => {
    const store = new RedisStore({ url: REDIS_URL }, { prefix, listen: false });
    await store.start(startContext);
    try {
      const sample = await store.measureClockOffset(() => Date.now() - 30 * SECOND);
      assert.ok(Math.abs(sample.offset - 30 * SECOND) < 2 * SECOND, `offset ${sample.offset}`);
      assert.ok(sample.roundTrip >= 0);
      const startedAt = new Date(Date.now() - 5 * SECOND);
      await store.registerNode({ id: 'n1', host: 'h1', pid: 11, startedAt, clockOffset: 12 });
      await store.registerNode({ id: 'n0', host: 'h0', pid: 10, startedAt, clockOffset: 0 });
      await store.addJob(job('a', { nextRunTime: new Date(Date.now() - SECOND) }), 'error');
      await store.fireDueJobs(new Date(), 10, secondPlanner([]));
      assert.equal((await store.acquireRuns('n1', new Date(), 10, 30_000)).length, 1);
      const nodes = await store.getNodes();
      assert.deepEqual(
        nodes.map((n) => [n.id, n.host, n.pid, n.startedAt.getTime(), n.clockOffset, n.runningRuns]),
        [
          ['n0', 'h0', 10, startedAt.getTime(), 0, 0],
          ['n1', 'h1', 11, startedAt.getTime(), 12, 1],
        ],
      );
      assert.ok(Math.abs(nodes[0]!.lastSeenAt.getTime() - Date.now()) < 10 * SECOND);
      await store.unregisterNode('n0');
      assert.deepEqual(
        (await store.getNodes()).map((n) => n.id),
        ['n1'],
      );
    } finally {
      await store.stop();
    }
  });
});

test('keys written badly by hand: a job hash without a version, an empty number, a key of another type, an index entry without its run', async () => {
  await withPrefix(async (prefix, admin) => {
    const store = new RedisStore({ url: REDIS_URL }, { prefix, listen: false });
    await store.start(startContext);
    try {
      const past = new Date(Date.now() - 60 * SECOND);
      const trigger = new IntervalTrigger({ seconds: 60, startDate: new Date(0) }).toJSON();
      for (const id of ['nover', 'empty', 'ok', 'typed'])
        await store.addJob(job(id, { nextRunTime: past, trigger }), 'error');
      await admin.hdel(`${prefix}job:nover`, 'version');
      await admin.hset(`${prefix}job:empty`, 'max_instances', ''); // Number('') is 0
      // A replace of the version-less job (what every process does at boot) resolves: it looped, sending its
      // script tens of thousands of times a second.
      const replaced = await Promise.race([
        store.addJob(job('nover', { nextRunTime: past, trigger, name: 'renamed' }), 'replace'),
        new Promise<'stuck'>((r) => setTimeout(() => r('stuck'), 5000)),
      ]);
      assert.notEqual(replaced, 'stuck', 'addJob resolved');
      await admin.hdel(`${prefix}job:nover`, 'version');
      // A string where the job hash belongs, and a run id indexed without its hash.
      await admin.del(`${prefix}job:typed`);
      await admin.set(`${prefix}job:typed`, 'oops');
      await admin.zadd(`${prefix}runs`, Date.now(), 'ghost');
      await admin.zadd(`${prefix}job-runs:ok`, Date.now(), 'ghost');
      const fired = await store.fireDueJobs(new Date(), 10, quarantining);
      assert.deepEqual(
        fired.fired.map((f) => [f.job.id, f.runs.length, f.plan.quarantine !== undefined]).sort(),
        [
          ['empty', 0, true],
          ['nover', 0, true],
          ['ok', 1, false],
        ],
      );
      // The quarantines were stored (the one without a version too: its compare-and-set read '' as '').
      assert.deepEqual(
        [await admin.hget(`${prefix}job:nover`, 'paused'), await admin.hget(`${prefix}job:empty`, 'paused')],
        ['1', '1'],
      );
      // Listing and history still answer; the string key is no job, the ghost no run.
      assert.deepEqual((await store.getJobs()).map((j) => j.id).sort(), ['empty', 'nover', 'ok']);
      assert.deepEqual((await store.getJobs({ sort: 'name' })).map((j) => j.id).sort(), [
        'empty',
        'nover',
        'ok',
      ]);
      const runs = await store.getRuns({});
      assert.deepEqual(
        runs.map((r) => r.jobId),
        ['ok'],
      );
      assert.deepEqual(
        (await store.getRuns({ jobId: 'ok', status: ['pending'] })).map((r) => r.jobId),
        ['ok'],
      );
      // The string key is no job to remove either: not found (it was STORE_ERROR, a 503), left alone.
      assert.equal(await store.removeJob('typed'), null);
      assert.equal(await admin.get(`${prefix}job:typed`), 'oops');
      // The version-less job can be paused and removed through the API.
      assert.equal((await store.updateJob('nover', { paused: true })).id, 'nover');
      assert.equal((await store.removeJob('nover'))?.id, 'nover');
    } finally {
      await store.stop();
    }
  });
});

test('due index entries that are no due job (the hash deleted or of another type, paused edited by hand) leave the due index at the next claim, which fires the other jobs; the hand-paused job counts as paused', async () => {
  await withPrefix(async (prefix, admin) => {
    const store = new RedisStore({ url: REDIS_URL }, { prefix, listen: false });
    await store.start(startContext);
    try {
      const past = new Date(Date.now() - 60 * SECOND);
      const trigger = new IntervalTrigger({ seconds: 60, startDate: new Date(0) }).toJSON();
      for (const id of ['ok', 'edited', 'typed'])
        await store.addJob(job(id, { nextRunTime: past, trigger }), 'error');
      // Left in the due index with a past score: an id whose hash is gone, one whose key holds a string,
      // and a job whose paused field was edited to a value that is not '0'.
      await admin.zadd(`${prefix}due`, 0, 'ghost');
      await admin.del(`${prefix}job:typed`);
      await admin.set(`${prefix}job:typed`, 'oops');
      await admin.hset(`${prefix}job:edited`, 'paused', 'yes');
      const fired = await store.fireDueJobs(new Date(), 10, quarantining);
      assert.deepEqual(
        fired.fired.map((f) => f.job.id),
        ['ok'],
      );
      // Nothing in the due index is due any more: the wake-up no longer finds a past time to fire nothing at.
      assert.deepEqual(await admin.zrangebyscore(`${prefix}due`, '-inf', Date.now()), []);
      assert.equal(await admin.zscore(`${prefix}due`, 'ghost'), null);
      assert.equal(await admin.zscore(`${prefix}due`, 'typed'), null);
      // The edited job is kept, listed and counted as paused; the string key is left alone.
      const edited = await store.getJob('edited');
      assert.equal(edited?.paused, true);
      assert.deepEqual(
        (await store.getJobs({ paused: true })).map((j) => j.id),
        ['edited'],
      );
      assert.equal(await store.countJobs({ paused: true }), 1);
      assert.equal(await admin.get(`${prefix}job:typed`), 'oops');
      // The next claim finds nothing due and nothing to clean.
      const again = await store.fireDueJobs(new Date(), 10, quarantining);
      assert.equal(again.fired.length, 0);
    } finally {
      await store.stop();
    }
  });
});

test('a job whose run keys (active:<id>, job-runs:<id>) hold another type, written by hand, is quarantined with the key named, kept, and the other jobs fire (the apply failed with WRONGTYPE for every job); a lease entry without its run leaves the index', async () => {
  await withPrefix(async (prefix, admin) => {
    const store = new RedisStore({ url: REDIS_URL }, { prefix, listen: false });
    await store.start(startContext);
    try {
      const past = new Date(Date.now() - 60 * SECOND);
      const trigger = new IntervalTrigger({ seconds: 60, startDate: new Date(0) }).toJSON();
      for (const id of ['ok', 'act', 'hist'])
        await store.addJob(job(id, { nextRunTime: past, trigger }), 'error');
      await admin.set(`${prefix}active:act`, 'oops');
      await admin.lpush(`${prefix}job-runs:hist`, 'oops');
      const fired = await store.fireDueJobs(new Date(), 10, quarantining);
      assert.deepEqual(
        fired.fired.map((f) => [f.job.id, f.runs.length]),
        [['ok', 1]],
      );
      const act = await store.getJob('act');
      const hist = await store.getJob('hist');
      assert.equal(act?.paused, true);
      assert.equal(act?.quarantine, `the key ${prefix}active:act holds a string, not a set`);
      assert.equal(hist?.paused, true);
      assert.equal(hist?.quarantine, `the key ${prefix}job-runs:hist holds a list, not a zset`);
      // Kept, with their next run time; the keys written by hand are left alone; no run was stored for them.
      assert.equal(act?.nextRunTime?.getTime(), past.getTime());
      assert.equal(await admin.get(`${prefix}active:act`), 'oops');
      assert.deepEqual(await admin.lrange(`${prefix}job-runs:hist`, 0, -1), ['oops']);
      assert.deepEqual(
        (await store.getRuns({})).map((r) => r.jobId),
        ['ok'],
      );
      assert.deepEqual(await admin.zrangebyscore(`${prefix}due`, '-inf', Date.now()), []);
      assert.equal((await store.fireDueJobs(new Date(), 10, quarantining)).fired.length, 0);
      // The history of the job whose index is a list is empty (it failed with WRONGTYPE, a 503 in the API).
      assert.deepEqual(await store.getRuns({ jobId: 'hist' }), []);
      // A lease index entry whose run hash is gone leaves the index when leases are reaped: its past score
      // made every wake-up find a lease to reap and reap nothing.
      await admin.zadd(`${prefix}running`, 0, 'no-such-run');
      assert.deepEqual(await store.reapExpiredRuns(new Date(), 10), []);
      assert.equal(await admin.zscore(`${prefix}running`, 'no-such-run'), null);
    } finally {
      await store.stop();
    }
  });
});

test('ioredis options in a URL are read as numbers and booleans (connectTimeout=1000 crashed the process); keyPrefix and stringNumbers are refused', async () => {
  await withPrefix(async (prefix) => {
    const store = new RedisStore({
      url: `${REDIS_URL}?prefix=${encodeURIComponent(prefix)}&connectTimeout=1000&enableAutoPipelining=true&listen=false`,
    });
    await store.start(startContext);
    try {
      const options = fields(store).client!.options;
      assert.deepEqual([options.connectTimeout, options.enableAutoPipelining], [1000, true]);
      await store.addJob(job('a'), 'error');
      assert.equal((await store.getJob('a'))?.id, 'a');
    } finally {
      await store.stop();
    }
  });
  // `family` is a number for the driver (with a host name to resolve it failed: "must be one of 0, 4, 6").
  await withPrefix(async (prefix) => {
    const local = new URL(REDIS_URL);
    local.hostname = 'localhost';
    local.searchParams.set('family', '4');
    local.searchParams.set('prefix', prefix);
    const store = new RedisStore({ url: local.toString() }, { listen: false });
    await store.start(startContext);
    await store.stop();
  });
  // The database: an integer >= 0, in the path or a `db` parameter, not both differently; one the server
  // refuses fails the start (its keys went to database 0).
  for (const [query, path] of [
    ['db=abc', ''],
    ['db=-1', ''],
    ['db=1', '/0'],
    ['', '/x'],
  ] as const) {
    const url = new URL(REDIS_URL);
    url.pathname = path;
    url.search = query;
    assert.throws(
      () => new RedisStore({ url: url.toString() }),
      (err: unknown) => isTickworkError(err, 'INVALID_OPTION') && err.details.field === 'db',
      url.toString(),
    );
  }
  const far = new RedisStore({ url: `${REDIS_URL}?db=99999` }, { listen: false, prefix: testPrefix() });
  await assert.rejects(far.start(startContext), (err: unknown) => isTickworkError(err, 'STORE_ERROR'));
  for (const bad of ['keyPrefix=x:', 'stringNumbers=true'])
    assert.throws(
      () => new RedisStore({ url: `${REDIS_URL}?${bad}` }),
      (err: unknown) => isTickworkError(err, 'INVALID_OPTION') && err.details.field === bad.split('=')[0],
    );
  const client = new Redis(REDIS_URL, { stringNumbers: true, lazyConnect: true });
  try {
    assert.throws(
      () => new RedisStore({ client }),
      (err: unknown) => isTickworkError(err, 'INVALID_OPTION') && err.details.field === 'client',
    );
  } finally {
    client.disconnect();
  }
});

test('a Redis server that keeps nothing on disk is reported at start (it loses every job when it restarts)', async () => {
  await withPrefix(async (prefix, admin) => {
    const [, aof] = (await admin.config('GET', 'appendonly')) as string[];
    const [, save] = (await admin.config('GET', 'save')) as string[];
    const volatile = aof === 'no' && save === '';
    const warnings: string[] = [];
    const store = new RedisStore({ url: REDIS_URL }, { prefix, listen: false });
    await store.start({ ...startContext, warn: (m) => warnings.push(m) });
    await store.stop();
    assert.equal(warnings.length, volatile ? 1 : 0, `appendonly ${aof}, save "${save}": ${warnings.join()}`);
    if (volatile) assert.match(warnings[0]!, /keeps nothing on disk.*restart of it loses every job/);
    // The test server of CI runs without persistence (`--save "" --appendonly no`): the warning is seen there.
  });
});

test("a job hash whose id field was deleted or changed by hand is read under its key's id as undecodable and quarantined; counts by task agree with listings, counts without one come from the indexes", async () => {
  await withPrefix(async (prefix, admin) => {
    const store = new RedisStore({ url: REDIS_URL }, { prefix, listen: false });
    await store.start(startContext);
    try {
      const past = new Date(Date.now() - 60 * SECOND);
      const trigger = new IntervalTrigger({ seconds: 60, startDate: new Date(0) }).toJSON();
      for (const id of ['noid', 'ok', 'wrongid'])
        await store.addJob(job(id, { nextRunTime: past, trigger }), 'error');
      await admin.hdel(`${prefix}job:noid`, 'id');
      await admin.hset(`${prefix}job:wrongid`, 'id', 'other');
      // An index entry without its hash, and one whose key holds a string: no jobs.
      await admin.zadd(`${prefix}jobs`, 0, 'ghost');
      await admin.zadd(`${prefix}jobs`, 0, 'typed');
      await admin.set(`${prefix}job:typed`, 'oops');
      const read = (jobs: JobRecord[]) => jobs.map((j) => [j.id, j.trigger.type, j.trigger.field ?? null]);
      const expected = [
        ['noid', '__invalid__', 'id'],
        ['ok', 'interval', null],
        ['wrongid', '__invalid__', 'id'],
      ];
      assert.deepEqual(read(await store.getJobs()), expected);
      assert.deepEqual(read(await store.getJobs({ sort: 'name' })).sort(), expected);
      assert.deepEqual(read(await store.getJobs({ paused: false })), expected);
      assert.deepEqual(read([(await store.getJob('noid'))!]), [expected[0]]);
      // Counts by task: the three jobs listed. Without a task, the indexes: the job index holds five ids
      // (two added by hand), none of them in the paused set.
      assert.equal(await admin.zcard(`${prefix}jobs`), 5);
      assert.equal(await store.countJobs({ taskId: 'task-a' }), 3);
      assert.equal(await store.countJobs({ taskId: 'task-a', paused: false }), 3);
      assert.equal(await store.countJobs(), 5);
      assert.equal(await store.countJobs({ paused: false }), 5);
      assert.equal(await store.countJobs({ paused: true }), 0);
      const fired = await store.fireDueJobs(new Date(), 10, quarantining);
      assert.deepEqual(
        fired.fired.map((f) => [f.job.id, f.runs.length, f.plan.quarantine !== undefined]).sort(),
        [
          ['noid', 0, true],
          ['ok', 1, false],
          ['wrongid', 0, true],
        ],
      );
      assert.deepEqual(
        [await admin.hget(`${prefix}job:noid`, 'paused'), await admin.hget(`${prefix}job:wrongid`, 'paused')],
        ['1', '1'],
      );
      // The quarantine paused them (as a script, so the paused set knows).
      assert.equal(await store.countJobs({ paused: true }), 2);
      assert.equal(await store.countJobs({ taskId: 'task-a', paused: true }), 2);
      assert.equal(await store.countJobs({ paused: false }), 3);
      // Removing an id whose index entry has no job hash finds no job and drops the entry; the key of
      // another type is left as it was.
      assert.equal(await store.removeJob('ghost'), null);
      assert.equal(await store.removeJob('typed'), null);
      assert.equal(await admin.get(`${prefix}job:typed`), 'oops');
      assert.equal(await store.countJobs(), 3);
      assert.equal(await store.countJobs({ paused: false }), 1);
      assert.deepEqual(
        (await store.getJobs({ paused: true })).map((j) => j.id),
        ['noid', 'wrongid'],
      );
      // A re-add (every process's boot) brings the job back, its id field written again.
      const back = await store.addJob(job('noid', { nextRunTime: past, trigger }), 'replace');
      assert.equal(back.outcome, 'replaced');
      assert.equal(await admin.hget(`${prefix}job:noid`, 'id'), 'noid');
      assert.equal((await store.getJob('noid'))!.trigger.type, 'interval');
    } finally {
      await store.stop();
    }
  });
});

test('counts without a task come from the job index and the paused set, which every script that writes a job keeps exact, and which start builds for a key space without one', async () => {
  await withPrefix(async (prefix, admin) => {
    let store = new RedisStore({ url: REDIS_URL }, { prefix, listen: false });
    await store.start(startContext);
    const counts = async () => [
      await store.countJobs(),
      await store.countJobs({ paused: true }),
      await store.countJobs({ paused: false }),
    ];
    try {
      const past = new Date(Date.now() - 60 * SECOND);
      for (const id of ['p1', 'p2'])
        await store.addJob(job(id, { paused: true, nextRunTime: null }), 'error');
      for (const id of ['u1', 'u2']) await store.addJob(job(id, { nextRunTime: past }), 'error');
      assert.deepEqual(await counts(), [4, 2, 2]);
      // The firing step's plan removes u1 (into a retired copy): no longer counted, paused or not.
      const fired = await store.fireDueJobs(new Date(), 10, (j) => ({
        runs: [{ scheduledFireTime: j.nextRunTime!, status: 'pending', notBefore: j.nextRunTime! }],
        nextRunTime: j.id === 'u1' ? null : new Date(j.nextRunTime!.getTime() + HOUR),
        remove: j.id === 'u1',
      }));
      assert.deepEqual(fired.fired.map((f) => f.job.id).sort(), ['u1', 'u2']);
      assert.deepEqual(await counts(), [3, 2, 1]);
      await store.updateJob('p1', { paused: false });
      assert.deepEqual(await counts(), [3, 1, 2]);
      await store.updateJob('u2', { paused: true });
      assert.deepEqual(await counts(), [3, 2, 1]);
      await store.removeJob('p2');
      assert.deepEqual(await counts(), [2, 1, 1]);
      assert.deepEqual(await admin.smembers(`${prefix}paused`), ['u2']);

      // A key space from before the paused set: start builds it from the hashes, once.
      await store.stop();
      await admin.del(`${prefix}paused`, `${prefix}paused-indexed`);
      store = new RedisStore({ url: REDIS_URL }, { prefix, listen: false });
      await store.start(startContext);
      assert.deepEqual(await counts(), [2, 1, 1]);
      assert.equal(await admin.get(`${prefix}paused-indexed`), '1');
      // Built once: a later start leaves the set as the scripts keep it.
      await admin.srem(`${prefix}paused`, 'u2');
      await store.stop();
      store = new RedisStore({ url: REDIS_URL }, { prefix, listen: false });
      await store.start(startContext);
      assert.deepEqual(await counts(), [2, 0, 2]);
      await store.updateJob('u2', { name: 'renamed' });
      assert.deepEqual(await counts(), [2, 1, 1], 'the next write of the job puts it back');

      assert.equal(await store.removeAllJobs(), 2);
      assert.deepEqual(await counts(), [0, 0, 0]);
      assert.equal(await admin.exists(`${prefix}paused`), 0);
    } finally {
      await store.stop();
    }
  });
});

test('listing by name orders by code point with NUL bytes and astral characters, through renames, removals and a rebuilt index', async () => {
  await withPrefix(async (prefix, admin) => {
    let store = new RedisStore({ url: REDIS_URL }, { prefix, listen: false });
    await store.start(startContext);
    try {
      const names: [string, string][] = [
        ['j1', 'ab'],
        ['j2', 'a\u0000b'],
        ['j3', 'a'],
        ['j4', 'a\u0001'],
        ['j5', ''],
        ['j0', 'a'],
        ['j6', '\u00e9'],
        ['j7', 'z'],
        ['j8', '\u{1F600}'],
        ['j9', '\uFF5E'],
      ];
      const due = new Date(Date.now() - 60 * SECOND);
      for (const [id, name] of names)
        await store.addJob(job(id, { name, nextRunTime: id === 'j1' ? due : null }), 'error');
      const byName = async (extra: Parameters<RedisStore['getJobs']>[0] = {}) =>
        (await store.getJobs({ sort: 'name', ...extra })).map((j) => j.id);
      // By hand: '' < 'a' (j0, j3 by id) < 'a\0b' < 'a\u0001' < 'ab' < 'z' < U+00E9 < U+FF5E < U+1F600 (which
      // UTF-16 would put before U+FF5E).
      assert.deepEqual(await byName(), ['j5', 'j0', 'j3', 'j2', 'j4', 'j1', 'j7', 'j6', 'j9', 'j8']);
      assert.deepEqual(await byName({ offset: 2, limit: 3 }), ['j3', 'j2', 'j4']);
      assert.deepEqual(await byName({ afterId: 'j5' }), ['j7', 'j6', 'j9', 'j8']);
      assert.deepEqual(await byName({ taskId: 'task-a', limit: 2 }), ['j5', 'j0']);

      await store.updateJob('j7', { name: 'a' });
      await store.removeJob('j2');
      // The firing step's plan removes j1 into its retired copy: no longer listed.
      await store.fireDueJobs(new Date(), 10, (j) => ({
        runs: [{ scheduledFireTime: j.nextRunTime!, status: 'pending', notBefore: j.nextRunTime! }],
        nextRunTime: null,
        remove: true,
      }));
      await store.addJob(job('j4', { name: 'b' }), 'replace');
      const expected = ['j5', 'j0', 'j3', 'j7', 'j4', 'j6', 'j9', 'j8'];
      assert.deepEqual(await byName(), expected);
      assert.equal(await admin.zcard(`${prefix}names`), 8, 'one index entry per job: none left behind');
      // A paused job that keeps a next run time (pausing through the scheduler clears it) sorts by it: j6
      // first, then the jobs without one (j4's replacement kept its stored one, none), by id.
      const later = new Date(Date.now() + 2 * HOUR);
      await store.updateJob('j6', { paused: true, nextRunTime: later });
      assert.equal((await store.getJob('j4'))!.nextRunTime, null);
      const byNext = ['j6', 'j0', 'j3', 'j4', 'j5', 'j7', 'j8', 'j9'];
      const nextIds = async () => (await store.getJobs({ sort: 'nextRunTime' })).map((j) => j.id);
      assert.deepEqual(await nextIds(), byNext);

      // A key space from before the name and held indexes: start builds them from the hashes, once.
      await store.stop();
      await admin.del(`${prefix}names`, `${prefix}held`, `${prefix}listing-indexed`);
      store = new RedisStore({ url: REDIS_URL }, { prefix, listen: false });
      await store.start(startContext);
      assert.deepEqual(await byName(), expected);
      assert.deepEqual(await nextIds(), byNext);
      assert.equal(await admin.get(`${prefix}listing-indexed`), '1');

      assert.equal(await store.removeAllJobs(), 8);
      assert.equal(await admin.exists(`${prefix}names`, `${prefix}held`), 0);
    } finally {
      await store.stop();
    }
  });
});

test('a page of jobs sorted by name or next run time, or of unpaused or paused jobs, reads the hashes of that page (and of the jobs it skips) only, not every job', async () => {
  await withPrefix(async (prefix, admin) => {
    const store = new RedisStore({ url: REDIS_URL }, { prefix, listen: false });
    await store.start(startContext);
    try {
      const n = 2000;
      const base = Date.now() + HOUR;
      const ids = Array.from({ length: n }, (_, i) => `job-${String(i).padStart(4, '0')}`);
      for (let i = 0; i < n; i += 200)
        await Promise.all(
          ids.slice(i, i + 200).map((id, k) =>
            store.addJob(
              job(id, {
                name: `n-${String(((i + k) * 7) % n).padStart(4, '0')}`,
                // Every fourth job paused (its next run time cleared, as pausing does).
                paused: (i + k) % 4 === 0,
                nextRunTime: (i + k) % 4 === 0 ? null : new Date(base - (i + k) * SECOND),
              }),
              'error',
            ),
          ),
        );
      const first = (k: number) => ids.slice(0, k);
      // [what, filter, the page, the hashes it may read: the page's and those its offset skips]
      const pages: [string, Parameters<RedisStore['getJobs']>[0], string[], string[]][] = [
        // Job i is named n-(7i mod 2000): n-0000 is job 0, n-0001 job 1143 (7 * 1143 = 8001), n-0002 job 286.
        ['name', { sort: 'name', limit: 3 }, ['job-0000', 'job-1143', 'job-0286'], []],
        // Job i is due i seconds before job 0: job 1999 first.
        ['nextRunTime', { sort: 'nextRunTime', limit: 3 }, ['job-1999', 'job-1998', 'job-1997'], []],
        // Unpaused: 1, 2, 3, 5, 6 skipped; each job walked up to the page's end is read (0, 4, 8 are paused).
        ['unpaused', { paused: false, limit: 3, offset: 5 }, ['job-0007', 'job-0009', 'job-0010'], first(11)],
        // Paused: the paused set tells which jobs to read: 0 and 4 skipped.
        [
          'paused',
          { paused: true, limit: 3, offset: 2 },
          ['job-0008', 'job-0012', 'job-0016'],
          ['job-0000', 'job-0004'],
        ],
      ];
      for (const [what, filter, expected, skipped] of pages) {
        // Redis keeps each key's last access to the second (OBJECT IDLETIME): after 2 s without access, the
        // hashes the listing read are the ones idle for less.
        await new Promise((r) => setTimeout(r, 2100));
        const page = (await store.getJobs(filter)).map((j) => j.id);
        assert.deepEqual(page, expected, what);
        const p = admin.pipeline();
        for (const id of ids) p.object('IDLETIME', `${prefix}job:${id}`);
        const idle = ((await p.exec()) ?? []).map(([, v]) => Number(v));
        const read = ids.filter((_, i) => idle[i]! < 2);
        assert.deepEqual(
          read.sort(),
          [...new Set([...skipped, ...expected])].sort(),
          `${what}: the hashes read`,
        );
      }
    } finally {
      await store.stop();
    }
  });
});

test('listings and counts agree with the memory store after random adds, renames, pauses, moves and removals (property)', async () => {
  await withPrefix(async (prefix) => {
    const redis = new RedisStore({ url: REDIS_URL }, { prefix, listen: false });
    const memory = new MemoryStore();
    await redis.start(startContext);
    await memory.start(startContext);
    const base = Date.now() + HOUR;
    // Few values each, so that names, next run times and ids tie and meet at every byte that matters.
    const id = fc.constantFrom('a', 'b', 'c', 'a\u0000', 'a b', '\u00e9', '\u{1F600}', '\uFF5E', 'z');
    const name = fc.constantFrom(
      '',
      'a',
      'a\u0000',
      'a\u0000b',
      'a\u0001',
      '\u0000\u0001',
      'ab',
      '\u00e9',
      '\u{1F600}',
      '\uFF5E',
    );
    const next = fc.constantFrom(null, 0, 0, 1, 2).map((k) => (k === null ? null : new Date(base + k)));
    const task = fc.constantFrom('t1', 't2');
    const add = fc.record({ k: fc.constant('add'), id, name, paused: fc.boolean(), next, task });
    const op = fc.oneof(
      add,
      fc.record({ k: fc.constant('rename'), id, name }),
      fc.record({ k: fc.constant('pause'), id, paused: fc.boolean() }),
      fc.record({ k: fc.constant('move'), id, next }),
      fc.record({ k: fc.constant('remove'), id }),
    );
    const query: fc.Arbitrary<JobFilter> = fc.record(
      {
        sort: fc.constantFrom('id' as const, 'name' as const, 'nextRunTime' as const),
        paused: fc.boolean(),
        taskId: task,
        afterId: id,
        offset: fc.nat(4),
        limit: fc.nat(5),
      },
      { requiredKeys: ['sort'] },
    );
    try {
      await fc.assert(
        fc.asyncProperty(
          fc
            .tuple(fc.array(add, { minLength: 3, maxLength: 9 }), fc.array(op, { maxLength: 20 }))
            .map(([a, b]) => [...a, ...b]),
          fc.array(query, { minLength: 4, maxLength: 8 }),
          async (ops, queries) => {
            await redis.removeAllJobs();
            await memory.removeAllJobs();
            for (const o of ops) {
              for (const store of [redis, memory]) {
                if (o.k === 'add') {
                  const j = job(o.id, {
                    name: o.name,
                    paused: o.paused,
                    nextRunTime: o.next,
                    taskId: o.task,
                  });
                  await store.addJob(j, 'replace');
                } else if (o.k === 'remove') await store.removeJob(o.id);
                else {
                  const changes =
                    o.k === 'rename'
                      ? { name: o.name }
                      : o.k === 'pause'
                        ? { paused: o.paused }
                        : { nextRunTime: o.next };
                  // A job that is not there is NOT_FOUND in both stores.
                  await store.updateJob(o.id, changes).catch((err: unknown) => {
                    if (!isTickworkError(err, 'JOB_NOT_FOUND')) throw err;
                  });
                }
              }
            }
            for (const q of [{}, ...queries]) {
              const [r, m] = [await redis.getJobs(q), await memory.getJobs(q)];
              assert.deepEqual(
                r.map((j) => [j.id, j.name]),
                m.map((j) => [j.id, j.name]),
                JSON.stringify(q),
              );
            }
            for (const paused of [undefined, true, false])
              assert.equal(await redis.countJobs({ paused }), await memory.countJobs({ paused }));
          },
        ),
        { numRuns: 100, seed: 20261201 },
      );
    } finally {
      await redis.stop();
      await memory.stop();
    }
  });
});

test('a page of jobs is that of one moment: a job removed, paused or renamed by another process while the page is read neither shortens it nor brings a job the filter or the order leaves out', async () => {
  await withPrefix(async (prefix) => {
    const client = new Redis(REDIS_URL);
    const store = new RedisStore({ client }, { prefix, listen: false });
    const other = new RedisStore({ url: REDIS_URL }, { prefix, listen: false });
    // The change `meanwhile` makes through the other store, once, as soon as a listing script of `store` has
    // answered (before the store reads anything else).
    let meanwhile: (() => Promise<unknown>) | null = null;
    const listing = new Set([LIST_JOBS.sha, JOB_INDEX.sha]);
    const evalsha = client.evalsha.bind(client) as (...args: unknown[]) => Promise<unknown>;
    (client as unknown as { evalsha: unknown }).evalsha = async (...args: unknown[]) => {
      const reply = await evalsha(...args);
      const change = meanwhile;
      if (listing.has(args[0] as string) && change) {
        meanwhile = null;
        await change();
      }
      return reply;
    };
    try {
      await store.start(startContext);
      await other.start(startContext);
      const base = Date.now() + HOUR;
      const ids = 'abcdefghij'.split('');
      // Job k (a is 0) due k seconds after base (d and h paused, without one) and named n-(9 - k).
      for (const [k, id] of ids.entries())
        await store.addJob(
          job(id, {
            name: `n-${9 - k}`,
            paused: id === 'd' || id === 'h',
            nextRunTime: id === 'd' || id === 'h' ? null : new Date(base + k * SECOND),
          }),
          'error',
        );
      const ids_ = (list: JobRecord[]) => list.map((j) => j.id);
      // [what, filter, the change meanwhile, the page before the change, the page after it]
      const cases: [string, JobFilter, () => Promise<unknown>, string[], string[]][] = [
        [
          'by id, b removed',
          { limit: 4 },
          () => other.removeJob('b'),
          ['a', 'b', 'c', 'd'],
          ['a', 'c', 'd', 'e'],
        ],
        [
          'after c, e paused',
          { afterId: 'c', paused: false, limit: 3 },
          () => other.updateJob('e', { paused: true, nextRunTime: null }),
          ['e', 'f', 'g'],
          ['f', 'g', 'i'],
        ],
        [
          'by name, i renamed',
          { sort: 'name', limit: 3 },
          () => other.updateJob('i', { name: 'z' }),
          ['j', 'i', 'h'],
          ['j', 'h', 'g'],
        ],
        [
          'by next run time, f moved last',
          { sort: 'nextRunTime', offset: 2, limit: 3 },
          () => other.updateJob('f', { nextRunTime: new Date(base + HOUR) }),
          ['f', 'g', 'i'],
          ['g', 'i', 'j'],
        ],
        // Given ids (sorted in the process after one script, then read).
        [
          'given ids, g removed',
          { ids: ['j', 'g', 'c', 'a'], limit: 3 },
          () => other.removeJob('g'),
          ['a', 'c', 'g'],
          ['a', 'c', 'j'],
        ],
        // Paused jobs, too sparse for a walk: the paused set read whole, sorted in the process.
        [
          'paused, h resumed',
          { paused: true, limit: 5 },
          () => other.updateJob('h', { paused: false, nextRunTime: new Date(base) }),
          ['d', 'e', 'h'],
          ['d', 'e'],
        ],
      ];
      for (const [what, filter, change, before, after] of cases) {
        meanwhile = change;
        const page = ids_(await store.getJobs(filter));
        assert.equal(meanwhile, null, `${what}: the change was made`);
        assert.ok(
          JSON.stringify(page) === JSON.stringify(before) || JSON.stringify(page) === JSON.stringify(after),
          `${what}: ${JSON.stringify(page)} is neither ${JSON.stringify(before)} nor ${JSON.stringify(after)}`,
        );
        assert.deepEqual(ids_(await store.getJobs(filter)), after, `${what}: listed again`);
      }
    } finally {
      await other.stop();
      await store.stop();
      await client.quit();
    }
  });
});

test('run history with index entries whose run hash is gone (deleted by hand, evicted): pages stay full and offsets count runs only, with or without a status filter', async () => {
  await withPrefix(async (prefix, admin) => {
    const store = new RedisStore({ url: REDIS_URL }, { prefix, listen: false });
    await store.start(startContext);
    try {
      const t = Date.now() - HOUR;
      await store.addJob(job('a', { nextRunTime: new Date(t), maxInstances: 10 }), 'error');
      await store.fireDueJobs(new Date(), 10, () => ({
        runs: [0, 1, 2, 3, 4, 5].map((i) => ({
          scheduledFireTime: new Date(t + i * SECOND),
          status: 'missed' as const,
          notBefore: new Date(t + i * SECOND),
        })),
        nextRunTime: null,
        remove: false,
      }));
      const all = (await store.getRuns()).map((r) => r.id);
      assert.equal(all.length, 6);
      // The second and fourth newest runs' hashes are gone; their index entries stay.
      await admin.del(`${prefix}run:${all[1]}`, `${prefix}run:${all[3]}`);
      const left = [all[0], all[2], all[4], all[5]];
      for (const status of [undefined, 'missed' as const]) {
        const ids = async (offset: number, limit: number) =>
          (await store.getRuns({ offset, limit, ...(status ? { status } : {}) })).map((r) => r.id);
        assert.deepEqual(await ids(0, 3), left.slice(0, 3), `${status}: a full page`);
        assert.deepEqual(await ids(1, 2), left.slice(1, 3), `${status}: the offset counts runs`);
        assert.deepEqual(await ids(3, 5), left.slice(3), `${status}: the last page`);
        const walked: string[] = [];
        for (let offset = 0; offset < 10; offset += 2) walked.push(...(await ids(offset, 2)));
        assert.deepEqual(walked, left, `${status}: pages of 2 walk every run once`);
      }
    } finally {
      await store.stop();
    }
  });
});

// scheduler.getNodes(): the processes sharing a store, from its `nodes` table (SQLite and Redis here; PostgreSQL in
// wake-ups.test.ts and clock-skew.test.ts), or this process alone with the memory store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Scheduler, silentLogger } from '../../src/index.js';
import { RedisStore } from '../../src/stores/redis/index.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';
import { REDIS_URL, deletePrefix, tempDbFile, testPrefix } from '../contract/harness.js';

test('memory store: getNodes() is this process', async () => {
  const scheduler = new Scheduler({ logger: silentLogger, nodeId: 'solo' });
  await scheduler.start();
  try {
    const [node, ...rest] = await scheduler.getNodes();
    assert.equal(rest.length, 0);
    assert.equal(node!.id, 'solo');
    assert.equal(node!.pid, process.pid);
    assert.equal(node!.clockOffset, 0);
    assert.equal(scheduler.clockOffset, 0);
  } finally {
    await scheduler.shutdown();
  }
});

test('SQLite: two schedulers on one file see each other; a clean shutdown removes the node', async () => {
  const { dir, file } = tempDbFile();
  const make = (nodeId: string) =>
    new Scheduler({ store: new SqliteStore({ path: file }), logger: silentLogger, nodeId });
  const a = make('a');
  const b = make('b');
  try {
    await a.start();
    await b.start();
    const nodes = await a.getNodes();
    assert.deepEqual(
      nodes.map((n) => [n.id, n.pid, n.runningRuns]),
      [
        ['a', process.pid, 0],
        ['b', process.pid, 0],
      ],
    );
    assert.ok(nodes.every((n) => n.lastSeenAt.getTime() >= n.startedAt.getTime()));
    await b.shutdown();
    assert.deepEqual(
      (await a.getNodes()).map((n) => n.id),
      ['a'],
    );
  } finally {
    await a.shutdown();
    await b.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Redis: two schedulers on one prefix see each other, with the running runs of each; a clean shutdown removes the node', async () => {
  const prefix = testPrefix();
  const make = (nodeId: string) =>
    new Scheduler({ store: new RedisStore({ url: REDIS_URL }, { prefix }), logger: silentLogger, nodeId });
  const a = make('a');
  const b = make('b');
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let started!: () => void;
  const running = new Promise<void>((r) => (started = r));
  b.defineTask('hold', async () => {
    started();
    await held;
  });
  try {
    await a.start({ paused: true });
    await b.start();
    await b.addJob('hold', 'date', { id: 'hold', runDate: new Date() });
    await running;
    const nodes = await a.getNodes();
    assert.deepEqual(
      nodes.map((n) => [n.id, n.pid, n.runningRuns]),
      [
        ['a', process.pid, 0],
        ['b', process.pid, 1],
      ],
    );
    assert.ok(nodes.every((n) => n.lastSeenAt.getTime() >= n.startedAt.getTime() - 5000));
    release();
    await b.shutdown();
    assert.deepEqual(
      (await a.getNodes()).map((n) => n.id),
      ['a'],
    );
  } finally {
    release();
    await a.shutdown();
    await b.shutdown();
    await deletePrefix(prefix);
  }
});

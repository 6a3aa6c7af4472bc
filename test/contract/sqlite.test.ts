import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/stores/sqlite/index.js';
import { job, runStoreContract } from './store-contract.js';
import { sqliteHarness, startContext, tempDbFile } from './harness.js';

runStoreContract('SqliteStore', sqliteHarness, { clock: 'caller', persistent: true });

test('SqliteStore creates the directory of its database file', async () => {
  const { dir } = tempDbFile();
  const path = join(dir, 'nested', 'deeper', 'jobs.db');
  const store = new SqliteStore({ path });
  try {
    await store.start(startContext);
    await store.addJob(job('a'), 'error');
    assert.ok(existsSync(path));
    assert.equal((await store.getJob('a'))?.id, 'a');
  } finally {
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SqliteStore: a file: URI or a path the system refuses rejects with STORE_ERROR, creating nothing', async () => {
  const { dir } = tempDbFile();
  const cwd = process.cwd();
  try {
    process.chdir(dir);
    for (const path of [`file:${join(dir, 'wanted', 'jobs.db')}`, '/proc/tickwork-test/jobs.db']) {
      const store = new SqliteStore({ path });
      await assert.rejects(
        store.start(startContext),
        (e: Error & { code?: string }) => e.code === 'STORE_ERROR',
        path,
      );
    }
    assert.deepEqual(readdirSync(dir), [], 'no directory named file: made in the working directory');
    assert.ok(!existsSync(join(dir, 'wanted')));
  } finally {
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SqliteStore: a job whose paused column was written by hand as something other than 0 or 1 is listed and counted with the paused jobs, as it reads', async () => {
  const { dir, file } = tempDbFile();
  const store = new SqliteStore({ path: file });
  try {
    await store.start(startContext);
    await store.addJob(job('a'), 'error');
    await store.addJob(job('b', { paused: true, nextRunTime: null }), 'error');
    for (const id of ['c', 'd', 'e']) await store.addJob(job(id), 'error');
    const db = new Database(file);
    const write = db.prepare('UPDATE jobs SET paused = ? WHERE id = ?');
    write.run('yes', 'c');
    write.run(2, 'd');
    write.run(Buffer.from([1]), 'e');
    db.close();
    const list = await store.getJobs();
    assert.deepEqual(
      list.map((j) => [j.id, j.paused]),
      [
        ['a', false],
        ['b', true],
        ['c', true],
        ['d', true],
        ['e', true],
      ],
    );
    const ids = (l: { id: string }[]) => l.map((j) => j.id);
    assert.deepEqual(ids(await store.getJobs({ paused: true })), ['b', 'c', 'd', 'e']);
    assert.deepEqual(ids(await store.getJobs({ paused: false })), ['a']);
    assert.deepEqual(ids(await store.getJobs({ paused: true, sort: 'name', offset: 1, limit: 2 })), [
      'c',
      'd',
    ]);
    assert.equal(await store.countJobs({ paused: true }), 4);
    assert.equal(await store.countJobs({ paused: false }), 1);
    // Resuming repairs the column.
    await store.updateJob('c', { paused: false });
    assert.deepEqual(ids(await store.getJobs({ paused: false })), ['a', 'c']);
  } finally {
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

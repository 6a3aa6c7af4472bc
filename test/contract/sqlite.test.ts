import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
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

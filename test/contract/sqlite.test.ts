import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
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

// The LISTEN connection is opened with the settings of the store's pool: with a connection string, the same
// application_name and session timeouts (`options`) as the pooled sessions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { PostgresStore } from '../../src/stores/postgres/index.js';
import { PG_URL, dropSchema, startContext, testSchema } from './harness.js';

test("PostgreSQL: the listening connection is opened with the pool's settings (its application_name)", async () => {
  const schema = testSchema();
  const store = new PostgresStore({ connectionString: PG_URL }, { schema, statementTimeout: 12_345 });
  const probe = new pg.Client({ connectionString: PG_URL });
  await probe.connect();
  try {
    await store.start(startContext);
    const off = store.subscribe(() => {});
    await store.listening();
    const r = await probe.query<{ application_name: string; pid: number }>(
      `SELECT application_name, pid FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND query LIKE $1`,
      [`%${schema}%`],
    );
    assert.equal(r.rows.length, 1, 'one listening session');
    assert.equal(r.rows[0]!.application_name, 'tickwork');
    off();
  } finally {
    await store.stop();
    await probe.end();
    await dropSchema(schema);
  }
});

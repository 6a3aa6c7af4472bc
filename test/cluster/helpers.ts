// Shared pieces of the multi-process tests: the test server, a fresh schema per test, and a poll helper.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { quoteIdent } from '../../src/stores/postgres/index.js';

export const PG_URL = process.env.TICKWORK_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A connected client to the test server, or `null` after skipping the test when the server is down. */
export async function adminOrSkip(t: { skip(message: string): void }): Promise<pg.Client | null> {
  const admin = new pg.Client({ connectionString: PG_URL });
  try {
    await admin.connect();
    return admin;
  } catch {
    t.skip('PostgreSQL not reachable');
    return null;
  }
}

/** A fresh schema name `tw_test_<random>`. */
export function testSchema(): string {
  return `tw_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  } finally {
    await client.end();
  }
}

/** Polls `check` every 5 ms until it returns true or `timeoutMs` passes; resolves to whether it did. */
export async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (check()) return true;
    await sleep(5);
  }
  return check();
}

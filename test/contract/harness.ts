// Harnesses for the contract suite: each test gets a fresh store (a temp file, a new PostgreSQL schema) and
// removes it afterwards.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { PostgresStore, quoteIdent, type PostgresStoreOptions } from '../../src/stores/postgres/index.js';
import { RedisStore, type RedisStoreOptions } from '../../src/stores/redis/index.js';
import { SqliteStore, type SqliteStoreOptions } from '../../src/stores/sqlite/index.js';
import type { Store } from '../../src/stores/store.js';
import type { Harness } from './store-contract.js';

/** The test server: trust auth on 127.0.0.1, database `test`. */
export const PG_URL = process.env.TICKWORK_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

export const startContext = { nodeId: 'test-node', now: () => Date.now() };

export async function memoryHarness(options: { maxRunsPerJob?: number }): Promise<Harness> {
  const store = new MemoryStore(options);
  await store.start(startContext);
  return { store, cleanup: () => store.stop() };
}

/** A temp directory with one database file; removed by `cleanup`. */
export function tempDbFile(): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tickwork-sqlite-'));
  return { dir, file: join(dir, 'jobs.db') };
}

export async function sqliteHarness(options: Partial<SqliteStoreOptions>): Promise<Harness> {
  const { dir, file } = tempDbFile();
  const extra: Partial<SqliteStoreOptions> = options.maxRunsPerJob !== undefined ? { pruneEvery: 1000 } : {};
  const make = async (): Promise<SqliteStore> => {
    const s = new SqliteStore({ path: file, changePollInterval: 20, ...extra, ...options });
    await s.start(startContext);
    stores.push(s);
    return s;
  };
  const stores: SqliteStore[] = [];
  const store = await make();
  return {
    store,
    another: make,
    prune: () => store.prune(),
    async corrupt(jobId, column, text) {
      const db = new Database(file);
      db.prepare(`UPDATE jobs SET ${column} = ? WHERE id = ?`).run(text, jobId);
      db.close();
    },
    async cleanup() {
      for (const s of stores) await s.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh schema name `tw_test_<random>`. */
export function testSchema(): string {
  return `tw_test_${randomBytes(6).toString('hex')}`;
}

/**
 * Rows of `table` (default `runs`) in `schema` read by sequential scans so far, as the server's statistics
 * count them. `pool` must be the one connection that did the work: it is told to flush its statistics first
 * (otherwise sent up to seconds later), then they are read from a fresh snapshot.
 */
export async function seqTuplesRead(pool: pg.Pool, schema: string, table = 'runs'): Promise<number> {
  await pool.query('SELECT pg_stat_force_next_flush()');
  await pool.query('SELECT 1');
  const r = await pool.query<{ n: string }>(
    `SELECT pg_stat_clear_snapshot(), (SELECT seq_tup_read FROM pg_stat_user_tables
       WHERE schemaname = $1 AND relname = $2)::text AS n`,
    [schema, table],
  );
  return Number(r.rows[0]!.n);
}

/**
 * Blocks of `table` in `schema` read so far (from the buffer cache or not), as the server's statistics count
 * them (as {@link seqTuplesRead}: `pool` must be the one connection that did the work).
 */
export async function heapBlocksRead(pool: pg.Pool, schema: string, table: string): Promise<number> {
  await pool.query('SELECT pg_stat_force_next_flush()');
  await pool.query('SELECT 1');
  const r = await pool.query<{ n: string }>(
    `SELECT pg_stat_clear_snapshot(), (SELECT heap_blks_read + heap_blks_hit FROM pg_statio_user_tables
       WHERE schemaname = $1 AND relname = $2)::text AS n`,
    [schema, table],
  );
  return Number(r.rows[0]!.n);
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

export async function postgresHarness(options: Partial<PostgresStoreOptions>): Promise<Harness> {
  const schema = testSchema();
  const stores: Store[] = [];
  const make = async (): Promise<PostgresStore> => {
    const s = new PostgresStore({ connectionString: PG_URL }, { schema, poolSize: 2, ...options });
    stores.push(s);
    await s.start(startContext);
    return s;
  };
  const store = await make();
  return {
    store,
    another: make,
    prune: () => store.prune(),
    async corrupt(jobId, column, text) {
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      try {
        await client.query(`UPDATE ${quoteIdent(schema)}.jobs SET ${column} = $1 WHERE id = $2`, [
          text,
          jobId,
        ]);
      } finally {
        await client.end();
      }
    },
    async cleanup() {
      for (const s of stores) await s.stop();
      await dropSchema(schema);
    },
  };
}

/** The test Redis server. */
export const REDIS_URL = process.env.TICKWORK_TEST_REDIS ?? 'redis://127.0.0.1:6379';

/** A fresh key prefix `twtest:<random>:`. */
export function testPrefix(): string {
  return `twtest:${randomBytes(6).toString('hex')}:`;
}

/** Deletes every key under `prefix` (SCAN, then DEL), with a connection of its own. */
export async function deletePrefix(prefix: string): Promise<void> {
  const client = new Redis(REDIS_URL, { lazyConnect: true });
  await client.connect();
  try {
    for (;;) {
      let cursor = '0';
      let found = 0;
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        found += keys.length;
        if (keys.length > 0) await client.del(...keys);
      } while (cursor !== '0');
      if (found === 0) break;
    }
  } finally {
    await client.quit();
  }
}

export async function redisHarness(options: Partial<RedisStoreOptions>): Promise<Harness> {
  const prefix = testPrefix();
  const stores: RedisStore[] = [];
  const make = async (): Promise<RedisStore> => {
    const s = new RedisStore({ url: REDIS_URL }, { prefix, ...options });
    stores.push(s);
    await s.start(startContext);
    return s;
  };
  const store = await make();
  return {
    store,
    another: make,
    prune: () => store.prune(),
    async corrupt(jobId, column, text) {
      const client = new Redis(REDIS_URL);
      try {
        await client.hset(`${prefix}job:${jobId}`, column, text);
      } finally {
        await client.quit();
      }
    },
    async cleanup() {
      for (const s of stores) await s.stop();
      await deletePrefix(prefix);
    },
  };
}

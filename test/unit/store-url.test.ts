// openStore: the store URLs of `npm start` (TICKWORK_STORE) and `tickwork serve --store`, with the stores'
// options as query parameters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { isTickworkError } from '../../src/index.js';
import { importDriver, openStore, redactUrl } from '../../src/stores/url.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { PostgresStore } from '../../src/stores/postgres/index.js';
import { RedisStore } from '../../src/stores/redis/index.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PG = process.env.TICKWORK_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS = process.env.TICKWORK_TEST_REDIS ?? 'redis://127.0.0.1:6379';

/** The private fields a store was built with (what the URL's parameters became). */
const fields = (store: unknown) => store as Record<string, unknown>;

async function rejects(url: string, code: string, field: string): Promise<void> {
  await assert.rejects(openStore(url), (err: unknown) => {
    assert.ok(isTickworkError(err), String(err));
    assert.equal(err.code, code, err.message);
    assert.equal(err.details.field, field, err.message);
    return true;
  });
}

test('a postgres:// URL takes the store options as query parameters and leaves the driver its own', async () => {
  const schema = `tw_url_${Math.random().toString(36).slice(2, 8)}`;
  const store = await openStore(
    `${PG}?schema=${schema}&listen=false&poolSize=2&maxRunAge=null&fireConcurrency=1&application_name=tw-url-test`,
  );
  assert.ok(store instanceof PostgresStore);
  const f = fields(store);
  assert.deepEqual(
    [store.schema, f.listen, f.poolSize, f.maxRunAge, f.fireConcurrency],
    [schema, false, 2, null, 1],
  );
  // The driver got application_name: the store's sessions carry it.
  await store.start({ nodeId: 'url-test', now: Date.now });
  const admin = new pg.Client({ connectionString: PG });
  await admin.connect();
  try {
    const r = await admin.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'tw-url-test'`,
    );
    assert.ok(r.rows[0].n >= 1, 'a session named by the URL');
    // listen=false: subscribing opens no LISTEN connection, where a store with the default opens one.
    const listener = await openStore(`${PG}?schema=${schema}&application_name=tw-url-listen`);
    await listener.start({ nodeId: 'url-test-2', now: Date.now });
    store.subscribe(() => {});
    listener.subscribe(() => {});
    const listening = async (name: string) =>
      (
        await admin.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query ILIKE 'LISTEN%' AND application_name = $1`,
          [name],
        )
      ).rows[0].n as number;
    for (let i = 0; i < 100 && (await listening('tw-url-listen')) === 0; i++) await sleep(50);
    assert.equal(await listening('tw-url-listen'), 1, 'the default store listens');
    assert.equal(await listening('tw-url-test'), 0, 'listen=false does not');
    await listener.stop();
  } finally {
    await store.stop();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
});

test("a postgres:// URL leaves the driver's other connection parameters in the string, refusing near misses of store options", async () => {
  const store = await openStore(
    `${PG}?connect_timeout=5&channel_binding=prefer&target_session_attrs=any&listen=false`,
  );
  assert.equal(
    fields(store).connectionString,
    `${PG}?connect_timeout=5&channel_binding=prefer&target_session_attrs=any`,
  );
  assert.equal(fields(store).listen, false);
  await assert.rejects(openStore(`${PG}?Listen=false`), (err: unknown) => {
    assert.ok(isTickworkError(err, 'UNKNOWN_OPTION'));
    assert.equal(err.details.field, 'store.Listen');
    assert.match(err.message, /did you mean `listen`\?/);
    return true;
  });
});

test('a postgres:// URL refuses a parameter that is neither a store option nor a connection parameter (the driver would ignore it)', async () => {
  // `schemaName` is four edits from `schema`: ignored by the driver, it left the store in the default
  // schema `tickwork`, shared with any other application making the same mistake.
  await assert.rejects(openStore(`${PG}?schemaName=jobs`), (err: unknown) => {
    assert.ok(isTickworkError(err, 'UNKNOWN_OPTION'));
    assert.equal(err.details.field, 'store.schemaName');
    assert.match(err.message, /neither a store option \(`schema`, .*\) nor a connection parameter/);
    return true;
  });
  // A near miss of a connection parameter names it.
  await assert.rejects(openStore(`${PG}?sslmod=disable`), (err: unknown) => {
    assert.ok(isTickworkError(err, 'UNKNOWN_OPTION'));
    assert.equal(err.details.field, 'store.sslmod');
    assert.match(err.message, /did you mean `sslmode`\?/);
    return true;
  });
  assert.throws(
    () => new PostgresStore({ connectionString: `${PG}?search_path=jobs` }),
    (err: unknown) => isTickworkError(err, 'UNKNOWN_OPTION') && err.details.field === 'search_path',
  );
  // libpq's and the driver's own parameters pass.
  const store = await openStore(
    `${PG}?sslmode=disable&application_name=app&keepalives=1&connect_timeout=5&schema=jobs`,
  );
  assert.equal(
    fields(store).connectionString,
    `${PG}?sslmode=disable&application_name=app&keepalives=1&connect_timeout=5`,
  );
});

test('store URLs refuse unknown parameters, bad values and repeats, naming the parameter', async () => {
  await rejects(`${PG}?schmea=jobs`, 'UNKNOWN_OPTION', 'store.schmea');
  await rejects(`${PG}?poolSize=lots`, 'INVALID_OPTION', 'store.poolSize');
  await rejects(`${PG}?schema=`, 'INVALID_OPTION', 'store.schema');
  await rejects(`${PG}?listen=false&listen=true`, 'INVALID_OPTION', 'store.listen');
  await rejects('sqlite:/tmp/x.db?maxRunsPerJob=-1', 'INVALID_OPTION', 'store.maxRunsPerJob');
  await rejects('sqlite:/tmp/x.db?busy=1', 'UNKNOWN_OPTION', 'store.busy');
  // The file is the URL's path: a second one in the query is refused, not left unused.
  await rejects('sqlite:./x.db?path=./y.db', 'INVALID_OPTION', 'store.path');
  await rejects('memory:?maxRuns=1', 'UNKNOWN_OPTION', 'store.maxRuns');
  await rejects('memory:?__proto__=1', 'UNKNOWN_OPTION', 'store.__proto__');
  await rejects('mysql://db/x', 'INVALID_OPTION', 'store');
});

test('sqlite: and memory: URLs take their options too; the SQLite path ends at the first "?"', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tickwork-url-'));
  try {
    const store = await openStore(
      `sqlite:${join(dir, 'jobs.db')}?busyTimeout=250&maxRunsPerJob=7&changePollInterval=0`,
    );
    assert.ok(store instanceof SqliteStore);
    const f = fields(store);
    assert.deepEqual([f.path, f.busyTimeout, f.maxRunsPerJob], [join(dir, 'jobs.db'), 250, 7]);
    const plain = await openStore(join(dir, 'other.db'));
    assert.equal(fields(plain).path, join(dir, 'other.db'));
    const memory = await openStore('memory:?maxRunsPerJob=3');
    assert.ok(memory instanceof MemoryStore);
    assert.equal(fields(memory).maxRunsPerJob, 3);
    assert.ok((await openStore('memory:')) instanceof MemoryStore);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a sqlite: URL path is percent-decoded like the other store URLs; a fragment is refused, not kept in the file name', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tickwork-url-'));
  try {
    const spaced = await openStore(`sqlite:${dir}/my%20jobs.db?maxRunsPerJob=4`);
    assert.deepEqual([fields(spaced).path, fields(spaced).maxRunsPerJob], [`${dir}/my jobs.db`, 4]);
    // The file opened is the decoded one.
    await spaced.start({ nodeId: 'url-test', now: Date.now });
    await spaced.stop();
    assert.ok(existsSync(join(dir, 'my jobs.db')));
    assert.ok(!existsSync(join(dir, 'my%20jobs.db')));
    const cases: [url: string, path: string][] = [
      // `?` and `#` in a file name are written as escapes; a multi-byte escape is UTF-8.
      [`sqlite:${dir}/a%3Fb%23c.db`, `${dir}/a?b#c.db`],
      [`sqlite:${dir}/caf%C3%A9.db`, `${dir}/café.db`],
      // A `%` that starts no escape stays a `%` (as WHATWG URLs decode); `%25` is the escape of `%`.
      [`sqlite:${dir}/100%.db`, `${dir}/100%.db`],
      [`sqlite:${dir}/100%25.db`, `${dir}/100%.db`],
      // `sqlite://` and relative paths are decoded the same way.
      [`sqlite://${dir}/x%20y.db`, `${dir}/x y.db`],
      ['sqlite:./data%20dir/jobs.db', './data dir/jobs.db'],
      ['sqlite:jobs.db', 'jobs.db'],
      ['sqlite::memory:', ':memory:'],
      // A Windows path keeps its drive and backslashes.
      ['sqlite:C:\\data\\jobs.db?busyTimeout=10', 'C:\\data\\jobs.db'],
      // A bare path (no `sqlite:`) is a file name, not a URL: taken as written.
      [`${dir}/a%20b.db`, `${dir}/a%20b.db`],
    ];
    for (const [url, path] of cases) {
      assert.equal(fields(await openStore(url)).path, path, url);
    }
    for (const url of [
      `sqlite:${dir}/jobs.db#x`,
      `sqlite:${dir}/jobs.db?maxRunsPerJob=5#x`,
      `sqlite:${dir}/jobs.db#?maxRunsPerJob=5`,
      'sqlite:./jobs#2.db',
    ]) {
      await assert.rejects(openStore(url), (err: unknown) => {
        assert.ok(isTickworkError(err, 'INVALID_OPTION'), String(err));
        assert.equal(err.details.field, 'store', url);
        assert.equal(
          err.message,
          `Expected \`store\` to have no fragment (a \`#\` ends a URL’s path: write \`%23\` for a \`#\` in the file name), got ${JSON.stringify(url)}`,
        );
        return true;
      });
    }
    await rejects(`sqlite:${dir}/%FF.db`, 'INVALID_OPTION', 'store');
    await rejects('sqlite:?busyTimeout=5', 'INVALID_OPTION', 'store');
    // Only the store that was started made a file.
    assert.deepEqual(
      readdirSync(dir).filter((f) => !f.startsWith('my jobs.db')),
      [],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a store whose driver is not installed names the package to install', async () => {
  const missing = Object.assign(new Error("Cannot find package 'better-sqlite3' imported from /x/index.js"), {
    code: 'ERR_MODULE_NOT_FOUND',
  });
  await assert.rejects(
    importDriver(() => Promise.reject(missing), 'better-sqlite3', 'npm install better-sqlite3@12'),
    {
      message: 'this needs the better-sqlite3 package, which is not installed: npm install better-sqlite3@12',
    },
  );
  // Another module missing (a broken install of the store itself) is passed on as it is.
  const other = Object.assign(new Error("Cannot find module '/x/sqlite/index.js'"), {
    code: 'ERR_MODULE_NOT_FOUND',
  });
  await assert.rejects(
    importDriver(() => Promise.reject(other), 'better-sqlite3', 'x'),
    other,
  );
});

test('new PostgresStore({ connectionString }) reads the store options of its query too, and refuses a conflict', () => {
  const store = new PostgresStore({ connectionString: `${PG}?schema=2024&listen=false&sslmode=disable` });
  assert.deepEqual([store.schema, fields(store).listen], ['2024', false]);
  // The driver gets the rest of the string.
  assert.equal(fields(store).connectionString, `${PG}?sslmode=disable`);
  assert.throws(
    () => new PostgresStore({ connectionString: `${PG}?schema=a` }, { schema: 'b' }),
    (err: unknown) => isTickworkError(err, 'INVALID_OPTION') && err.details.field === 'schema',
  );
  assert.throws(
    () => new PostgresStore({ connectionString: `${PG}?schema=` }),
    (err: unknown) => isTickworkError(err, 'INVALID_OPTION') && err.details.field === 'schema',
  );
  assert.throws(
    () => new PostgresStore({ connectionString: `${PG}?listne=false` }),
    (err: unknown) => isTickworkError(err, 'UNKNOWN_OPTION') && err.details.field === 'listne',
  );
  // A URL the driver takes but WHATWG URL refuses (an empty host, the socket or host in a parameter): its
  // store options are still the store's (the schema was ignored: the tables went to "tickwork").
  const socket = new PostgresStore({
    connectionString: 'postgres://postgres@/test?host=127.0.0.1&schema=tw_sock&poolSize=3',
  });
  assert.deepEqual([socket.schema, fields(socket).poolSize], ['tw_sock', 3]);
  assert.equal(fields(socket).connectionString, 'postgres://postgres@/test?host=127.0.0.1');
  assert.throws(
    () => new PostgresStore({ connectionString: 'postgres://postgres@/test?host=x&poolSize=abc' }),
    (err: unknown) => isTickworkError(err, 'INVALID_OPTION') && err.details.field === 'poolSize',
  );
  // A `?` inside a fragment starts no query: nothing is read from it.
  assert.equal(new PostgresStore({ connectionString: `${PG}#?schema=frag` }).schema, 'tickwork');
  // The same schema both ways is fine.
  assert.equal(new PostgresStore({ connectionString: `${PG}?schema=a`, schema: 'a' }).schema, 'a');
});

test('redactUrl hides the credentials of a store URL, in the user part and in a password parameter', async () => {
  assert.equal(
    redactUrl(
      'TICKWORK_STORE postgres://app:s3cret@db/x?sslmode=require&password=s3cret&schema=jobs: failed',
    ),
    'TICKWORK_STORE postgres://***@db/x?sslmode=require&password=***&schema=jobs: failed',
  );
  assert.equal(redactUrl('postgres://db/x?PASSWORD=a%20b'), 'postgres://db/x?PASSWORD=***');
  // The user part ends at the last @ before the host (WHATWG URL and pg read it so); a password with a space.
  assert.equal(
    redactUrl('Job store: postgres://postgres:top@secret@127.0.0.1:5432/test?schema=x'),
    'Job store: postgres://***@127.0.0.1:5432/test?schema=x',
  );
  assert.equal(
    redactUrl('cannot start the scheduler on postgres://bob:top secret@127.0.0.1:5432/test: refused'),
    'cannot start the scheduler on postgres://***@127.0.0.1:5432/test: refused',
  );
  // openStore's own message for a URL it cannot read hides the password too (message and details).
  await assert.rejects(openStore('postgres://user:s3cretpw@h:99999/db'), (err: unknown) => {
    assert.ok(isTickworkError(err, 'INVALID_OPTION'), String(err));
    assert.doesNotMatch(`${err.message} ${JSON.stringify(err.details)}`, /s3cretpw/);
    return true;
  });
  // The driver's socket form (an empty host) is a URL it takes: so does openStore.
  const socket = await openStore('postgres://postgres@/test?host=127.0.0.1&schema=tw_sock2&listen=false');
  assert.ok(socket instanceof PostgresStore);
  assert.equal(socket.schema, 'tw_sock2');
  // A password with a slash; a password parameter holding an @; a URL that failed to parse in a message.
  assert.equal(redactUrl('got "redis://u:p/w@h:6379/0"'), 'got "redis://***@h:6379/0"');
  assert.equal(redactUrl('redis://h?password=a@b failed'), 'redis://h?password=*** failed');
  // A password parameter last in the URL keeps the message's colon after it.
  assert.equal(
    redactUrl('postgres://db/x?password=s3cret: PostgreSQL store failed'),
    'postgres://db/x?password=***: PostgreSQL store failed',
  );
});

test("a connection string's `options` reach the sessions together with the store's session timeouts", async () => {
  const schema = `tw_url_${Math.random().toString(36).slice(2, 8)}`;
  const store = new PostgresStore({
    connectionString: `${PG}?options=${encodeURIComponent('-c work_mem=7MB')}&schema=${schema}&statementTimeout=4321&listen=false`,
  });
  try {
    await store.start({ nodeId: 'url-options', now: Date.now });
    // A session of the store's own pool, outside any of its transactions (no SET LOCAL).
    const pool = fields(store).pool as pg.Pool;
    const r = await pool.query<{ work_mem: string; statement_timeout: string }>(
      `SELECT current_setting('work_mem') AS work_mem, current_setting('statement_timeout') AS statement_timeout`,
    );
    assert.deepEqual(r.rows[0], { work_mem: '7MB', statement_timeout: '4321ms' });
  } finally {
    await store.stop();
    const admin = new pg.Client({ connectionString: PG });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
  assert.throws(
    () => new PostgresStore({ connectionString: `${PG}?options=-c%20a%3D1&options=-c%20b%3D2` }),
    (err: unknown) => isTickworkError(err, 'INVALID_OPTION') && err.details.field === 'options',
  );
});

test('a redis:// URL takes the store options as query parameters and leaves the client its own', async () => {
  const prefix = `twtest:url:${Math.random().toString(36).slice(2, 8)}:`;
  const store = await openStore(
    `${REDIS}?prefix=${encodeURIComponent(prefix)}&listen=false&claimTimeout=500&maxRunAge=null&maxRunsPerJob=7&family=4`,
  );
  assert.ok(store instanceof RedisStore);
  const f = fields(store);
  assert.deepEqual(
    [store.prefix, f.listen, f.claimTimeout, f.maxRunAge, f.maxRunsPerJob],
    [prefix, false, 500, null, 7],
  );
  assert.equal(f.url, `${REDIS}?family=4`, 'the client keeps its own parameter');
  const admin = new Redis(REDIS);
  try {
    await store.start({ nodeId: 'url-test', now: Date.now });
    await store.addJob(
      {
        id: 'j',
        name: 'j',
        taskId: 't',
        trigger: { type: 'interval', version: 1, seconds: 60 },
        args: [],
        maxInstances: 1,
        misfireGraceTime: null,
        coalesce: true,
        jitter: null,
        timeout: null,
        retry: null,
        paused: false,
        nextRunTime: null,
        quarantine: null,
        version: 1,
        createdAt: new Date(0),
        updatedAt: new Date(0),
      },
      'error',
    );
    assert.equal(await admin.hget(`${prefix}job:j`, 'task_id'), 't', 'the job is stored under the prefix');
  } finally {
    await store.stop();
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    await admin.quit();
  }
  assert.ok((await openStore('rediss://cache.example:6380/2?prefix=x:')) instanceof RedisStore, 'TLS');
});

test('redis:// URLs refuse near misses of store options, bad values and repeats, naming the parameter', async () => {
  await rejects(`${REDIS}?prefx=a:`, 'UNKNOWN_OPTION', 'store.prefx');
  await rejects(`${REDIS}?prefix=nocolon`, 'INVALID_OPTION', 'store.prefix');
  await rejects(`${REDIS}?prefix=`, 'INVALID_OPTION', 'store.prefix');
  await rejects(`${REDIS}?claimTimeout=soon`, 'INVALID_OPTION', 'store.claimTimeout');
  await rejects(`${REDIS}?listen=false&listen=true`, 'INVALID_OPTION', 'store.listen');
  await assert.rejects(openStore(`${REDIS}?Listen=false`), (err: unknown) => {
    assert.ok(isTickworkError(err, 'UNKNOWN_OPTION'));
    assert.match(err.message, /did you mean `listen`\?/);
    return true;
  });
  assert.throws(
    () => new RedisStore({ url: `${REDIS}?prefix=a:` }, { prefix: 'b:' }),
    (err: unknown) => isTickworkError(err, 'INVALID_OPTION') && err.details.field === 'prefix',
  );
  assert.throws(
    () => new RedisStore({ url: 'http://app:s3cret@127.0.0.1:6379' }),
    (err: unknown) =>
      isTickworkError(err, 'INVALID_OPTION') && err.details.field === 'url' && !/s3cret/.test(err.message),
  );
  assert.equal(new RedisStore({ url: REDIS }).prefix, 'tickwork:', 'the default prefix');
});

test('redactUrl hides the password of a redis:// URL', () => {
  assert.equal(
    redactUrl('job store redis://:s3cret@cache:6379/0?prefix=jobs: failed'),
    'job store redis://***@cache:6379/0?prefix=jobs: failed',
  );
  assert.equal(redactUrl('rediss://app:s3cret@cache:6380'), 'rediss://***@cache:6380');
});

test('a store shown by JSON.stringify or console.log shows its kind and schema or prefix, never its password', async () => {
  const { inspect } = await import('node:util');
  const { RedisStore } = await import('../../src/stores/redis/index.js');
  const pgStore = new PostgresStore({ connectionString: 'postgres://app:s3cret@db.example/app?schema=jobs' });
  const redisStore = new RedisStore({ url: 'redis://:s3cret@cache.example:6379/0' }, { prefix: 'jobs:' });
  assert.equal(JSON.stringify(pgStore), '{"kind":"postgres","schema":"jobs"}');
  assert.equal(JSON.stringify(redisStore), '{"kind":"redis","prefix":"jobs:"}');
  for (const store of [pgStore, redisStore]) {
    assert.doesNotMatch(JSON.stringify({ store }), /s3cret/);
    assert.doesNotMatch(inspect(store, { depth: 5 }), /s3cret/);
  }
});

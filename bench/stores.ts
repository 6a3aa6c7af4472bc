/**
 * Firing throughput of the persistent stores: 10,000 interval jobs all due at once, fired with `fireDueJobs`
 * in claims of the size the scheduler makes by default (its `batchSize`, the store's `fireBatchSize`:
 * PostgreSQL 1,000 per transaction times `fireConcurrency`, SQLite 500, Redis 256) by a simple planner (one
 * pending run per job, next fire time an hour later) by one claimer (as one process's scheduler calls the
 * store; PostgreSQL with `fireConcurrency` 1 and with its default 2) and, on PostgreSQL, by 2 and 4 side by
 * side (as that many processes would), then the runs leased with `acquireRuns` and completed with
 * `finishRuns` (a group per call, as the scheduler records outcomes). PostgreSQL reports the median of 5
 * rounds after a warm-up round (a running scheduler is warm; the first round also pays the JIT and cold
 * caches), its configurations and the yardsticks taking turns within each round, so that the ratios compare
 * runs made at the same moments. SQLite and Redis (one claimer, one round) follow.
 *
 * The first two rows are the yardsticks of the firing goal ("a one-transaction SKIP LOCKED claim + insert +
 * advance"), run on the same tables in the same run, in transactions of 1,000 jobs on one connection: the
 * goal's words read strictly, one SQL statement per batch that claims, inserts the runs and advances the
 * jobs, with no planner and nothing passing through the process; and read as worded, one transaction of
 * three statements (claim, insert, advance) with the claimed rows passing through the process. How fast a
 * machine and its PostgreSQL are changes from machine to machine and, on a shared virtual machine, from hour
 * to hour; the ratio to these rows does not. The third row runs the one-statement yardstick on two
 * connections side by side, as the store's default `fireConcurrency` 2 does.
 * `node --import tsx bench/stores.ts` (PostgreSQL at TICKWORK_BENCH_PG or postgres://postgres@127.0.0.1:5432/test).
 *
 * Statements are counted by wrapping the driver: `pg.Client.prototype.query` (one call = one round trip; a
 * `BEGIN; SET LOCAL ...` string counts once) and better-sqlite3's `Statement#run/get/all/iterate` (one call =
 * one statement execution; SQLite has no round trips).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import pg from 'pg';
import { PostgresStore, quoteIdent } from '../dist/stores/postgres/index.js';
import { SqliteStore } from '../dist/stores/sqlite/index.js';
import type { FirePlanner, Store } from '../dist/stores/store.js';

const JOBS = 10_000;
const BATCH = 1_000;
const HOUR = 3_600_000;
const PG_URL = process.env.TICKWORK_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
/** Measured rounds per PostgreSQL configuration (after one warm-up round): `TICKWORK_BENCH_ROUNDS`. */
const ROUNDS = Number(process.env.TICKWORK_BENCH_ROUNDS ?? 5);

let statements = 0;

const planner: FirePlanner = (job) => {
  const t = job.nextRunTime!;
  return {
    runs: [{ scheduledFireTime: t, status: 'pending', notBefore: t }],
    nextRunTime: new Date(t.getTime() + HOUR),
    remove: false,
  };
};

interface Row {
  store: string;
  /** Jobs claimed per `fireDueJobs` call (yardsticks: per transaction). */
  batch: number;
  fires: number;
  fireMs: number;
  fireStatements: number;
  runMs: number;
  runStatements: number;
}

async function measure(
  name: string,
  store: Store,
  now: () => Date,
  claimers: number,
  analyze?: () => Promise<unknown>,
): Promise<Row> {
  statements = 0;
  let fires = 0;
  // What the scheduler claims per call by default (its `batchSize`).
  const batch = store.fireBatchSize ?? 500;
  const t0 = performance.now();
  // `claimers` firing loops side by side, as that many processes (or a process's concurrent claims) would:
  // SKIP LOCKED (SQLite: its write lock) keeps their batches apart.
  await Promise.all(
    Array.from({ length: claimers }, async () => {
      for (;;) {
        const r = await store.fireDueJobs(now(), batch, planner);
        for (const f of r.fired) fires += f.runs.length;
        if (!r.more && r.fired.length === 0) break;
      }
    }),
  );
  const fireMs = performance.now() - t0;
  // The runs table was empty a moment ago: without statistics PostgreSQL plans the lease query as a scan and
  // sort of every pending run. A deployment has them (autovacuum analyzes a table that changed this much).
  await analyze?.();
  const fireStatements = statements;
  statements = 0;
  const t1 = performance.now();
  let finished = 0;
  for (;;) {
    const acquired = await store.acquireRuns('bench', now(), BATCH, 30_000);
    if (acquired.length === 0) break;
    // As the scheduler records outcomes: a group per call when the store can (Store.finishRuns).
    const items = acquired.map((a) => ({
      runId: a.run.id,
      attempt: a.run.attempt,
      outcome: { status: 'succeeded' as const },
    }));
    if (store.finishRuns) {
      finished += (await store.finishRuns('bench', items, now())).filter(Boolean).length;
    } else {
      for (const i of items)
        if (await store.finishRun(i.runId, 'bench', i.attempt, now(), i.outcome)) finished++;
    }
  }
  const runMs = performance.now() - t1;
  if (fires !== JOBS || finished !== JOBS) throw new Error(`${name}: fired ${fires}, finished ${finished}`);
  return {
    store: claimers > 1 ? `${name}, ${claimers} claimers` : name,
    batch,
    fires,
    fireMs,
    fireStatements,
    runMs,
    runStatements: statements,
  };
}

function jobRow(i: number, due: number) {
  return {
    id: `job-${String(i).padStart(5, '0')}`,
    trigger: JSON.stringify({ type: 'interval', version: 1, milliseconds: HOUR }),
    due,
  };
}

/** Inserts the 10,000 jobs, all due a second ago, into the schema's empty jobs table. */
async function seedJobs(pool: pg.Pool, s: string): Promise<void> {
  await pool.query(`TRUNCATE ${s}.jobs, ${s}.runs`);
  const due = Date.now() - 1000;
  const rows = Array.from({ length: JOBS }, (_, i) => jobRow(i, due));
  await pool.query(
    `INSERT INTO ${s}.jobs (id, name, task_id, trigger, args, max_instances, misfire_grace_time,
       coalesce, jitter, timeout, retry, paused, next_run_time, version, created_at, updated_at)
     SELECT id, id, 'task', trg, '[]', 1, 1000, true, NULL, NULL, NULL, false, to_timestamp($3 / 1000.0), 1, now(), now()
     FROM unnest($1::text[], $2::text[]) AS t(id, trg)`,
    [rows.map((r) => r.id), rows.map((r) => r.trigger), due],
  );
  await pool.query(`VACUUM ANALYZE ${s}.jobs`);
}

/** One PostgreSQL configuration: a pool of `connections`, the store's options, and what one round does. */
interface PgConfig {
  connections: number;
  options: { fireConcurrency?: number };
  round: (store: PostgresStore, pool: pg.Pool, s: string) => Promise<Row>;
}

/**
 * Runs every configuration on a fresh 10,000 due jobs, each in a new schema of the store's tables, in rounds:
 * each round runs every configuration once, one after the other, starting one configuration further on each
 * round, so that all of them meet the machine at the same moments (a shared virtual machine's speed drifts
 * within minutes; measured one after the other, a yardstick and the row it is compared with would not).
 * Round 0 warms up (a running scheduler is warm; the first round also pays the JIT and cold caches); then
 * `ROUNDS` rounds, and each configuration's median round (by fire rate) is returned, in `configs` order.
 */
async function pgInterleaved(configs: PgConfig[]): Promise<Row[]> {
  const query = pg.Client.prototype.query;
  // Count every query any pool client sends.
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    statements++;
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  const setups = configs.map((c) => {
    const schema = `tw_bench_${randomBytes(4).toString('hex')}`;
    const pool = new pg.Pool({ connectionString: PG_URL, max: c.connections });
    const store = new PostgresStore({ pool }, { schema, listen: false, pruneEvery: 100_000, ...c.options });
    return { config: c, pool, store, s: quoteIdent(schema), results: [] as Row[] };
  });
  try {
    for (const x of setups) await x.store.start({ nodeId: 'bench', now: Date.now });
    for (let i = 0; i <= ROUNDS; i++) {
      for (let k = 0; k < setups.length; k++) {
        const x = setups[(i + k) % setups.length]!;
        await seedJobs(x.pool, x.s);
        const row = await x.config.round(x.store, x.pool, x.s);
        if (i > 0) x.results.push(row); // round 0 warms up
      }
    }
    return setups.map((x) => {
      x.results.sort((a, b) => a.fireMs - b.fireMs);
      return x.results[Math.floor(x.results.length / 2)]!;
    });
  } finally {
    pg.Client.prototype.query = query;
    for (const x of setups) {
      await x.store.stop().catch(() => {});
      await x.pool.query(`DROP SCHEMA IF EXISTS ${x.s} CASCADE`).catch(() => {});
      await x.pool.end();
    }
  }
}

/**
 * PostgreSQL, `claimers` firing loops side by side (each as one process's scheduler would call the store),
 * with the store's `fireConcurrency`.
 */
function benchPostgres(claimers: number, fireConcurrency: number): PgConfig {
  const name = `PostgreSQL, fireConcurrency ${fireConcurrency}${fireConcurrency === 2 ? ' (default)' : ''}`;
  return {
    connections: claimers * fireConcurrency + 2,
    options: { fireConcurrency },
    round: (store, pool, s) =>
      measure(
        name,
        store,
        () => new Date(),
        claimers,
        () => pool.query(`ANALYZE ${s}.runs`),
      ),
  };
}

/**
 * A yardstick's round: `batch` (one batch of {@link BATCH}, returning how many jobs it fired) in a
 * transaction of its own, until a batch fires none, on each of `connections` connections side by side
 * (SKIP LOCKED keeps their batches apart); every due job must have fired once.
 */
function yardstickRound(
  store: string,
  batch: (client: pg.PoolClient, s: string) => Promise<number>,
  connections = 1,
): PgConfig['round'] {
  return async (_store, pool, s) => {
    const clients = await Promise.all(Array.from({ length: connections }, () => pool.connect()));
    try {
      statements = 0;
      let fires = 0;
      const t0 = performance.now();
      await Promise.all(
        clients.map(async (client) => {
          for (;;) {
            await client.query('BEGIN');
            const n = await batch(client, s);
            await client.query('COMMIT');
            fires += n;
            if (n === 0) break;
          }
        }),
      );
      const fireMs = performance.now() - t0;
      if (fires !== JOBS) throw new Error(`${store}: fired ${fires}`);
      return {
        store,
        batch: BATCH,
        fires,
        fireMs,
        fireStatements: statements,
        runMs: NaN,
        runStatements: NaN,
      };
    } finally {
      for (const c of clients) c.release();
    }
  };
}

/**
 * The yardstick of the goal, on the same tables: one statement per batch of 1,000 that claims the due jobs
 * `FOR UPDATE SKIP LOCKED`, inserts their runs `ON CONFLICT DO NOTHING` and advances `next_run_time` by the
 * interval, in SQL alone (no planner, no plan sent from the process), in its own transaction; on one
 * connection (or, `connections` 2, on two side by side). What the one-connection row reaches says how fast
 * the machine and its PostgreSQL are at the moment.
 */
function benchYardstick(connections = 1): PgConfig {
  const name =
    connections === 1
      ? 'yardstick: claim + insert + advance in one SQL statement'
      : `yardstick: claim + insert + advance in one SQL statement, ${connections} connections side by side`;
  return {
    connections,
    options: {},
    round: yardstickRound(
      name,
      async (client, s) => {
        const r = await client.query<{ n: number }>({
          name: 'yardstick',
          text: `WITH c AS (
               SELECT id, task_id, next_run_time FROM ${s}.jobs
               WHERE NOT paused AND next_run_time <= statement_timestamp()
               ORDER BY next_run_time LIMIT ${BATCH} FOR UPDATE SKIP LOCKED),
             adv AS (
               UPDATE ${s}.jobs j SET next_run_time = c.next_run_time + interval '1 hour',
                 version = j.version + 1, updated_at = statement_timestamp()
               FROM c WHERE j.id = c.id RETURNING j.id),
             ins AS (
               INSERT INTO ${s}.runs (id, job_id, task_id, scheduled_fire_time, not_before, status, manual, created_at)
               SELECT gen_random_uuid(), id, task_id, next_run_time, next_run_time, 'pending', false, statement_timestamp()
               FROM c ON CONFLICT (job_id, scheduled_fire_time, manual) DO NOTHING RETURNING id)
             SELECT (SELECT count(*) FROM adv)::int AS n, (SELECT count(*) FROM ins)::int AS runs`,
        });
        return r.rows[0]!.n;
      },
      connections,
    ),
  };
}

/**
 * The yardstick of the goal as worded ("a one-transaction SKIP LOCKED claim + insert + advance"), on the same
 * tables: one transaction per batch of 1,000 of three statements, the claimed rows passing through the
 * process as a planner's would: `SELECT ... FOR UPDATE SKIP LOCKED` of the due jobs (id, task, fire time as
 * epoch ms), an `INSERT` of their runs from arrays `ON CONFLICT DO NOTHING`, an `UPDATE` advancing
 * `next_run_time` by the interval computed here; one connection. No maxInstances count, no compare-and-set,
 * no misfire check: less work per fire than tickwork's step.
 */
function benchYardstickWorded(): PgConfig {
  return {
    connections: 1,
    options: {},
    round: yardstickRound(
      'yardstick as worded: one transaction, claim + insert + advance statements',
      async (client, s) => {
        const c = await client.query<{ id: string; task_id: string; t: number }>({
          name: 'yardstick-claim',
          text: `SELECT id, task_id, extract(epoch FROM next_run_time) * 1000 AS t FROM ${s}.jobs
             WHERE NOT paused AND next_run_time <= statement_timestamp()
             ORDER BY next_run_time LIMIT ${BATCH} FOR UPDATE SKIP LOCKED`,
        });
        const n = c.rows.length;
        if (n > 0) {
          const ids = c.rows.map((r) => r.id);
          const times = c.rows.map((r) => Number(r.t));
          await client.query({
            name: 'yardstick-insert',
            text: `INSERT INTO ${s}.runs (id, job_id, task_id, scheduled_fire_time, not_before, status, manual, created_at)
               SELECT gen_random_uuid(), u.i, u.k, to_timestamp(u.t / 1000.0), to_timestamp(u.t / 1000.0),
                 'pending', false, statement_timestamp()
               FROM unnest($1::text[], $2::text[], $3::float8[]) AS u(i, k, t)
               ON CONFLICT (job_id, scheduled_fire_time, manual) DO NOTHING`,
            values: [ids, c.rows.map((r) => r.task_id), times],
          });
          await client.query({
            name: 'yardstick-advance',
            text: `UPDATE ${s}.jobs j SET next_run_time = to_timestamp(u.n / 1000.0), version = j.version + 1,
                 updated_at = statement_timestamp()
               FROM unnest($1::text[], $2::float8[]) AS u(i, n) WHERE j.id = u.i`,
            values: [ids, times.map((t) => t + HOUR)],
          });
        }
        return n;
      },
    ),
  };
}

/**
 * Redis (TICKWORK_BENCH_REDIS or redis://127.0.0.1:6379): the same 10,000 jobs added through the store,
 * already due by the server's clock, under a fresh key prefix (deleted afterwards); one claimer. Statements
 * are the commands the store's client sends (`sendCommand`: a script call counts once).
 */
async function benchRedis(): Promise<Row> {
  const { Redis } = await import('ioredis');
  const { RedisStore } = await import('../dist/stores/redis/index.js');
  const url = process.env.TICKWORK_BENCH_REDIS ?? 'redis://127.0.0.1:6379';
  const prefix = `tickwork-bench-${randomBytes(4).toString('hex')}:`;
  const store = new RedisStore({ url }, { prefix, listen: false, pruneEvery: 100_000 });
  const admin = new Redis(url);
  const proto = Redis.prototype as unknown as { sendCommand: (...a: unknown[]) => unknown };
  const send = proto.sendCommand;
  try {
    await store.start({ nodeId: 'bench', now: Date.now });
    const [sec, micro] = await admin.time();
    const due = Number(sec) * 1000 + Math.floor(Number(micro) / 1000) - 1000;
    const created = new Date(due);
    for (let i = 0; i < JOBS; i += BATCH) {
      await Promise.all(
        Array.from({ length: BATCH }, (_, k) => {
          const id = jobRow(i + k, due).id;
          return store.addJob(
            {
              id,
              name: id,
              taskId: 'task',
              trigger: { type: 'interval', version: 1, milliseconds: HOUR },
              args: [],
              maxInstances: 1,
              misfireGraceTime: 1000,
              coalesce: true,
              jitter: null,
              timeout: null,
              retry: null,
              paused: false,
              nextRunTime: new Date(due),
              quarantine: null,
              version: 1,
              createdAt: created,
              updatedAt: created,
            },
            'error',
          );
        }),
      );
    }
    proto.sendCommand = function (this: unknown, ...args: unknown[]) {
      statements++;
      return send.apply(this, args);
    };
    return await measure('Redis', store, () => new Date(), 1);
  } finally {
    proto.sendCommand = send;
    await store.stop();
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await admin.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    await admin.quit();
  }
}

async function benchSqlite(): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'tickwork-bench-'));
  const file = join(dir, 'bench.db');
  const store = new SqliteStore({ path: file, pruneEvery: 100_000 });
  const proto = Object.getPrototypeOf(new Database(':memory:').prepare('SELECT 1')) as Record<
    string,
    unknown
  >;
  const originals = new Map<string, unknown>();
  try {
    const now = Date.now();
    await store.start({ nodeId: 'bench', now: () => now });
    const db = new Database(file);
    const insert = db.prepare(
      `INSERT INTO jobs (id, name, task_id, trigger, args, max_instances, misfire_grace_time, coalesce, jitter,
         timeout, retry, paused, next_run_time, version, created_at, updated_at)
       VALUES (?, ?, 'task', ?, '[]', 1, 1000, 1, NULL, NULL, NULL, 0, ?, 1, ?, ?)`,
    );
    db.transaction(() => {
      for (let i = 0; i < JOBS; i++) {
        const r = jobRow(i, now - 1000);
        insert.run(r.id, r.id, r.trigger, r.due, now, now);
      }
    })();
    db.close();
    for (const m of ['run', 'get', 'all', 'iterate']) {
      const original = proto[m] as (...a: unknown[]) => unknown;
      originals.set(m, original);
      proto[m] = function (this: unknown, ...args: unknown[]) {
        statements++;
        return original.apply(this, args);
      };
    }
    return await measure('SQLite', store, () => new Date(now), 1);
  } finally {
    for (const [m, f] of originals) proto[m] = f;
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function print(rows: Row[], notMeasured: string[]): void {
  const head = [
    'store',
    'batch',
    'fires',
    'fire s',
    'fires/s',
    'stmts/fire',
    'acquire+finish s',
    'runs/s',
    'stmts/run',
  ];
  const body = rows.map((r) => [
    r.store,
    String(r.batch),
    String(r.fires),
    (r.fireMs / 1000).toFixed(3),
    Math.round(r.fires / (r.fireMs / 1000)).toLocaleString('en-US'),
    (r.fireStatements / r.fires).toFixed(4),
    Number.isNaN(r.runMs) ? '-' : (r.runMs / 1000).toFixed(3),
    Number.isNaN(r.runMs) ? '-' : Math.round(r.fires / (r.runMs / 1000)).toLocaleString('en-US'),
    Number.isNaN(r.runMs) ? '-' : (r.runStatements / r.fires).toFixed(3),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
  console.log(line(head));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const b of body) console.log(line(b));
  for (const n of notMeasured) console.log(`${n}: not measured by this benchmark.`);
}

/** End to end: due work items turned into completed runs, per second. */
interface Peer {
  name: string;
  items: number;
  /** Processing: due item to completed. */
  ms: number;
  /** Creating the items beforehand (pg-boss's insert, BullMQ's addBulk): its counterpart of firing. */
  createMs: number;
  how: string;
}

/**
 * pg-boss 10 (the last line that runs on Node 20): 10,000 jobs inserted already due (`startAfter` in the
 * past), then fetched in batches of 1,000 (its claim: `FOR UPDATE SKIP LOCKED`) and completed in batches.
 */
async function benchPgBoss(): Promise<Peer> {
  const { default: PgBoss } = await import('pg-boss');
  const schema = `bench_pgboss_${randomBytes(4).toString('hex')}`;
  const boss = new PgBoss({ connectionString: PG_URL, schema, supervise: false, schedule: false, max: 4 });
  boss.on('error', () => {});
  await boss.start();
  try {
    await boss.createQueue('bench');
    const past = new Date(Date.now() - 1000);
    const c0 = performance.now();
    for (let i = 0; i < JOBS; i += BATCH) {
      await boss.insert(
        Array.from({ length: BATCH }, (_, k) => ({ name: 'bench', data: { i: i + k }, startAfter: past })),
      );
    }
    const createMs = performance.now() - c0;
    const t0 = performance.now();
    let done = 0;
    for (;;) {
      const jobs = await boss.fetch('bench', { batchSize: BATCH });
      if (jobs.length === 0) break;
      await boss.complete(
        'bench',
        jobs.map((j) => j.id),
      );
      done += jobs.length;
    }
    const ms = performance.now() - t0;
    if (done !== JOBS) throw new Error(`pg-boss: completed ${done}`);
    return {
      name: 'pg-boss 10 (PostgreSQL)',
      items: done,
      ms,
      createMs,
      how: 'insert 1,000 per call; fetch 1,000 + complete 1,000 per round',
    };
  } finally {
    await boss.stop({ graceful: false, wait: true }).catch(() => {});
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
    await c.end();
  }
}

/** BullMQ (Redis): 10,000 jobs added ready, processed by a Worker with concurrency 100 and a no-op processor. */
async function benchBullMQ(): Promise<Peer> {
  const { Queue, Worker } = await import('bullmq');
  const connection = { host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null };
  const name = `tickwork-bench-${randomBytes(4).toString('hex')}`;
  const queue = new Queue(name, { connection });
  try {
    const c0 = performance.now();
    for (let i = 0; i < JOBS; i += BATCH) {
      await queue.addBulk(Array.from({ length: BATCH }, (_, k) => ({ name: 'j', data: { i: i + k } })));
    }
    const createMs = performance.now() - c0;
    let done = 0;
    const t0 = performance.now();
    const worker = new Worker(name, async () => {}, { connection, concurrency: 100 });
    const finished = new Promise<void>((resolve) => {
      worker.on('completed', () => {
        if (++done === JOBS) resolve();
      });
    });
    await finished;
    const ms = performance.now() - t0;
    await worker.close();
    return {
      name: 'BullMQ (Redis)',
      items: done,
      ms,
      createMs,
      how: 'addBulk 1,000 per call; Worker, concurrency 100, no-op processor',
    };
  } finally {
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
  }
}

const [yardstick, worded, yardstick2, ...pgRows] = (await pgInterleaved([
  benchYardstick(),
  benchYardstickWorded(),
  benchYardstick(2),
  benchPostgres(1, 1),
  benchPostgres(1, 2),
  benchPostgres(2, 2),
  benchPostgres(4, 2),
])) as [Row, Row, Row, ...Row[]];
const rows: Row[] = [...pgRows, await benchSqlite()];
try {
  rows.push(await benchRedis());
} catch (err) {
  console.log(`Redis: not measured (${(err as Error).message})`);
}
console.log(
  `${JOBS.toLocaleString('en-US')} interval jobs due at once; fireDueJobs claiming the scheduler's default ` +
    "batchSize per call (the store's fireBatchSize: the batch column) " +
    '(by 1 claimer, or 2 or 4 side by side as that many processes would); then acquireRuns 1,000 and finishRuns for the ' +
    `1,000. PostgreSQL: the median of ${ROUNDS} rounds after a warm-up round, the configurations taking ` +
    'turns within each round.',
);
print([yardstick, worded, yardstick2, ...rows], []);
const rate = (r: Row) => r.fires / (r.fireMs / 1000);
console.log(
  "\nPostgreSQL, fires/s / the yardsticks': one SQL statement per batch | one transaction of three statements" +
    ' | one SQL statement per batch, 2 connections:',
);
const storeWidth = Math.max(...pgRows.map((r) => r.store.length));
for (const r of pgRows)
  console.log(
    `  ${r.store.padEnd(storeWidth)} ${(rate(r) / rate(yardstick)).toFixed(2)}x | ${(rate(r) / rate(worded)).toFixed(2)}x` +
      ` | ${(rate(r) / rate(yardstick2)).toFixed(2)}x`,
  );

const peers: Peer[] = [];
for (const [label, run] of [
  ['pg-boss', benchPgBoss],
  ['BullMQ', benchBullMQ],
] as const) {
  try {
    peers.push(await run());
  } catch (err) {
    console.log(`${label}: not measured (${(err as Error).message})`);
  }
}
console.log(
  '\nEnd to end, items/s (higher is better): for tickwork, due job -> run created (fired) -> run completed; ' +
    'for the queues, item created -> completed (the creation is their counterpart of firing), and in ' +
    'brackets without the creation:',
);
const e2e = [
  ...rows.map((r) => ({
    name: `tickwork ${r.store}`,
    rate: r.fires / ((r.fireMs + r.runMs) / 1000),
    how: `fire (batches of ${r.batch.toLocaleString('en-US')}) + acquire 1,000 + finish 1,000 per call`,
  })),
  ...peers.map((p) => ({
    name: p.name,
    rate: p.items / ((p.createMs + p.ms) / 1000),
    how: `${p.how} (${Math.round(p.items / (p.ms / 1000)).toLocaleString('en-US')} without the creation)`,
  })),
];
const width = Math.max(...e2e.map((e) => e.name.length));
for (const e of e2e) {
  console.log(
    `  ${e.name.padEnd(width)} ${Math.round(e.rate).toLocaleString('en-US').padStart(9)}   ${e.how}`,
  );
}
const twPg = Math.max(...e2e.slice(0, pgRows.length).map((e) => e.rate));
for (const p of e2e.slice(rows.length))
  console.log(`  tickwork PostgreSQL (best) / ${p.name}: ${(twPg / p.rate).toFixed(2)}x`);
const twRedis = e2e.find((e) => e.name === 'tickwork Redis');
const bull = e2e.find((e) => e.name === 'BullMQ (Redis)');
if (twRedis && bull)
  console.log(`  tickwork Redis / BullMQ (Redis): ${(twRedis.rate / bull.rate).toFixed(2)}x`);
process.exit(0);

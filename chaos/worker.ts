// One node of the chaos harness: a Scheduler on a PostgresStore in the given schema. At boot it re-adds every
// job (replaceExisting), as a rolling deploy would, then runs the `chaos` task, which records each execution
// in `chaos_executions` through its own pg client. A record is committed before the task returns (group
// commit every few ms), so a node killed before the commit has not finished the run: the run is reaped and
// retried, never silently lost.
//
//   node --import tsx chaos/worker.ts --url URL --schema S --name n1 --jobs 500 --interval 2000 --start MS
//     [--skew MS] [--lease MS] [--heartbeat MS] [--seed-only] [--no-task] [--task-ms MS]
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Scheduler, silentLogger } from '../dist/index.js';
import { SkewedClock, SystemClock } from '../dist/core/clock.js';
import { PostgresStore } from '../dist/stores/postgres/index.js';
import { jobDefinitions, type ChaosConfig } from './jobs.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    schema: { type: 'string' },
    name: { type: 'string' },
    jobs: { type: 'string' },
    interval: { type: 'string' },
    start: { type: 'string' },
    skew: { type: 'string', default: '0' },
    lease: { type: 'string', default: '10000' },
    heartbeat: { type: 'string', default: '2000' },
    'task-ms': { type: 'string', default: '50' },
    'seed-only': { type: 'boolean', default: false },
    'no-task': { type: 'boolean', default: false },
  },
});

const config: ChaosConfig = {
  jobs: Number(values.jobs),
  interval: Number(values.interval),
  start: Number(values.start),
};
const url = values.url!;
const schema = values.schema!;
const name = values.name!;
const skew = Number(values.skew);
const taskMs = Number(values['task-ms']);

const clock = skew === 0 ? new SystemClock() : new SkewedClock(skew);
const store = new PostgresStore(
  { connectionString: url },
  {
    schema,
    poolSize: 4,
    statementTimeout: 10_000,
    idleInTransactionTimeout: 5000,
    maxWakeInterval: 5000,
    ...(process.env.TICKWORK_FIRE_CONCURRENCY
      ? { fireConcurrency: Number(process.env.TICKWORK_FIRE_CONCURRENCY) }
      : {}),
  },
);
const scheduler = new Scheduler({
  store,
  clock,
  logger: silentLogger,
  nodeId: `${name}:${process.pid}`,
  leaseDuration: Number(values.lease),
  heartbeatInterval: Number(values.heartbeat),
  maxConcurrentRuns: 500,
});

// The recorder: its own connection, one multi-row INSERT per flush.
// A PostgreSQL restart breaks the connection: the next flush reconnects, and the tasks waiting on the failed
// flush fail, so their runs are retried.
let dbReady: Promise<void> | null = null;
const connect = (): Promise<void> => {
  if (!dbReady) {
    const c = new pg.Client({ connectionString: url });
    c.on('error', () => {
      if (current === c) {
        current = null;
        dbReady = null;
      }
    });
    dbReady = c.connect().then(() => {
      current = c;
    });
    dbReady.catch(() => {
      dbReady = null;
    });
  }
  return dbReady;
};
let current: pg.Client | null = null;
interface Row {
  jobId: string;
  sft: number;
  runId: string;
  attempt: number;
  start: number;
}
let buffer: { row: Row; done: () => void; fail: (e: unknown) => void }[] = [];
let flushing = false;
async function flush(): Promise<void> {
  if (flushing || buffer.length === 0) return;
  flushing = true;
  const batch = buffer;
  buffer = [];
  try {
    await connect();
    await current!.query(
      `INSERT INTO "${schema}".chaos_executions (job_id, sft, run_id, attempt, node, pid, started_at, skew)
       SELECT j, to_timestamp(s / 1000.0), r::uuid, a, $6, $7, to_timestamp(t / 1000.0), $8
       FROM unnest($1::text[], $2::float8[], $3::text[], $4::int[], $5::float8[]) AS x(j, s, r, a, t)`,
      [
        batch.map((b) => b.row.jobId),
        batch.map((b) => b.row.sft),
        batch.map((b) => b.row.runId),
        batch.map((b) => b.row.attempt),
        batch.map((b) => b.row.start),
        name,
        process.pid,
        skew,
      ],
    );
    for (const b of batch) b.done();
  } catch (err) {
    current = null;
    dbReady = null;
    for (const b of batch) b.fail(err);
  } finally {
    flushing = false;
  }
}
const flusher = setInterval(() => void flush(), 5);

function record(row: Row): Promise<void> {
  return new Promise((done, fail) => buffer.push({ row, done, fail }));
}

async function insertEvent(table: string, runId: string, attempt: number): Promise<void> {
  try {
    await connect();
    await current!.query(`INSERT INTO "${schema}".${table} (run_id, attempt, node) VALUES ($1, $2, $3)`, [
      runId,
      attempt,
      name,
    ]);
  } catch {
    // counted best-effort; the checker says so
  }
}

// Stale completions: finishRun answering false (the lease was lost, another node took the run).
const finishRun = store.finishRun.bind(store);
store.finishRun = async (runId, owner, attempt, now, outcome) => {
  const ok = await finishRun(runId, owner, attempt, now, outcome);
  if (!ok) await insertEvent('chaos_stale', runId, attempt);
  return ok;
};
scheduler.on('job:abandoned', (e) => void insertEvent('chaos_abandoned', e.runId, e.attempt));

if (!values['no-task']) {
  scheduler.defineTask(
    'chaos',
    async (ctx: { jobId: string; runId: string; scheduledFireTime: Date; attempt: number }) => {
      // The start by the database's clock: our clock corrected by the measured offset.
      const start = scheduler.clock.now() + scheduler.clockOffset;
      await record({
        jobId: ctx.jobId,
        sft: ctx.scheduledFireTime.getTime(),
        runId: ctx.runId,
        attempt: ctx.attempt,
        start,
      });
      if (taskMs > 0) await new Promise((r) => setTimeout(r, Math.random() * taskMs));
    },
  );
}

async function addAll(): Promise<void> {
  const defs = jobDefinitions(config);
  const width = 16;
  for (let i = 0; i < defs.length; i += width) {
    await Promise.all(
      defs.slice(i, i + width).map((d) =>
        scheduler.addJob('chaos', 'interval', {
          id: d.id,
          milliseconds: config.interval,
          startDate: new Date(d.startDate),
          taskId: 'chaos',
          coalesce: false,
          misfireGraceTime: null,
          maxInstances: 1000,
          retry: { attempts: 20, backoff: 'fixed', delay: 0 },
          replaceExisting: true,
        }),
      ),
    );
  }
}

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await scheduler.shutdown({ timeout: 5000 }).catch(() => {});
  await flush().catch(() => {});
  clearInterval(flusher);
  await current?.end().catch(() => {});
  process.exit(code);
}
process.on('SIGTERM', () => void stop(0));
process.on('SIGINT', () => void stop(0));

if (values['seed-only']) {
  await scheduler.start({ paused: true });
  await addAll();
  await scheduler.shutdown();
  clearInterval(flusher);
  process.stdout.write('seeded\n');
  process.exit(0);
} else {
  // As a server boots (the Fastify plugin's `setup` runs before `start`): every job is re-added, then the
  // scheduler starts and stores them (unchanged ones are only read, 500 at a time).
  if (!values['no-task']) await addAll(); // the throughput scenario's jobs were seeded once
  await scheduler.start();

  process.stdout.write(`ready ${scheduler.nodeId} offset=${scheduler.clockOffset}\n`);
}

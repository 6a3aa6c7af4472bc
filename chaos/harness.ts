// The chaos harness: spawns N real node processes (`worker.ts`) on one PostgreSQL schema, runs a sequence of
// scenarios, each a window of the run with its own fault (kill -9 and restart, SIGSTOP/SIGCONT, a
// PostgreSQL restart, clock skew, a rolling restart), then checks every scenario's window with `check.ts`.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { check, type Scenario, type ScenarioReport } from './check.js';
import type { ChaosConfig } from './jobs.js';

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));

export type ScenarioName = 'steady' | 'kill' | 'stop' | 'skew' | 'rolling' | 'pg-restart';

export interface ChaosOptions {
  url: string;
  nodes: number;
  jobs: number;
  /** Interval of every job, in ms. */
  interval: number;
  /** Total length of the scenarios, in ms (split evenly between them). */
  durationMs: number;
  scenarios: ScenarioName[];
  /** Lease of a run and heartbeat, in ms. */
  lease: number;
  heartbeat: number;
  /** How long a SIGSTOP lasts, in ms (capped at half a scenario). */
  stallMs: number;
  /** Skew of the skewed nodes, in ms. */
  skewMs: number;
  /** Keep the schema afterwards (for inspection). */
  keep?: boolean;
  log?: (line: string) => void;
  random?: () => number;
}

export interface ChaosResult {
  schema: string;
  reports: ScenarioReport[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

class Node {
  child: ChildProcess | null = null;
  stderr = '';
  constructor(
    readonly name: string,
    private readonly args: string[],
    private readonly log: (line: string) => void,
  ) {}

  /** Spawns the worker and resolves once it has started and re-added every job. */
  start(skew = 0): Promise<void> {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', WORKER, ...this.args, '--name', this.name, `--skew=${skew}`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    this.stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    return new Promise((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /ready (\S+) offset=(-?\d+)/.exec(out);
        if (m) {
          this.log(`${this.name} ready (pid ${child.pid}, clock offset ${m[2]} ms, skew ${skew} ms)`);
          out = '';
          resolve();
        }
      });
      child.once('exit', (code, signal) => {
        if (this.child === child) this.child = null;
        reject(new Error(`${this.name} exited (${code ?? signal}) before ready: ${this.stderr}`));
      });
    });
  }

  signal(sig: NodeJS.Signals): void {
    this.child?.kill(sig);
  }

  /** SIGTERM (graceful shutdown), then SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
    this.child = null;
  }

  async kill9(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await exited;
    this.child = null;
  }
}

async function dbNow(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ t: number }>(
      `SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS t`,
    );
    return r.rows[0]!.t;
  } finally {
    await c.end();
  }
}

async function waitForPostgres(url: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      await dbNow(url);
      return;
    } catch (err) {
      if (Date.now() > end) throw err;
      await sleep(250);
    }
  }
}

/** Restarts the local PostgreSQL cluster (Debian's pg_ctlcluster) and waits until it answers again. */
export async function restartPostgres(url: string): Promise<void> {
  const version = readdirSync('/etc/postgresql')[0]!;
  try {
    execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart'], {
      stdio: 'ignore',
    });
  } finally {
    try {
      await waitForPostgres(url, 30_000);
    } catch {
      execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start'], {
        stdio: 'ignore',
      });
      await waitForPostgres(url, 30_000);
    }
  }
}

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const random = options.random ?? Math.random;
  const url = options.url;
  const schema = `tw_chaos_${randomUUID().replaceAll('-', '').slice(0, 10)}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`CREATE SCHEMA "${schema}";
    CREATE TABLE "${schema}".chaos_executions (job_id text NOT NULL, sft timestamptz NOT NULL, run_id uuid NOT NULL,
      attempt int NOT NULL, node text NOT NULL, pid int NOT NULL, started_at timestamptz NOT NULL, skew int NOT NULL,
      recorded_at timestamptz NOT NULL DEFAULT clock_timestamp());
    CREATE TABLE "${schema}".chaos_abandoned (run_id uuid NOT NULL, attempt int NOT NULL, node text NOT NULL);
    CREATE TABLE "${schema}".chaos_stale (run_id uuid NOT NULL, attempt int NOT NULL, node text NOT NULL);`);

  // The grid starts after seeding, so no fire time is owed before the jobs exist.
  const seedLead = 3000 + options.jobs; // ~1 ms per job to add
  const config: ChaosConfig = {
    jobs: options.jobs,
    interval: options.interval,
    start: Math.ceil((await dbNow(url)) + seedLead + 4000),
  };
  const common = [
    '--url',
    url,
    '--schema',
    schema,
    '--jobs',
    String(config.jobs),
    '--interval',
    String(config.interval),
    '--start',
    String(config.start),
    '--lease',
    String(options.lease),
    '--heartbeat',
    String(options.heartbeat),
  ];
  const nodes = Array.from({ length: options.nodes }, (_, i) => new Node(`n${i + 1}`, common, log));
  const scenarios: Scenario[] = [];
  try {
    log(`schema ${schema}: seeding ${config.jobs} jobs (interval ${config.interval} ms)`);
    execFileSync(process.execPath, ['--import', 'tsx', WORKER, ...common, '--name', 'seed', '--seed-only'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await Promise.all(nodes.map((n) => n.start()));
    const pick = () => nodes[Math.floor(random() * nodes.length)]!;
    const phaseMs = Math.floor(options.durationMs / options.scenarios.length);
    const stall = Math.min(options.stallMs, Math.floor(phaseMs / 2));
    let from = Math.max(config.start, await dbNow(url));
    for (const name of options.scenarios) {
      const start = Math.max(from, await dbNow(url));
      const end = start + phaseMs;
      const wait = async (at: number) => sleep(at - (await dbNow(url)));
      log(`scenario ${name}: ${phaseMs} ms`);
      let target = 250;
      switch (name) {
        case 'steady':
          break;
        case 'kill': {
          const kills = Math.max(1, Math.floor(phaseMs / 30_000));
          for (let k = 0; k < kills; k++) {
            await wait(start + ((k + 0.2 + random() * 0.4) * phaseMs) / kills);
            const node = pick();
            log(`  kill -9 ${node.name}`);
            await node.kill9();
            await sleep(1000);
            await node.start();
          }
          break;
        }
        case 'stop': {
          target = options.lease + options.heartbeat + 1000;
          await wait(start + phaseMs * 0.1);
          const node = pick();
          log(`  SIGSTOP ${node.name} for ${stall} ms`);
          node.signal('SIGSTOP');
          await sleep(stall);
          node.signal('SIGCONT');
          log(`  SIGCONT ${node.name}`);
          break;
        }
        case 'skew': {
          // Restarting a node is a boot: the first second after it is the kill scenario's business.
          await wait(start + phaseMs * 0.1);
          const skews = [options.skewMs, -options.skewMs];
          for (let i = 0; i < Math.min(2, nodes.length); i++) {
            log(`  restart ${nodes[i]!.name} with its clock skewed by ${skews[i]} ms`);
            await nodes[i]!.stop();
            await nodes[i]!.start(skews[i]);
          }
          break;
        }
        case 'rolling': {
          await wait(start + phaseMs * 0.1);
          for (const node of nodes) {
            log(`  rolling restart of ${node.name}`);
            await node.stop();
            await node.start();
          }
          break;
        }
        case 'pg-restart': {
          target = 10_000;
          await wait(start + phaseMs * 0.2);
          log('  restarting PostgreSQL');
          await restartPostgres(url);
          log('  PostgreSQL is up again');
          break;
        }
      }
      await wait(end);
      scenarios.push({ name, from: start, to: end, latenessTarget: target });
      from = end;
    }
    // Let every owed fire time run: a run held by a stalled node is retried after its lease.
    const settle = options.lease + 2 * options.heartbeat + 3000;
    log(`settling ${settle} ms`);
    await sleep(settle);
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
  log('checking');
  const reports = await check(url, schema, config, scenarios);
  if (!options.keep) await admin(`DROP SCHEMA "${schema}" CASCADE`);
  return { schema, reports };
}

/**
 * Firing throughput: `jobs` interval jobs, all due every `interval`, on `nodes` processes that fire but do not
 * run (the task is not defined there, so firing alone is measured). Resolves to runs created per second
 * over a window of `windowMs` after a warm-up.
 */
export async function runThroughput(options: {
  url: string;
  nodes: number;
  jobs: number;
  interval: number;
  windowMs: number;
  log?: (line: string) => void;
}): Promise<{ firesPerSecond: number; fires: number; windowMs: number }> {
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const url = options.url;
  const schema = `tw_chaos_${randomUUID().replaceAll('-', '').slice(0, 10)}`;
  const start = Math.ceil((await dbNow(url)) + 5000);
  const common = [
    '--url',
    url,
    '--schema',
    schema,
    '--jobs',
    '1',
    '--interval',
    String(options.interval),
    '--start',
    String(start),
  ];
  // One job through the API, then copies of its row: seeding 100,000 jobs one by one is not what is measured.
  execFileSync(process.execPath, ['--import', 'tsx', WORKER, ...common, '--name', 'seed', '--seed-only'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(
      `INSERT INTO "${schema}".jobs SELECT 't' || g, name, task_id, trigger, args, max_instances, misfire_grace_time,
         coalesce, jitter, timeout, retry, paused, next_run_time, version, created_at, updated_at
       FROM "${schema}".jobs, generate_series(1, $1) AS g WHERE id = 'j0'`,
      [options.jobs - 1],
    );
    log(`throughput: ${options.jobs} jobs every ${options.interval} ms on ${options.nodes} nodes`);
    const nodes = Array.from(
      { length: options.nodes },
      (_, i) => new Node(`t${i + 1}`, [...common, '--no-task'], log),
    );
    try {
      await Promise.all(nodes.map((n) => n.start()));
      await sleep(start - (await dbNow(url)) + 2000); // warm-up
      const count = async () =>
        Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".runs`)).rows[0]!.n);
      const t0 = await dbNow(url);
      const n0 = await count();
      await sleep(options.windowMs);
      const n1 = await count();
      const t1 = await dbNow(url);
      const windowMs = t1 - t0;
      return { firesPerSecond: Math.round(((n1 - n0) * 1000) / windowMs), fires: n1 - n0, windowMs };
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  } finally {
    await c.query(`DROP SCHEMA "${schema}" CASCADE`).catch(() => {});
    await c.end();
  }
}

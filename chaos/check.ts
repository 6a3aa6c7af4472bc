// The independent checker: expected fire times come from the job definitions by plain arithmetic
// (`jobs.ts`), observed executions from `chaos_executions` (written by the tasks), never from the store's
// own bookkeeping, except for one cross-check of early starts against the runs' database start times.
import pg from 'pg';
import { fireTimes, jobDefinitions, type ChaosConfig } from './jobs.js';

/** A time window of the run, in database-clock epoch ms: fire times in [from, to) belong to it. */
export interface Scenario {
  name: string;
  from: number;
  to: number;
  /** The lateness bound this scenario must meet (p99), in ms. */
  latenessTarget: number;
}

export interface ScenarioReport {
  scenario: string;
  /** Fire times expected in the window. */
  expected: number;
  /** Fire times executed at least once. */
  executed: number;
  /** Duplicate firings: (job, fire time) with more than one run record. */
  duplicates: number;
  /** The same (run, attempt) executed more than once (the lease fence failing). */
  duplicateAttempts: number;
  /** Expected fire times never executed. */
  misses: number;
  /** Executions at a time that is not a fire time of the job's trigger. */
  offGrid: number;
  /** Executions starting more than `earlyTolerance` before the fire time (node clock corrected by offset). */
  early: number;
  /** Runs whose database start time (`runs.started_at`) is before their fire time (retained runs). */
  earlyDb: number;
  /** Lateness of each fire time's first execution, in ms. */
  p50: number;
  p99: number;
  max: number;
  latenessTarget: number;
  /** Executions (all attempts) and distinct runs. */
  executions: number;
  runs: number;
  /** Runs executed more than once (retried after a lease expiry or a failed record). */
  retriedRuns: number;
  /** Lease expiries (runs reaped as abandoned). */
  leaseExpiries: number;
  /** Completions refused because the lease was lost (`finishRun` returned false). */
  staleCompletions: number;
  pass: boolean;
}

/** Slack for the node-clock early check: the offset is known within half a round trip. */
export const EARLY_TOLERANCE_MS = 10;

interface Execution {
  job_id: string;
  sft: number;
  run_id: string;
  attempt: number;
  started_at: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export async function check(
  url: string,
  schema: string,
  config: ChaosConfig,
  scenarios: Scenario[],
): Promise<ScenarioReport[]> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const s = `"${schema}"`;
    const ex = await db.query<Execution>(
      `SELECT job_id, (extract(epoch FROM sft) * 1000)::float8 AS sft, run_id::text, attempt,
         (extract(epoch FROM started_at) * 1000)::float8 AS started_at FROM ${s}.chaos_executions`,
    );
    const abandoned = await db.query<{ run_id: string }>(`SELECT run_id::text FROM ${s}.chaos_abandoned`);
    const stale = await db.query<{ run_id: string }>(`SELECT run_id::text FROM ${s}.chaos_stale`);
    const earlyRuns = await db.query<{ job_id: string; sft: number }>(
      `SELECT job_id, (extract(epoch FROM scheduled_fire_time) * 1000)::float8 AS sft FROM ${s}.runs
       WHERE NOT manual AND started_at < scheduled_fire_time`,
    );
    const defs = new Map(jobDefinitions(config).map((d) => [d.id, d.startDate]));
    const sftOfRun = new Map<string, number>();
    for (const e of ex.rows) sftOfRun.set(e.run_id, Math.round(e.sft));
    const inWindow = (sc: Scenario, t: number | undefined) => t !== undefined && t >= sc.from && t < sc.to;

    return scenarios.map((sc) => {
      const byFire = new Map<string, Execution[]>();
      let offGrid = 0;
      for (const e of ex.rows) {
        const sft = Math.round(e.sft);
        if (sft < sc.from || sft >= sc.to) continue;
        const start = defs.get(e.job_id);
        if (start === undefined || sft < start || (sft - start) % config.interval !== 0) {
          offGrid++;
          continue;
        }
        const key = `${e.job_id}@${sft}`;
        let list = byFire.get(key);
        if (!list) byFire.set(key, (list = []));
        list.push(e);
      }
      let expected = 0;
      let misses = 0;
      for (const [id, start] of defs) {
        for (const t of fireTimes(start, config.interval, sc.from, sc.to)) {
          expected++;
          if (!byFire.has(`${id}@${t}`)) misses++;
        }
      }
      let duplicates = 0;
      let duplicateAttempts = 0;
      let early = 0;
      let executions = 0;
      let runs = 0;
      let retriedRuns = 0;
      const lateness: number[] = [];
      for (const [key, list] of byFire) {
        const sft = Number(key.slice(key.lastIndexOf('@') + 1));
        const runIds = new Map<string, number>();
        const attempts = new Set<string>();
        for (const e of list) {
          runIds.set(e.run_id, (runIds.get(e.run_id) ?? 0) + 1);
          const a = `${e.run_id}#${e.attempt}`;
          if (attempts.has(a)) duplicateAttempts++;
          attempts.add(a);
          if (e.started_at < sft - EARLY_TOLERANCE_MS) early++;
        }
        if (runIds.size > 1) duplicates += runIds.size - 1;
        executions += list.length;
        runs += runIds.size;
        for (const n of runIds.values()) if (n > 1) retriedRuns++;
        lateness.push(Math.max(0, Math.min(...list.map((e) => e.started_at)) - sft));
      }
      lateness.sort((a, b) => a - b);
      const earlyDb = earlyRuns.rows.filter((r) => inWindow(sc, Math.round(r.sft))).length;
      const leaseExpiries = abandoned.rows.filter((r) => inWindow(sc, sftOfRun.get(r.run_id))).length;
      const staleCompletions = stale.rows.filter((r) => inWindow(sc, sftOfRun.get(r.run_id))).length;
      const p99 = percentile(lateness, 99);
      return {
        scenario: sc.name,
        expected,
        executed: byFire.size,
        duplicates,
        duplicateAttempts,
        misses,
        offGrid,
        early,
        earlyDb,
        p50: Math.round(percentile(lateness, 50)),
        p99: Math.round(p99),
        max: Math.round(lateness.at(-1) ?? 0),
        latenessTarget: sc.latenessTarget,
        executions,
        runs,
        retriedRuns,
        leaseExpiries,
        staleCompletions,
        pass:
          duplicates === 0 &&
          duplicateAttempts === 0 &&
          misses === 0 &&
          offGrid === 0 &&
          early === 0 &&
          earlyDb === 0 &&
          p99 <= sc.latenessTarget,
      };
    });
  } finally {
    await db.end();
  }
}

/** One table per scenario, as plain text. */
export function formatReport(r: ScenarioReport): string {
  const rows: [string, string][] = [
    ['fire times expected', String(r.expected)],
    ['fire times executed', String(r.executed)],
    ['duplicate firings (>1 run per fire time)', String(r.duplicates)],
    ['duplicate executions of one (run, attempt)', String(r.duplicateAttempts)],
    ['misses', String(r.misses)],
    ['off-grid executions', String(r.offGrid)],
    [`early fires (node clock + offset, > ${EARLY_TOLERANCE_MS} ms)`, String(r.early)],
    ['early starts by the DB clock (runs.started_at)', String(r.earlyDb)],
    ['lateness p50 / p99 / max (ms)', `${r.p50} / ${r.p99} / ${r.max}  (p99 target <= ${r.latenessTarget})`],
    [
      'executions / runs',
      `${r.executions} / ${r.runs}  (${(r.executions / Math.max(1, r.runs)).toFixed(4)})`,
    ],
    ['runs executed more than once', String(r.retriedRuns)],
    ['lease expiries (abandoned)', String(r.leaseExpiries)],
    ['stale completions rejected', String(r.staleCompletions)],
    ['result', r.pass ? 'PASS' : 'FAIL'],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  const line = '-'.repeat(w + 40);
  return [`scenario: ${r.scenario}`, line, ...rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`), line].join('\n');
}

/**
 * Firing lateness (actual start minus scheduled fire time) of 1,000 interval jobs, for tickwork (memory
 * store, default options), croner and node-cron, run one after another in the same process, in three
 * scenarios (below): how the jobs' fire times fall decides how many runs are due at one instant, and the
 * lateness of a run includes the work of starting the ones due with it before it.
 *
 *   node --import tsx bench/lateness.ts [--jobs 1000] [--seconds 6] [--warmup 10] [--scenario phased|spread|burst|all]
 *
 * Times come from `performance.now()` plus an offset to `Date.now()` calibrated at a millisecond tick (sub-ms).
 */
import { Cron } from 'croner';
import nodeCron from 'node-cron';
import { Scheduler, silentLogger } from '../dist/index.js';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '10' },
    scenario: { type: 'string', default: 'all' },
  },
});
const JOBS = Number(values.jobs);
const SECONDS = Number(values.seconds);
/** Seconds of firing before samples count, for every library alike: steady state, not JIT warm-up. */
const WARMUP = Number(values.warmup);
let measureFrom = 0;
const record = (samples: number[], lateness: number) => {
  if (Date.now() >= measureFrom) samples.push(lateness);
};
/**
 * - `phased`: every job fires every second, from the instant it was added, as an interval trigger does
 *   (APScheduler's semantics): 1,000 jobs added in a loop get 1,000 phases spread over the time the loop took.
 *   croner and node-cron cannot keep a phase (cron fires on whole seconds), so they fire all 1,000 at once.
 * - `spread`: job i fires every 10 s at second i % 10 (100 jobs due at each whole second), for every library.
 * - `burst`: every job fires every second, all 1,000 at the same whole second, for every library.
 */
type Scenario = 'phased' | 'spread' | 'burst';
let SCENARIO: Scenario = 'spread';
const PERIOD = () => (SCENARIO === 'spread' ? 10 : 1);
const cronFor = (i: number) => (SCENARIO === 'spread' ? `${i % 10}-59/10 * * * * *` : '* * * * * *');

/**
 * `Date.now()` with sub-millisecond resolution: `performance.now()` plus an offset read at the instant
 * `Date.now()` ticks to a new millisecond (so within a few µs). Not `performance.timeOrigin + performance.now()`:
 * that origin is read once at process start and strays from `Date.now()` by 1.5–3 ms in a quiet process and
 * up to 14 ms in a busy one, which every sample would carry. Calibrated again before each library's run.
 */
let offset = 0;
function calibrate(): void {
  const readings: number[] = [];
  for (let i = 0; i < 5; i++) {
    const from = Date.now();
    let now = from;
    while (now === from) now = Date.now();
    readings.push(now - performance.now());
  }
  // The largest reading: one taken late (a preemption between the two reads) only ever reads smaller.
  offset = Math.max(...readings);
}
const preciseNow = (): number => performance.now() + offset;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Result {
  name: string;
  samples: number[];
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function runTickwork(): Promise<Result> {
  const samples: number[] = [];
  const scheduler = new Scheduler({ logger: silentLogger, maxConcurrentRuns: JOBS * 2 });
  // Anchor on a whole 10 s so the spread matches the cron jobs' `S/10` seconds.
  const start = new Date(Math.ceil((Date.now() + 1500) / 10_000) * 10_000);
  // phased: jobs added to a running scheduler take their phase from the instant each was added (added
  // before start(), they would all take the instant of start()).
  if (SCENARIO === 'phased') await scheduler.start();
  for (let i = 0; i < JOBS; i++) {
    await scheduler.addJob(
      function job(ctx: { scheduledFireTime: Date }) {
        record(samples, preciseNow() - ctx.scheduledFireTime.getTime());
      },
      'interval',
      {
        id: `job-${i}`,
        seconds: PERIOD(),
        // phased: no start date, so the first fire time is one interval after the job was added.
        ...(SCENARIO === 'phased'
          ? {}
          : { startDate: new Date(start.getTime() + (SCENARIO === 'spread' ? (i % 10) * 1000 : 0)) }),
        maxInstances: 1,
      },
    );
  }
  if (SCENARIO !== 'phased') await scheduler.start();
  measureFrom = start.getTime() + WARMUP * 1000;
  await sleep(Math.max(0, start.getTime() - Date.now()) + (WARMUP + SECONDS) * 1000);
  await scheduler.shutdown();
  return { name: 'tickwork', samples };
}

async function runCroner(): Promise<Result> {
  const samples: number[] = [];
  const jobs: Cron[] = [];
  await sleep(1000 - (Date.now() % 1000) + 500);
  for (let i = 0; i < JOBS; i++) {
    jobs.push(
      new Cron(cronFor(i), () => {
        const now = preciseNow();
        record(samples, now - Math.round(now / 1000) * 1000);
      }),
    );
  }
  measureFrom = Date.now() + WARMUP * 1000;
  await sleep((WARMUP + SECONDS) * 1000);
  for (const j of jobs) j.stop();
  return { name: 'croner', samples };
}

async function runNodeCron(): Promise<Result> {
  const samples: number[] = [];
  const tasks: { stop(): unknown }[] = [];
  await sleep(1000 - (Date.now() % 1000) + 500);
  for (let i = 0; i < JOBS; i++) {
    tasks.push(
      nodeCron.schedule(cronFor(i), () => {
        const now = preciseNow();
        record(samples, now - Math.round(now / 1000) * 1000);
      }),
    );
  }
  measureFrom = Date.now() + WARMUP * 1000;
  await sleep((WARMUP + SECONDS) * 1000);
  for (const t of tasks) await t.stop();
  return { name: 'node-cron', samples };
}

async function scenario(which: Scenario): Promise<void> {
  SCENARIO = which;
  const results: Result[] = [];
  for (const run of [runTickwork, runCroner, runNodeCron]) {
    calibrate();
    results.push(await run());
    await sleep(300);
  }
  const rows = results.map((r) => {
    const s = [...r.samples].sort((a, b) => a - b);
    return {
      name: r.name,
      n: s.length,
      p50: pct(s, 50),
      p99: pct(s, 99),
      max: s[s.length - 1] ?? NaN,
      min: s[0] ?? NaN,
    };
  });
  const fmt = (x: number) => x.toFixed(2).padStart(8);
  const title = {
    phased: `Phased: ${JOBS} interval jobs, each every second from when it was added (croner, node-cron: all at each whole second)`,
    spread: `Spread: ${JOBS} jobs, each every 10 s, ${JOBS / 10} due at each whole second`,
    burst: `Burst: ${JOBS} jobs, all due at every whole second`,
  }[which];
  console.log(`\n${title}; ${SECONDS} s per library after ${WARMUP} s of warm-up (ms)\n`);
  console.log('library      runs      min      p50      p99      max');
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(10)} ${String(r.n).padStart(6)} ${fmt(r.min)} ${fmt(r.p50)} ${fmt(r.p99)} ${fmt(r.max)}`,
    );
  }
  console.log(
    `(performance.timeOrigin + performance.now() - Date.now(): ${(performance.timeOrigin - offset).toFixed(2)} ms, not used)`,
  );
  const tw = rows[0]!;
  console.log('ratios (peer lateness / tickwork lateness; > 1 means tickwork starts runs sooner)');
  for (const r of rows.slice(1)) {
    console.log(
      `  ${r.name.padEnd(10)} p50 ${(r.p50 / tw.p50).toFixed(1)}x   p99 ${(r.p99 / tw.p99).toFixed(1)}x`,
    );
  }
}

const scenarios: Scenario[] = ['phased', 'spread', 'burst'];
for (const which of scenarios) {
  if (values.scenario === 'all' || values.scenario === which) await scenario(which);
}
process.exit(0);

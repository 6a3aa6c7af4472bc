// The chaos harness's command line:
//   npm run chaos -- --store postgres --nodes 4 --jobs 10000 --minutes 5 [--interval 5000]
//     [--scenarios steady,kill,stop,skew,rolling] [--pg-restart] [--throughput-jobs 50000] [--no-throughput]
//     [--stall 30000] [--lease 10000] [--heartbeat 2000] [--url postgres://...] [--keep]
// Prints one table per scenario and exits 1 when a scenario misses its targets.
// TICKWORK_FIRE_CONCURRENCY=n gives the workers' PostgresStore that fireConcurrency (default: the store's).
import { parseArgs } from 'node:util';
import { formatReport } from './check.js';
import { runChaos, runThroughput, type ScenarioName } from './harness.js';

const { values } = parseArgs({
  options: {
    store: { type: 'string', default: 'postgres' },
    url: {
      type: 'string',
      default: process.env.TICKWORK_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test',
    },
    nodes: { type: 'string', default: '4' },
    jobs: { type: 'string', default: '10000' },
    minutes: { type: 'string', default: '5' },
    interval: { type: 'string' },
    scenarios: { type: 'string', default: 'steady,kill,stop,skew,rolling' },
    'pg-restart': { type: 'boolean', default: false },
    stall: { type: 'string', default: '30000' },
    lease: { type: 'string', default: '10000' },
    heartbeat: { type: 'string', default: '2000' },
    'throughput-jobs': { type: 'string', default: '50000' },
    'throughput-seconds': { type: 'string', default: '10' },
    'no-throughput': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});

if (values.store !== 'postgres') {
  console.error(
    `Only --store postgres is supported (got ${values.store}); SQLite is covered by test/cluster`,
  );
  process.exit(2);
}
const jobs = Number(values.jobs);
const scenarios = values.scenarios.split(',').filter(Boolean) as ScenarioName[];
if (values['pg-restart'] && !scenarios.includes('pg-restart')) scenarios.push('pg-restart');
// By default about 1,000 executions per second in all (10,000 jobs every 10 s), at least 2 s apart per job.
const interval = values.interval ? Number(values.interval) : Math.max(2000, Math.min(10_000, jobs));

const result = await runChaos({
  url: values.url,
  nodes: Number(values.nodes),
  jobs,
  interval,
  durationMs: Number(values.minutes) * 60_000,
  scenarios,
  lease: Number(values.lease),
  heartbeat: Number(values.heartbeat),
  stallMs: Number(values.stall),
  skewMs: 30_000,
  keep: values.keep,
});
let ok = true;
console.log(
  `\nchaos: ${values.nodes} nodes, ${jobs} jobs every ${interval} ms, ${values.minutes} min, schema ${result.schema}\n`,
);
for (const r of result.reports) {
  console.log(formatReport(r) + '\n');
  ok &&= r.pass;
}
if (!values['no-throughput']) {
  const t = await runThroughput({
    url: values.url,
    nodes: Number(values.nodes),
    jobs: Number(values['throughput-jobs']),
    interval: 1000,
    windowMs: Number(values['throughput-seconds']) * 1000,
  });
  const pass = t.firesPerSecond >= 20_000;
  console.log(
    `scenario: throughput (${values.nodes} nodes, ${values['throughput-jobs']} jobs due every second, firing only)\n` +
      `fires ${t.fires} in ${Math.round(t.windowMs)} ms = ${t.firesPerSecond} fires/s (target >= 20000): ` +
      (pass ? 'PASS' : 'FAIL'),
  );
  ok &&= pass;
}
process.exit(ok ? 0 : 1);

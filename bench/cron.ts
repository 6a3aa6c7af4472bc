/**
 * Next-fire-time throughput of tickwork's CronTrigger against croner, cron-parser, node-cron and
 * cron-schedule, in one run. `node --import tsx bench/cron.ts` (about 30-40 s).
 *
 * Each library parses the pattern once, then computes sequences of fire times (prev = last result) from a
 * fixed start, restarting after `seq` steps so every library covers the same dates. The first five results
 * are compared with tickwork's; a library that disagrees (or throws) is shown as such, without a ratio.
 *
 * cron-schedule only works in the host's local time, so this process runs with TZ=UTC and cron-schedule is
 * measured on the UTC patterns only. node-cron 4 has no "next after a given date" API: its
 * `getNextRuns(n)` starts from the real current time, so it is measured that way (marked "from now").
 */
process.env.TZ = 'UTC';

import { Cron } from 'croner';
import { CronExpressionParser } from 'cron-parser';
import { parseCronExpression } from 'cron-schedule';
import { createTask } from 'node-cron';
import { CronTrigger } from '../dist/triggers/cron/index.js';

interface Pattern {
  expr: string;
  tz: string;
  start: string;
  /** steps per sequence before restarting from `start` */
  seq: number;
  label?: string;
}

const PATTERNS: Pattern[] = [
  { expr: '* * * * *', tz: 'UTC', start: '2024-01-01T00:00:00Z', seq: 1000 },
  { expr: '*/5 * * * *', tz: 'UTC', start: '2024-01-01T00:00:00Z', seq: 1000 },
  { expr: '0 9 * * 1-5', tz: 'America/New_York', start: '2024-01-01T00:00:00Z', seq: 250 },
  { expr: '0 0 29 2 *', tz: 'UTC', start: '2024-01-01T00:00:00Z', seq: 20 },
  { expr: '0 0 L * *', tz: 'UTC', start: '2024-01-01T00:00:00Z', seq: 100 },
  { expr: '0 0 * * 5#3', tz: 'UTC', start: '2024-01-01T00:00:00Z', seq: 100 },
  {
    expr: '30 2 * * *',
    tz: 'Europe/Berlin',
    start: '2024-03-28T00:00:00Z',
    seq: 6,
    label: '30 2 * * * Berlin, over 2024-03-31',
  },
  { expr: '0 0 31 * *', tz: 'UTC', start: '2024-01-01T00:00:00Z', seq: 100 },
];

const BUDGET_MS = 400;

type Next = (prev: Date) => Date | null;
interface Lib {
  name: string;
  /** Builds a stepping function from a fixed start, or throws / returns null when unsupported. */
  make(p: Pattern): { next: Next; reset?: () => void; note?: string } | null;
}

const LIBS: Lib[] = [
  {
    name: 'tickwork',
    make(p) {
      const t = new CronTrigger(p.expr, { timezone: p.tz });
      const now = new Date(0);
      return { next: (prev) => t.getNextFireTime(prev, now) };
    },
  },
  {
    name: 'croner',
    make(p) {
      // Its fastest valid configuration: no `timezone` option for UTC patterns (the process runs in UTC).
      const c = new Cron(p.expr, p.tz === 'UTC' ? { paused: true } : { timezone: p.tz, paused: true });
      return { next: (prev) => c.nextRun(prev) };
    },
  },
  {
    name: 'cron-parser',
    make(p) {
      // Its natural API is a stateful iterator: parse once per sequence, then next().
      const start = new Date(p.start);
      let it = CronExpressionParser.parse(p.expr, { currentDate: start, tz: p.tz });
      return {
        next: () => it.next().toDate(),
        reset: () => {
          it = CronExpressionParser.parse(p.expr, { currentDate: start, tz: p.tz });
        },
        note: 'iterator re-parsed per sequence',
      };
    },
  },
  {
    name: 'cron-schedule',
    make(p) {
      if (p.tz !== 'UTC') return null;
      const c = parseCronExpression(p.expr);
      return { next: (prev) => c.getNextDate(new Date(prev.getTime() + 1)) };
    },
  },
];

function agree(a: (Date | null)[], b: (Date | null)[]): boolean {
  return a.length === b.length && a.every((d, i) => (d?.getTime() ?? null) === (b[i]?.getTime() ?? null));
}

function firstFive(next: Next, start: Date, reset?: () => void): (Date | null)[] {
  reset?.();
  const out: (Date | null)[] = [];
  let prev: Date | null = start;
  for (let i = 0; i < 5 && prev; i++) {
    prev = next(prev);
    out.push(prev);
  }
  return out;
}

function measure(next: Next, p: Pattern, reset?: () => void): number {
  const start = new Date(p.start);
  let ops = 0;
  // warm-up
  for (let r = 0; r < 3; r++) {
    reset?.();
    let prev: Date | null = start;
    for (let i = 0; i < p.seq && prev; i++) prev = next(prev);
  }
  const t0 = performance.now();
  let elapsed = 0;
  while (elapsed < BUDGET_MS) {
    reset?.();
    let prev: Date | null = start;
    for (let i = 0; i < p.seq && prev; i++) {
      prev = next(prev);
      ops++;
    }
    elapsed = performance.now() - t0;
  }
  return (ops / elapsed) * 1000;
}

function fmt(n: number | string): string {
  if (typeof n === 'string') return n;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}

interface Row {
  pattern: string;
  results: Record<string, number | string>;
}

const rows: Row[] = [];
for (const p of PATTERNS) {
  const results: Record<string, number | string> = {};
  let reference: (Date | null)[] = [];
  for (const lib of LIBS) {
    try {
      const made = lib.make(p);
      if (!made) {
        results[lib.name] = 'n/a (zone)';
        continue;
      }
      const five = firstFive(made.next, new Date(p.start), made.reset);
      if (lib.name === 'tickwork') reference = five;
      else if (!agree(five, reference)) {
        const i = five.findIndex((d, k) => (d?.getTime() ?? null) !== (reference[k]?.getTime() ?? null));
        results[lib.name] = `differs (#${i + 1}: ${five[i]?.toISOString().slice(0, 16) ?? 'null'})`;
        continue;
      }
      results[lib.name] = measure(made.next, p, made.reset);
    } catch (err) {
      results[lib.name] = `error: ${(err as Error).message.slice(0, 40)}`;
    }
  }
  // node-cron: only "next runs from now".
  try {
    const task = createTask(p.expr, () => {}, { timezone: p.tz });
    const n = 50;
    const t0 = performance.now();
    let ops = 0;
    while (performance.now() - t0 < BUDGET_MS / 2) {
      task.getNextRuns(n);
      ops += n;
    }
    results['node-cron'] = (ops / (performance.now() - t0)) * 1000;
    void task.destroy();
  } catch (err) {
    results['node-cron'] = `error: ${(err as Error).message.slice(0, 30)}`;
  }
  rows.push({ pattern: p.label ?? `${p.expr}${p.tz === 'UTC' ? '' : ` ${p.tz}`}`, results });
}

// Parse cost: construct from the string, all patterns in turn.
const parseRows: Row = { pattern: 'parse (all 8 patterns, per parse)', results: {} };
const parsers: Record<string, (p: Pattern) => unknown> = {
  tickwork: (p) => new CronTrigger(p.expr, { timezone: p.tz }),
  croner: (p) => new Cron(p.expr, p.tz === 'UTC' ? { paused: true } : { timezone: p.tz, paused: true }),
  'cron-parser': (p) => CronExpressionParser.parse(p.expr, { tz: p.tz }),
  'cron-schedule': (p) => parseCronExpression(p.expr),
};
for (const [name, parse] of Object.entries(parsers)) {
  let ops = 0;
  const t0 = performance.now();
  try {
    while (performance.now() - t0 < BUDGET_MS) {
      for (const p of PATTERNS) {
        try {
          parse(p);
        } catch {
          // unsupported pattern: counted anyway, the cost of rejecting it
        }
        ops++;
      }
    }
    parseRows.results[name] = (ops / (performance.now() - t0)) * 1000;
  } catch (err) {
    parseRows.results[name] = `error: ${(err as Error).message.slice(0, 30)}`;
  }
}
parseRows.results['node-cron'] = 'n/a';
rows.push(parseRows);

const names = ['tickwork', 'croner', 'cron-parser', 'node-cron', 'cron-schedule'];
const header = ['pattern', ...names.map((n) => `${n} ops/s`), 'x croner', 'x cron-schedule'];
const table = rows.map((r) => {
  const tw = r.results.tickwork;
  const ratio = (peer: string): string => {
    const v = r.results[peer];
    return typeof tw === 'number' && typeof v === 'number' ? `${(tw / v).toFixed(1)}x` : '-';
  };
  return [r.pattern, ...names.map((n) => fmt(r.results[n] ?? '-')), ratio('croner'), ratio('cron-schedule')];
});
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
console.log(`Node ${process.version}, ${BUDGET_MS} ms per measurement; sequences restart from a fixed date`);
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
for (const row of table) console.log(line(row));
console.log(
  '\nnode-cron 4 has no next-after-a-date API: measured with task.getNextRuns(50), which starts from now.',
);
console.log('cron-schedule reads and builds dates in local time only: measured on UTC patterns (TZ=UTC).');
process.exit(0);

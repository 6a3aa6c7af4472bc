/**
 * Property tests (fast-check) of the cron engine, including agreement with a brute-force walker written
 * here from the rules in `shared/vectors/cron-README.md`: it steps over real instants (a minute or a second
 * at a time), reads wall time from `Intl`, and applies Vixie's DST rule for fixed-time jobs.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CronTrigger } from '../../../src/triggers/cron/index.js';
import { triggerFromJSON } from '../../../src/triggers/index.js';
import { ZoneRules } from '../../../src/triggers/cron/zone.js';
import { isoInZone, wallOf } from './helpers.js';

const ZONES = [
  'UTC',
  'Europe/Berlin',
  'Europe/London',
  'America/New_York',
  'America/Santiago',
  'America/Sao_Paulo',
  'America/St_Johns',
  'America/Havana',
  'Australia/Sydney',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
  'Africa/Cairo',
  'Asia/Kolkata',
  'Asia/Tehran',
];

/** A generated field: its text and an independent predicate. */
interface Field {
  text: string;
  match: (v: number) => boolean;
}

function numField(min: number, max: number, hot: number[] = []): fc.Arbitrary<Field> {
  const v = fc.oneof(fc.constantFrom(...(hot.length ? hot : [min])), fc.integer({ min, max }));
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant<Field>({ text: '*', match: () => true }) },
    { weight: 3, arbitrary: v.map<Field>((a) => ({ text: String(a), match: (x) => x === a })) },
    {
      weight: 2,
      arbitrary: fc.tuple(v, v).map<Field>(([a, b]) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        return { text: `${lo}-${hi}`, match: (x) => x >= lo && x <= hi };
      }),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(v, v)
        .map<Field>(([a, b]) => ({ text: `${a},${b}`, match: (x) => x === a || x === b })),
    },
    {
      weight: 2,
      arbitrary: fc
        .integer({ min: 1, max: Math.max(1, Math.floor((max - min) / 2)) })
        .map<Field>((s) => ({ text: `*/${s}`, match: (x) => (x - min) % s === 0 })),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(v, fc.integer({ min: 1, max: 20 })).map<Field>(([a, s]) => ({
        text: `${a}/${s}`,
        match: (x) => x >= a && (x - a) % s === 0,
      })),
    },
  );
}

interface DayField {
  text: string;
  star: boolean;
  /** y, m (1-12), d, weekday (0 = Sunday), days in month */
  match: (y: number, m: number, d: number, wd: number, dim: number) => boolean;
}

const domField: fc.Arbitrary<DayField> = fc.oneof(
  { weight: 8, arbitrary: fc.constant<DayField>({ text: '*', star: true, match: () => true }) },
  { weight: 1, arbitrary: fc.constant<DayField>({ text: '?', star: true, match: () => true }) },
  {
    weight: 2,
    arbitrary: fc
      .integer({ min: 1, max: 31 })
      .map<DayField>((a) => ({ text: String(a), star: false, match: (_y, _m, d) => d === a })),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 2, max: 5 }).map<DayField>((s) => ({
      text: `*/${s}`,
      star: true,
      match: (_y, _m, d) => (d - 1) % s === 0,
    })),
  },
  {
    weight: 1,
    arbitrary: fc.constant<DayField>({ text: 'L', star: false, match: (_y, _m, d, _w, dim) => d === dim }),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 5 }).map<DayField>((n) => ({
      text: `L-${n}`,
      star: false,
      match: (_y, _m, d, _w, dim) => d === dim - n,
    })),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 31 }).map<DayField>((n) => ({
      text: `${n}W`,
      star: false,
      match: (_y, _m, d, wd, dim) => {
        if (n > dim) return false;
        // weekday of day n
        const wn = (((wd - (d - n)) % 7) + 7) % 7;
        let target = n;
        if (wn === 6) target = n === 1 ? 3 : n - 1;
        else if (wn === 0) target = n === dim ? n - 2 : n + 1;
        return d === target;
      },
    })),
  },
);

const DOW_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const dowField: fc.Arbitrary<DayField> = fc.oneof(
  { weight: 8, arbitrary: fc.constant<DayField>({ text: '*', star: true, match: () => true }) },
  { weight: 1, arbitrary: fc.constant<DayField>({ text: '?', star: true, match: () => true }) },
  {
    weight: 2,
    arbitrary: fc.tuple(fc.integer({ min: 0, max: 7 }), fc.boolean()).map<DayField>(([a, name]) => ({
      text: name ? DOW_NAMES[a % 7]! : String(a),
      star: false,
      match: (_y, _m, _d, wd) => wd === a % 7,
    })),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 7 }))
      .map<DayField>(([a, b]) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        return {
          text: `${lo}-${hi}`,
          star: false,
          match: (_y, _m, _d, wd) => (wd >= lo && wd <= hi) || (wd === 0 && hi === 7),
        };
      }),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1, max: 5 }))
      .map<DayField>(([w, k]) => ({
        text: `${w}#${k}`,
        star: false,
        match: (_y, _m, d, wd) => wd === w && Math.ceil(d / 7) === k,
      })),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 0, max: 6 }).map<DayField>((w) => ({
      text: `${w}L`,
      star: false,
      match: (_y, _m, d, wd, dim) => wd === w && d + 7 > dim,
    })),
  },
);

interface Expr {
  text: string;
  seconds: Field | null;
  minute: Field;
  hour: Field;
  dom: DayField;
  month: Field;
  dow: DayField;
}

const exprArb: fc.Arbitrary<Expr> = fc
  .record({
    seconds: fc.oneof(
      { weight: 3, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: numField(0, 59, [0, 30]) },
    ),
    minute: numField(0, 59, [0, 30, 45]),
    hour: numField(0, 23, [0, 1, 2, 3, 23]),
    dom: domField,
    month: fc.oneof(
      { weight: 5, arbitrary: fc.constant<Field>({ text: '*', match: () => true }) },
      { weight: 1, arbitrary: numField(1, 12, [3, 4, 9, 10, 11]) },
    ),
    dow: dowField,
  })
  .map((r) => ({
    ...r,
    text: [r.seconds?.text, r.minute.text, r.hour.text, r.dom.text, r.month.text, r.dow.text]
      .filter((x) => x !== undefined)
      .join(' '),
  }));

/** A reference instant near a DST season (March-April, September-November) of 2019-2035. */
const afterArb = fc
  .tuple(
    fc.integer({ min: 2019, max: 2035 }),
    fc.constantFrom(3, 4, 9, 10, 11),
    fc.integer({ min: 0, max: 30 * 24 * 60 - 1 }),
  )
  .map(([y, m, minutes]) => Date.UTC(y, m - 1, 1) + minutes * 60_000 + (minutes % 7) * 1000);

function dayMatches(e: Expr, y: number, m: number, d: number): boolean {
  const dim = new Date(Date.UTC(y, m, 0)).getUTCDate();
  const wd = new Date(Date.UTC(y, m - 1, d)).getUTCDay();
  if (!e.month.match(m)) return false;
  const a = e.dom.match(y, m, d, wd, dim);
  const b = e.dow.match(y, m, d, wd, dim);
  return e.dom.star || e.dow.star ? a && b : a || b;
}

function wallMatches(e: Expr, wall: number): boolean {
  const s = Math.floor(wall / 1000) % 60;
  if (e.seconds ? !e.seconds.match(s) : s !== 0) return false;
  if (!e.minute.match(Math.floor(wall / 60_000) % 60) || !e.hour.match(Math.floor(wall / 3_600_000) % 24)) {
    return false;
  }
  const w = new Date(wall);
  return dayMatches(e, w.getUTCFullYear(), w.getUTCMonth() + 1, w.getUTCDate());
}

function isFixed(e: Expr): boolean {
  return [e.seconds?.text ?? '0', e.minute.text, e.hour.text].every((t) => !/[*?/]/.test(t));
}

/**
 * Brute force: the fire times in (after, after + horizon], walking real instants one `step` at a time.
 * Fixed-time jobs fire on the first pass of a wall time only, and at the first instant after a gap that
 * swallowed a matching wall time; other jobs fire whenever the wall time matches.
 */
const offsetFormatters = new Map<string, Intl.DateTimeFormat>();
const minuteOffsets = new Map<string, Map<number, number>>();

function intlOffset(zone: string, t: number): number {
  let f = offsetFormatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' });
    offsetFormatters.set(zone, f);
  }
  const m = /GMT(?:([+\u2212-])(\d\d):(\d\d))?/.exec(f.format(t))!;
  return m[1] === undefined ? 0 : (m[1] === '+' ? 1 : -1) * (Number(m[2]) * 60 + Number(m[3])) * 60_000;
}

function memoOffset(zone: string, unit: number, index: number): number {
  const key = `${zone}/${unit}`;
  let memo = minuteOffsets.get(key);
  if (!memo) {
    memo = new Map();
    minuteOffsets.set(key, memo);
  }
  let off = memo.get(index);
  if (off === undefined) {
    off = intlOffset(zone, index * unit);
    if (memo.size > 1_000_000) memo.clear();
    memo.set(index, off);
  }
  return off;
}

/**
 * Wall time of `t` in `zone` from `Intl`: the offset is read at the start and end of the hour, and per
 * minute only in an hour where the two differ (offsets change on whole minutes).
 */
function wallAt(t: number, zone: string): number {
  const hour = Math.floor(t / 3_600_000);
  const a = memoOffset(zone, 3_600_000, hour);
  if (a === memoOffset(zone, 3_600_000, hour + 1)) return t + a;
  return t + memoOffset(zone, 60_000, Math.floor(t / 60_000));
}

function walk(e: Expr, zone: string, after: number, horizon: number): number[] {
  const step = e.seconds ? 1000 : 60_000;
  const fixed = isFixed(e);
  const out: number[] = [];
  let t = Math.floor((after - 3 * 3_600_000) / step) * step;
  let prevWall = wallAt(t, zone);
  let maxWall = prevWall;
  for (t += step; t <= after + horizon; t += step) {
    const wall = wallAt(t, zone);
    let fire = false;
    if (fixed) {
      if (wall > maxWall && wallMatches(e, wall)) fire = true;
      // Gap: wall times strictly between prevWall and wall never happened.
      if (wall - prevWall > step) {
        for (let w = prevWall + step; w < wall; w += step) if (wallMatches(e, w)) fire = true;
      }
    } else if (wallMatches(e, wall)) fire = true;
    if (fire && t > after) out.push(t);
    prevWall = wall;
    if (wall > maxWall) maxWall = wall;
  }
  return out;
}

function sequence(tr: CronTrigger, after: number, until: number, max = 500): number[] {
  const out: number[] = [];
  let prev = new Date(after);
  for (let i = 0; i < max; i++) {
    const n = tr.getNextFireTime(prev, prev);
    if (n === null || n.getTime() > until) break;
    out.push(n.getTime());
    prev = n;
  }
  return out;
}

describe('cron properties', () => {
  test('agrees with a brute-force walker on random expressions and zones', () => {
    const walked = { minutes: 0, nonEmpty: 0 };
    fc.assert(
      fc.property(exprArb, fc.constantFrom(...ZONES), afterArb, (e, zone, after) => {
        const horizon = e.seconds ? 3 * 3_600_000 : 12 * 86_400_000;
        if (e.seconds === null) walked.minutes++;
        const tr = new CronTrigger(e.text, { timezone: zone });
        const want = walk(e, zone, after, horizon);
        if (want.length > 0) walked.nonEmpty++;
        const got = sequence(tr, after, after + horizon, want.length + 2);
        assert.deepEqual(
          got.map((t) => isoInZone(t, zone)),
          want.map((t) => isoInZone(t, zone)),
          `${e.text} in ${zone} after ${new Date(after).toISOString()}`,
        );
      }),
      { numRuns: 200, seed: 20240229 },
    );
    // The generator must produce schedules that fire within the horizon most of the time.
    assert.ok(walked.nonEmpty > 90, `only ${walked.nonEmpty} of 200 walks had fire times`);
  });

  test('the walker sees DST: fixed-time 02:30 in New York on 2021-03-14 fires at 03:00 EDT', () => {
    const e: Expr = {
      text: '30 2 * * *',
      seconds: null,
      minute: { text: '30', match: (v) => v === 30 },
      hour: { text: '2', match: (v) => v === 2 },
      dom: { text: '*', star: true, match: () => true },
      month: { text: '*', match: () => true },
      dow: { text: '*', star: true, match: () => true },
    };
    const got = walk(e, 'America/New_York', Date.parse('2021-03-13T12:00:00Z'), 2 * 86_400_000);
    assert.deepEqual(
      got.map((t) => isoInZone(t, 'America/New_York')),
      ['2021-03-14T03:00:00-04:00', '2021-03-15T02:30:00-04:00'],
    );
  });

  test('next fire time is strictly after the reference, whole seconds, strictly increasing', () => {
    fc.assert(
      fc.property(
        exprArb,
        fc.constantFrom(...ZONES),
        afterArb,
        fc.integer({ min: 0, max: 999 }),
        (e, zone, after, ms) => {
          const tr = new CronTrigger(e.text, { timezone: zone });
          let prev = after + ms;
          for (let i = 0; i < 20; i++) {
            const n = tr.getNextFireTime(new Date(prev), new Date(0));
            if (n === null) break;
            assert.ok(n.getTime() > prev, `${n.toISOString()} > ${new Date(prev).toISOString()}`);
            assert.equal(n.getTime() % 1000, 0);
            prev = n.getTime();
          }
          // With no previous fire time: at or after now.
          const first = tr.getNextFireTime(null, new Date(after + ms));
          if (first) assert.ok(first.getTime() >= after + ms);
        },
      ),
      { numRuns: 300, seed: 7 },
    );
  });

  test('never returns a wall time that does not exist; the result matches or is a gap transition', () => {
    fc.assert(
      fc.property(exprArb, fc.constantFrom(...ZONES), afterArb, (e, zone, after) => {
        const tr = new CronTrigger(e.text, { timezone: zone });
        let prev = new Date(after);
        for (let i = 0; i < 10; i++) {
          const n = tr.getNextFireTime(prev, prev);
          if (n === null) break;
          const t = n.getTime();
          const iso = isoInZone(t, zone);
          // The wall time printed with its offset round-trips to the same instant.
          assert.equal(Date.parse(iso), t, iso);
          const wall = wallOf(t, zone);
          const isTransition = wallOf(t - 1000, zone) !== wall - 1000;
          assert.ok(wallMatches(e, wall) || (isFixed(e) && isTransition), `${e.text} ${zone}: ${iso}`);
          prev = n;
        }
      }),
      { numRuns: 300, seed: 11 },
    );
  });

  test('toJSON -> fromJSON in the middle of an iteration continues the same sequence', () => {
    fc.assert(
      fc.property(
        exprArb,
        fc.constantFrom(...ZONES),
        afterArb,
        fc.integer({ min: 1, max: 8 }),
        (e, zone, after, k) => {
          const tr = new CronTrigger(e.text, { timezone: zone });
          const all = sequence(tr, after, Infinity, 12);
          let prev = new Date(after);
          let current: CronTrigger = tr;
          const got: number[] = [];
          for (let i = 0; i < all.length; i++) {
            if (i === k)
              current = triggerFromJSON(JSON.parse(JSON.stringify(current.toJSON()))) as CronTrigger;
            const n = current.getNextFireTime(prev, prev);
            if (n === null) break;
            got.push(n.getTime());
            prev = n;
          }
          assert.deepEqual(got, all);
        },
      ),
      { numRuns: 100, seed: 3 },
    );
  });
});

test('zone offsets: a week of summer time (Boa Vista, Recife, Noronha, October 2000) is seen, hour by hour as Intl says', () => {
  // The offset straight from Intl (its own formatter here), for comparison.
  const intlOffset = (zone: string, t: number): number => {
    const s = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' }).format(t);
    const m = /GMT([+\u2212-])(\d\d):(\d\d)/.exec(s);
    return m === null ? 0 : (m[1] === '+' ? 1 : -1) * (Number(m[2]) * 60 + Number(m[3])) * 60_000;
  };
  for (const zone of ['America/Boa_Vista', 'America/Recife', 'America/Noronha']) {
    const rules = new ZoneRules(zone);
    const from = Date.UTC(2000, 9, 1);
    const to = Date.UTC(2000, 10, 1);
    const seen = new Set<number>();
    for (let t = from; t < to; t += 3_600_000) {
      const expected = intlOffset(zone, t);
      seen.add(expected);
      assert.equal(rules.offsetAt(t), expected, `${zone} at ${new Date(t).toISOString()}`);
    }
    assert.equal(seen.size, 2, `${zone} changed its offset and back in October 2000`);
  }
});

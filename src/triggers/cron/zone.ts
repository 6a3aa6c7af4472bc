/**
 * Fast UTC-offset lookups for IANA zones, built on `Intl` only.
 *
 * Calling `Intl.DateTimeFormat` costs about a microsecond, far too much per candidate instant. So each
 * zone's offsets are read from `Intl` at coarse probes (every 7 days of each UTC year), the exact
 * transition instants between probes whose offsets differ are found by bisection (to the second), and the
 * result is cached per zone and UTC year as a short list of *segments*: stretches of real time with one
 * constant offset. Afterwards an offset lookup is a cached-year check plus a scan of two or three entries.
 *
 * Each UTC year starts a new segment even where the offset does not change there; such a pseudo-boundary
 * has `prevOffset === offset` and is harmless for every caller.
 *
 * Assumption (documented in docs/cron.md): no zone changes its offset twice within 7 days and back again.
 * No zone in the IANA database since 1970 does; the shortest real DST interruptions (Ramadan in Morocco
 * and Egypt) last weeks.
 *
 * @module
 */

/** Milliseconds in a day. */
export const DAY_MS = 86_400_000;
/**
 * How far apart a zone's offset is probed; a change and its reverse closer together than this could be missed.
 * The shortest such period since 1970 is about a week (Boa Vista, Recife and Noronha, 8 to 15 October 2000).
 */
const PROBE_STEP = 3 * DAY_MS;

/** Offsets of one zone over one UTC year. */
export interface ZoneYear {
  /** First instant of the UTC year (epoch ms). */
  readonly start: number;
  /** First instant of the next UTC year (epoch ms). */
  readonly end: number;
  /** Segment start instants; `starts[0] === start`. */
  readonly starts: number[];
  /** Offset (ms, positive east of Greenwich) of each segment. */
  readonly offsets: number[];
  /** Offset in force just before `start`. */
  readonly prevOffset: number;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`). */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** UTC year of an epoch-ms instant, without allocating a `Date`. */
export function utcYear(t: number): number {
  const z = Math.floor(t / DAY_MS) + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  return yoe + era * 400 + (mp >= 10 ? 1 : 0);
}

/**
 * The offsets of one IANA zone, read through `Intl` and cached per UTC year. Obtain instances with
 * {@link zoneRules}; they are shared and immutable from the outside.
 */
export class ZoneRules {
  /** The zone name. */
  readonly zone: string;
  /** `true` for UTC: offset always 0, no `Intl` calls. */
  readonly isUtc: boolean;
  private readonly fmt: Intl.DateTimeFormat | null;
  private readonly years = new Map<number, ZoneYear>();
  private last: ZoneYear | null = null;

  constructor(zone: string) {
    this.zone = zone;
    this.isUtc = zone === 'UTC' || zone === 'Etc/UTC' || zone === 'Etc/GMT' || zone === 'GMT';
    this.fmt = this.isUtc
      ? null
      : new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' });
  }

  /** The offset at `t` straight from `Intl` (slow; used for probing and in tests). */
  probe(t: number): number {
    if (this.fmt === null) return 0;
    const s = this.fmt.format(t);
    const i = s.lastIndexOf('GMT');
    if (i < 0 || i + 3 >= s.length) return 0;
    const sign = s.charCodeAt(i + 3) === 45 /* - */ || s.charCodeAt(i + 3) === 0x2212 ? -1 : 1;
    const parts = s.slice(i + 4).split(':');
    const h = Number(parts[0] ?? 0);
    const m = Number(parts[1] ?? 0);
    const sec = Number(parts[2] ?? 0);
    return sign * ((h * 60 + m) * 60 + sec) * 1000;
  }

  /** The cached offsets of the UTC year containing `t`. */
  yearOf(t: number): ZoneYear {
    const last = this.last;
    if (last !== null && t >= last.start && t < last.end) return last;
    const y = utcYear(t);
    let zy = this.years.get(y);
    if (zy === undefined) {
      zy = this.build(y);
      if (this.years.size > 2000) this.years.clear();
      this.years.set(y, zy);
    }
    this.last = zy;
    return zy;
  }

  /** Offset (ms) in force at instant `t`. */
  offsetAt(t: number): number {
    if (this.isUtc) return 0;
    const zy = this.yearOf(t);
    const starts = zy.starts;
    let i = starts.length - 1;
    while (i > 0 && starts[i]! > t) i--;
    return zy.offsets[i]!;
  }

  /**
   * The start of the real offset change at or before `t` (skipping the pseudo-boundaries at UTC year starts),
   * searching at most two years back; `-Infinity` when there is none.
   */
  transitionAtOrBefore(t: number): number {
    let zy = this.yearOf(t);
    for (let k = 0; k < 3; k++) {
      const starts = zy.starts;
      let i = starts.length - 1;
      while (i > 0 && starts[i]! > t) i--;
      for (; i >= 0; i--) {
        const prev = i > 0 ? zy.offsets[i - 1]! : zy.prevOffset;
        if (prev !== zy.offsets[i]) return starts[i]!;
      }
      t = zy.start - 1;
      zy = this.yearOf(t);
    }
    return -Infinity;
  }

  private build(y: number): ZoneYear {
    const start = daysFromCivil(y, 1, 1) * DAY_MS;
    const end = daysFromCivil(y + 1, 1, 1) * DAY_MS;
    const starts = [start];
    const offsets: number[] = [];
    const prevOffset = this.probe(start - 1000);
    let cur = this.probe(start);
    offsets.push(cur);
    if (this.fmt !== null) {
      let a = start;
      while (a < end) {
        const b = Math.min(a + PROBE_STEP, end - 1000);
        if (b <= a) break;
        let ob = this.probe(b);
        // Find every transition in (a, b]: bisect for the first second whose offset differs from `cur`.
        while (ob !== cur) {
          let lo = a;
          let hi = b;
          while (hi - lo > 1000) {
            const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
            if (this.probe(mid) === cur) lo = mid;
            else hi = mid;
          }
          cur = this.probe(hi);
          starts.push(hi);
          offsets.push(cur);
          a = hi;
          if (a >= b) break;
          ob = this.probe(b);
        }
        a = b;
      }
    }
    return { start, end, starts, offsets, prevOffset };
  }
}

const rulesByZone = new Map<string, ZoneRules>();

/** The shared {@link ZoneRules} of a (valid, canonical) IANA zone name. */
export function zoneRules(zone: string): ZoneRules {
  let r = rulesByZone.get(zone);
  if (r === undefined) {
    r = new ZoneRules(zone);
    rulesByZone.set(zone, r);
  }
  return r;
}

/**
 * The instants at which wall time `local` (wall fields read as if UTC, epoch ms) occurs in the zone:
 * `[t]` normally, `[first, second]` in a fall-back overlap, `[]` in a spring-forward gap.
 */
export function instantsOfLocal(rules: ZoneRules, local: number): number[] {
  if (rules.isUtc) return [local];
  const out: number[] = [];
  // Offsets never exceed +/- 26 h, so the candidates come from the offsets in force a day either side.
  const o1 = rules.offsetAt(local - DAY_MS);
  const o2 = rules.offsetAt(local);
  const o3 = rules.offsetAt(local + DAY_MS);
  for (const o of [o1, o2, o3]) {
    const t = local - o;
    if (rules.offsetAt(t) === o && !out.includes(t)) out.push(t);
  }
  return out.sort((a, b) => a - b);
}

/**
 * Resolves a wall time to one instant: the earlier one in an overlap; in a gap, the first instant after
 * the gap (the transition instant) when `gap` is `'transition'`, or the wall time moved forward by the
 * gap's length when `gap` is `'shift'`.
 */
export function resolveLocal(
  rules: ZoneRules,
  local: number,
  gap: 'transition' | 'shift' = 'transition',
): number {
  const found = instantsOfLocal(rules, local);
  if (found.length > 0) return found[0]!;
  // In a gap: the offset before the gap applies to `local - before`, which lies after the transition.
  const before = rules.offsetAt(local - DAY_MS);
  if (gap === 'shift') return local - before;
  return rules.transitionAtOrBefore(local - before);
}

/**
 * The cron engine: finds the next fire instant of a {@link ParsedCron} in a time zone.
 *
 * - Wall-time search: per field a "next allowed value" table (`next[v]` = the smallest allowed value
 *   >= v, or -1), per month a 31-bit mask of matching days (cached), and a field-by-field jump with carry:
 *   year, month, day (count trailing zeros of the day mask), hour, minute, second. Never a minute walk.
 * - Time zones: real time is cut into segments of constant UTC offset ({@link ZoneRules}); inside a
 *   segment wall time is the instant plus a constant, so the wall-time search applies directly. The DST
 *   rules are decided at segment boundaries (see {@link CronSchedule.next}).
 * - UTC takes a fast path without segments.
 *
 * @module
 */
import type { DayField, ParsedCron } from './parse.js';
import { DAY_MS, daysFromCivil, type ZoneRules } from './zone.js';

/** What to do with a matching wall time that a spring-forward gap skips. */
export type DstGapPolicy = 'transition' | 'shift' | 'skip';
/** What to do with a matching wall time that a fall-back overlap repeats. */
export type DstOverlapPolicy = 'first' | 'both';

/** The latest instant a `Date` can hold. */
const MAX_TIME = 8.64e15;
/** The Gregorian calendar repeats every 400 years: a search that finds nothing in 401 years never will. */
const SEARCH_YEARS = 401;

function nextTable(values: readonly number[], size: number): Int16Array {
  // size + 1 entries: next[size] = -1 is the carry sentinel.
  const t = new Int16Array(size + 1).fill(-1);
  let next = -1;
  const allowed = new Set(values);
  for (let v = size - 1; v >= 0; v--) {
    if (allowed.has(v)) next = v;
    t[v] = next;
  }
  return t;
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

const MONTH_DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days in month `m` (1-12) of year `y`. */
export function daysInMonth(y: number, m: number): number {
  return m === 2 && isLeap(y) ? 29 : MONTH_DAYS[m]!;
}

/** Weekday (0 = Sunday) of a day number since 1970-01-01 (a Thursday). */
function weekdayOfDays(days: number): number {
  return (((days + 4) % 7) + 7) % 7;
}

/** ISO 8601 week number of a day number since 1970-01-01. */
function isoWeekOfDays(days: number): number {
  const wd = (weekdayOfDays(days) + 6) % 7; // 0 = Monday
  const thursday = days - wd + 3;
  // Year of that Thursday, then week = 1 + (thursday - first Thursday of that year) / 7.
  const y = civilYear(thursday);
  const jan1 = daysFromCivil(y, 1, 1);
  return 1 + Math.floor((thursday - jan1) / 7);
}

function civilYear(days: number): number {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  return yoe + era * 400 + (mp >= 10 ? 1 : 0);
}

/** Options of {@link CronSchedule}. */
export interface CronScheduleOptions {
  /** AND the day fields always (else: Vixie's rule). */
  dayMatchAnd: boolean;
  /** Gap policy, or `null` for the Vixie default (fixed-time: transition; others: skip). */
  gap: DstGapPolicy | null;
  /** Overlap policy, or `null` for the Vixie default (fixed-time: first; others: both). */
  overlap: DstOverlapPolicy | null;
}

/**
 * A compiled cron schedule in one zone. Immutable from the outside; holds small caches (day masks).
 */
export class CronSchedule {
  readonly parsed: ParsedCron;
  readonly rules: ZoneRules;
  readonly gap: DstGapPolicy;
  readonly overlap: DstOverlapPolicy;
  private readonly sec: Int16Array;
  private readonly min: Int16Array;
  private readonly hr: Int16Array;
  private readonly mon: Int16Array;
  /** next allowed year, indexed by `year - yearBase`; null for any year. */
  private readonly yrs: Int16Array | null;
  private readonly yearBase: number;
  private readonly yearMax: number;
  private readonly andDays: boolean;
  private readonly dom: DayField;
  private readonly dow: DayField;
  private readonly allDays: boolean;
  /** Weekday patterns of the plain weekdays: for first weekday w0, bit d-1 set when day d matches. */
  private readonly domWeekPattern: Int32Array;
  private readonly dowWeekPattern: Int32Array;
  private readonly weeks: Set<number> | null;
  private readonly maskCache = new Map<number, number>();
  private cacheKey = -1;
  private cacheMask = 0;
  /** Set once a full 400-year search found nothing: the schedule never fires. */
  private never = false;

  constructor(parsed: ParsedCron, rules: ZoneRules, options: CronScheduleOptions) {
    this.parsed = parsed;
    this.rules = rules;
    this.gap = options.gap ?? (parsed.fixedTime ? 'transition' : 'skip');
    this.overlap = options.overlap ?? (parsed.fixedTime ? 'first' : 'both');
    this.sec = nextTable(parsed.second, 60);
    this.min = nextTable(parsed.minute, 60);
    this.hr = nextTable(parsed.hour, 24);
    this.mon = nextTable(parsed.month, 13);
    if (parsed.years === null) {
      this.yrs = null;
      this.yearBase = 0;
      this.yearMax = 275759;
    } else {
      const ys = parsed.years;
      this.yearBase = ys[0] ?? 0;
      this.yearMax = ys[ys.length - 1] ?? -1;
      this.yrs = nextTable(
        ys.map((y) => y - this.yearBase),
        this.yearMax - this.yearBase + 1,
      );
    }
    this.dom = parsed.dayOfMonth;
    this.dow = parsed.dayOfWeek;
    this.andDays = options.dayMatchAnd || parsed.forceAnd || this.dom.star || this.dow.star;
    this.weeks = parsed.weeks === null ? null : new Set(parsed.weeks);
    this.allDays =
      this.weeks === null && (this.andDays ? this.dom.all && this.dow.all : this.dom.all || this.dow.all);
    this.domWeekPattern = weekPatterns(this.dom.weekdays);
    this.dowWeekPattern = weekPatterns(this.dow.weekdays);
  }

  /** Bit `d - 1` set for each matching day `d` of month `m` of year `y`. */
  dayMask(y: number, m: number): number {
    const key = y * 16 + m;
    if (key === this.cacheKey) return this.cacheMask;
    let mask = this.maskCache.get(key);
    if (mask === undefined) {
      mask = this.computeDayMask(y, m);
      if (this.maskCache.size > 4096) this.maskCache.clear();
      this.maskCache.set(key, mask);
    }
    this.cacheKey = key;
    this.cacheMask = mask;
    return mask;
  }

  private computeDayMask(y: number, m: number): number {
    const n = daysInMonth(y, m);
    const full = n === 31 ? 0x7fffffff : (1 << n) - 1;
    if (this.allDays) return full;
    const first = daysFromCivil(y, m, 1);
    const w0 = weekdayOfDays(first);
    const a = fieldMask(this.dom, n, w0, full, this.domWeekPattern);
    const b = fieldMask(this.dow, n, w0, full, this.dowWeekPattern);
    let mask = (this.andDays ? a & b : a | b) & full;
    if (this.weeks !== null) {
      for (let d = 1; d <= n; d++) {
        if (mask & (1 << (d - 1)) && !this.weeks.has(isoWeekOfDays(first + d - 1))) mask &= ~(1 << (d - 1));
      }
    }
    return mask;
  }

  /**
   * The first matching wall time at or after `lo` (wall fields read as UTC epoch ms, whole seconds), or
   * `NaN` when there is none within the search bound (400 years, or the year field's end).
   */
  nextWall(lo: number): number {
    if (this.never) return NaN;
    let days = Math.floor(lo / DAY_MS);
    let rem = lo - days * DAY_MS;
    // civil from days
    const z = days + 719468;
    const era = Math.floor(z / 146097);
    const doe = z - era * 146097;
    const yoe = Math.floor(
      (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
    );
    const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
    const mp = Math.floor((5 * doy + 2) / 153);
    let d = doy - Math.floor((153 * mp + 2) / 5) + 1;
    let mo = mp < 10 ? mp + 3 : mp - 9;
    let y = yoe + era * 400 + (mo <= 2 ? 1 : 0);
    let h = Math.floor(rem / 3_600_000);
    rem -= h * 3_600_000;
    let mi = Math.floor(rem / 60_000);
    let s = Math.floor((rem - mi * 60_000) / 1000);
    const startYear = y;
    let dateChanged = false;
    const yrs = this.yrs;
    for (;;) {
      // Year
      if (yrs !== null || y > this.yearMax) {
        let ny: number;
        if (y > this.yearMax) ny = -1;
        else if (y < this.yearBase) ny = this.yearBase;
        else ny = yrs![y - this.yearBase]! + this.yearBase;
        if (ny < this.yearBase) return NaN;
        if (ny !== y) {
          y = ny;
          mo = 1;
          d = 1;
          h = mi = s = 0;
          dateChanged = true;
        }
      }
      if (yrs === null && y - startYear > SEARCH_YEARS) {
        this.never = true;
        return NaN;
      }
      // Month
      const nm = this.mon[mo]!;
      if (nm < 0) {
        y++;
        mo = 1;
        d = 1;
        h = mi = s = 0;
        dateChanged = true;
        continue;
      }
      if (nm !== mo) {
        mo = nm;
        d = 1;
        h = mi = s = 0;
        dateChanged = true;
      }
      // Day
      const mask = this.dayMask(y, mo) >>> (d - 1);
      if (mask === 0 || d > 31) {
        mo++;
        d = 1;
        h = mi = s = 0;
        dateChanged = true;
        continue;
      }
      if ((mask & 1) === 0) {
        d += 31 - Math.clz32(mask & -mask);
        h = mi = s = 0;
        dateChanged = true;
      }
      // Time of day
      const nh = this.hr[h]!;
      if (nh < 0) {
        d++;
        h = mi = s = 0;
        dateChanged = true;
        continue;
      }
      if (nh !== h) {
        h = nh;
        mi = s = 0;
      }
      const nmi = this.min[mi]!;
      if (nmi < 0) {
        h++;
        mi = s = 0;
        continue;
      }
      if (nmi !== mi) {
        mi = nmi;
        s = 0;
      }
      const ns = this.sec[s]!;
      if (ns < 0) {
        mi++;
        s = 0;
        continue;
      }
      s = ns;
      if (dateChanged) days = daysFromCivil(y, mo, d);
      return days * DAY_MS + h * 3_600_000 + mi * 60_000 + s * 1000;
    }
  }

  /**
   * The first fire instant at or after `t` (epoch ms, a whole second), or `NaN`.
   *
   * Within a segment [S, E) of constant offset `off` (previous segment's offset `prev`), the wall times
   * [S + off, E + off) occur at instant `wall - off`. Then:
   * - overlap (`prev > off`): walls in [S + off, S + prev) occurred already in the previous segment; with
   *   the `first` policy they are not fired again;
   * - gap (`prev < off`): walls in [S + prev, S + off) never occur; with the `transition` policy any match
   *   among them fires once at S, with `shift` each fires at `wall - prev` (moved by the gap's length),
   *   with `skip` they do not fire.
   */
  next(t: number): number {
    const rules = this.rules;
    if (rules.isUtc) return this.nextWall(t);
    let guard = 0;
    while (t < MAX_TIME && guard++ < 8 * SEARCH_YEARS) {
      const zy = rules.yearOf(t);
      const starts = zy.starts;
      let i = starts.length - 1;
      while (i > 0 && starts[i]! > t) i--;
      const S = starts[i]!;
      const E = i + 1 < starts.length ? starts[i + 1]! : zy.end;
      const off = zy.offsets[i]!;
      const prev = i > 0 ? zy.offsets[i - 1]! : zy.prevOffset;
      let lo = t + off;
      let shifted = NaN;
      if (prev > off) {
        if (this.overlap === 'first' && lo < S + prev) lo = S + prev;
      } else if (prev < off && this.gap !== 'skip') {
        const gapEnd = S + off;
        if (this.gap === 'transition') {
          if (t === S) {
            const w = this.nextWall(S + prev);
            if (w !== w) return NaN;
            if (w < gapEnd) return S;
          }
        } else if (t + prev < gapEnd) {
          const w = this.nextWall(t + prev);
          if (w !== w) return NaN;
          if (w < gapEnd) shifted = w - prev;
        }
      }
      const w = this.nextWall(lo);
      if (w !== w) return shifted;
      if (w < E + off) {
        const r = w - off;
        return shifted < r ? shifted : r;
      }
      if (shifted === shifted) return shifted;
      // No match in this segment, and no wall time in [lo, w) matches. Offsets differ by less than 2 days,
      // so every instant from t + 2 days to w - off - 2 days has its wall time in [lo, w): jump past them.
      // Before t + 2 days a later segment may show wall times below lo again (clocks went back: the second
      // pass of a repeated hour), so then go on at the segment's end.
      t = E >= t + 2 * DAY_MS ? Math.max(E, Math.floor((w - off) / 1000) * 1000 - 2 * DAY_MS) : E;
    }
    return NaN;
  }
}

function weekPatterns(weekdays: number): Int32Array {
  const out = new Int32Array(7);
  if (weekdays === 0) return out;
  for (let w0 = 0; w0 < 7; w0++) {
    let m = 0;
    for (let d = 1; d <= 31; d++) if (weekdays & (1 << ((w0 + d - 1) % 7))) m |= 1 << (d - 1);
    out[w0] = m;
  }
  return out;
}

function fieldMask(f: DayField, n: number, w0: number, full: number, pattern: Int32Array): number {
  if (f.all) return full;
  let m = f.days | pattern[w0]!;
  if (f.last) m |= 1 << (n - 1);
  for (const k of f.lastMinus) if (n - k >= 1) m |= 1 << (n - k - 1);
  if (f.nearest !== 0) {
    let day = f.nearest < 0 ? n : f.nearest;
    if (day <= n) {
      const wd = (w0 + day - 1) % 7;
      if (wd === 6) day = day === 1 ? 3 : day - 1;
      else if (wd === 0) day = day === n ? day - 2 : day + 1;
      m |= 1 << (day - 1);
    }
  }
  for (const code of f.nth) {
    const wd = code >> 3;
    const k = code & 7;
    let day: number;
    if (k === 6) {
      const wn = (w0 + n - 1) % 7;
      day = n - ((wn - wd + 7) % 7);
    } else {
      day = 1 + ((wd - w0 + 7) % 7) + 7 * (k - 1);
    }
    if (day <= n) m |= 1 << (day - 1);
  }
  return m;
}

/**
 * A trigger that fires every N years, months, weeks or days at a fixed wall time (APScheduler 4's
 * `CalendarIntervalTrigger`): "every month at 09:00 Berlin time", whatever DST does.
 * @module
 */
import { TickworkError, invalidOption } from '../core/errors.js';
import { checkTimeZone, formatIsoInZone, toInstant } from '../core/timezone.js';
import { duration, integer, oneOf, rejectUnknownKeys } from '../core/validate.js';
import { daysInMonth } from './cron/schedule.js';
import { DAY_MS, daysFromCivil, resolveLocal, zoneRules, type ZoneRules } from './cron/zone.js';
import type { Trigger, TriggerJSON } from './trigger.js';

/**
 * What to do when the anchor day does not exist in a target month (the 31st in April, 29 February in a
 * common year):
 * - `'clamp'`: fire on the month's last day instead (30 April, 28 February). The sequence stays anchored on
 *   the start date's day, so the next month is the 31st again. Temporal's and java.time's month arithmetic,
 *   date-fns `addMonths`.
 * - `'skip'`: no fire that month (APScheduler 4's `CalendarIntervalTrigger`, RFC 5545 recurrence rules).
 */
export type ShortMonthPolicy = 'clamp' | 'skip';

/** Options of {@link CalendarIntervalTrigger}. At least one of `years`, `months`, `weeks`, `days` must be > 0. */
export interface CalendarIntervalTriggerOptions {
  /** Years between fires (integer >= 0). @defaultValue 0 */
  years?: number;
  /** Months between fires (integer >= 0). @defaultValue 0 */
  months?: number;
  /** Weeks between fires (integer >= 0); a week is 7 calendar days. @defaultValue 0 */
  weeks?: number;
  /** Calendar days between fires (integer >= 0). @defaultValue 0 */
  days?: number;
  /** Wall-clock hour of each fire, 0-23. @defaultValue 0 */
  hour?: number;
  /** Wall-clock minute, 0-59. @defaultValue 0 */
  minute?: number;
  /** Wall-clock second, 0-59. @defaultValue 0 */
  second?: number;
  /**
   * The anchor: the sequence is its local date plus k intervals, at `hour:minute:second`; no fire is
   * earlier than this instant. Same input forms as a cron trigger's `startDate`. Without it each fire
   * time is computed from the previous one (and the first is the next `hour:minute:second` from now); with
   * `shortMonths: 'clamp'` give a start date so that a 31st stays the 31st after a short month.
   */
  startDate?: Date | number | string;
  /** Last possible fire time (inclusive). */
  endDate?: Date | number | string;
  /** IANA zone of the wall time. @defaultValue `"UTC"` */
  timezone?: string;
  /** Short-month policy; see {@link ShortMonthPolicy}. @defaultValue `'clamp'` */
  shortMonths?: ShortMonthPolicy;
  /** Maximum random delay in milliseconds added to each run's start. @defaultValue `null` (none) */
  jitter?: number | null;
}

const KEYS = [
  'years',
  'months',
  'weeks',
  'days',
  'hour',
  'minute',
  'second',
  'startDate',
  'endDate',
  'timezone',
  'shortMonths',
  'jitter',
];

interface LocalDate {
  y: number;
  m: number;
  d: number;
}

function localDateOf(rules: ZoneRules, t: number): LocalDate {
  const wall = t + rules.offsetAt(t);
  const days = Math.floor(wall / DAY_MS);
  const dt = new Date(days * DAY_MS);
  return { y: dt.getUTCFullYear(), m: dt.getUTCMonth() + 1, d: dt.getUTCDate() };
}

/**
 * Fires every `years`/`months`/`weeks`/`days` at a wall-clock time in a time zone.
 *
 * - The k-th fire date is the anchor date plus k × (years, months) on the anchor's day of the month
 *   (clamped or skipped in short months, see {@link ShortMonthPolicy}), plus k × (7 × weeks + days) days.
 * - DST: a wall time that falls in a spring-forward gap fires at the first instant after the gap (the
 *   transition instant); a wall time that occurs twice fires on the first pass. No day is ever skipped
 *   for DST (APScheduler 4 skips the day; we do not).
 *
 * @throws TickworkError `INVALID_TRIGGER` when every interval unit is 0, `INVALID_OPTION` naming the
 * field, `UNKNOWN_OPTION`, `INVALID_TIMEZONE`.
 */
export class CalendarIntervalTrigger implements Trigger {
  readonly type = 'calendarInterval';
  readonly years: number;
  readonly months: number;
  readonly weeks: number;
  readonly days: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly startDate: Date | null;
  readonly endDate: Date | null;
  readonly timezone: string;
  readonly shortMonths: ShortMonthPolicy;
  readonly jitter: number | null;
  private readonly rules: ZoneRules;
  private readonly anchor: LocalDate | null;
  private readonly stepMonths: number;
  private readonly stepDays: number;

  constructor(options: CalendarIntervalTriggerOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TickworkError(
        'INVALID_TRIGGER',
        'Expected calendar interval trigger options to be an object',
        {
          field: 'trigger',
          value: options,
        },
      );
    }
    rejectUnknownKeys(options, KEYS);
    this.years = integer(options.years ?? 0, 'years', 0, 10_000);
    this.months = integer(options.months ?? 0, 'months', 0, 120_000);
    this.weeks = integer(options.weeks ?? 0, 'weeks', 0, 520_000);
    this.days = integer(options.days ?? 0, 'days', 0, 3_650_000);
    this.hour = integer(options.hour ?? 0, 'hour', 0, 23);
    this.minute = integer(options.minute ?? 0, 'minute', 0, 59);
    this.second = integer(options.second ?? 0, 'second', 0, 59);
    this.stepMonths = this.years * 12 + this.months;
    this.stepDays = this.weeks * 7 + this.days;
    if (this.stepMonths === 0 && this.stepDays === 0) {
      throw new TickworkError(
        'INVALID_TRIGGER',
        'Expected at least one of `years`, `months`, `weeks`, `days` to be an integer >= 1',
        { field: 'days', value: 0 },
      );
    }
    this.timezone = checkTimeZone(options.timezone ?? 'UTC');
    this.rules = zoneRules(this.timezone);
    this.startDate =
      options.startDate === undefined ? null : toInstant(options.startDate, 'startDate', this.timezone);
    this.endDate =
      options.endDate === undefined ? null : toInstant(options.endDate, 'endDate', this.timezone);
    if (this.startDate && this.endDate && this.endDate < this.startDate) {
      throw invalidOption('endDate', 'at or after `startDate`', options.endDate);
    }
    this.shortMonths =
      options.shortMonths === undefined
        ? 'clamp'
        : oneOf(options.shortMonths, 'shortMonths', ['clamp', 'skip']);
    this.jitter =
      options.jitter === undefined || options.jitter === null ? null : duration(options.jitter, 'jitter');
    this.anchor = this.startDate === null ? null : localDateOf(this.rules, this.startDate.getTime());
  }

  /** Local date `k` steps after `base`, or `null` when it does not exist (skip policy). */
  private dateAt(base: LocalDate, k: number): number | null {
    let dayNumber: number;
    if (this.stepMonths > 0) {
      const idx = base.y * 12 + (base.m - 1) + k * this.stepMonths;
      const y = Math.floor(idx / 12);
      const m = idx - y * 12 + 1;
      const dim = daysInMonth(y, m);
      let d = base.d;
      if (d > dim) {
        if (this.shortMonths === 'skip') return null;
        d = dim;
      }
      dayNumber = daysFromCivil(y, m, d);
    } else {
      dayNumber = daysFromCivil(base.y, base.m, base.d);
    }
    return dayNumber + k * this.stepDays;
  }

  /** The fire instant on local day number `day` (days since 1970-01-01). */
  private instantOn(day: number): number {
    const local = day * DAY_MS + this.hour * 3_600_000 + this.minute * 60_000 + this.second * 1000;
    return resolveLocal(this.rules, local, 'transition');
  }

  /** The fire instant of step `k` from `base`, or `null` when that step has no date. */
  private fireAt(base: LocalDate, k: number): number | null {
    const day = this.dateAt(base, k);
    return day === null ? null : this.instantOn(day);
  }

  /** Smallest k >= 0 whose fire instant is > ref (strict) or >= ref. */
  private firstStepAfter(base: LocalDate, ref: number, strict: boolean): number | null {
    const ok = (t: number | null): t is number => t !== null && (strict ? t > ref : t >= ref);
    const refDate = localDateOf(this.rules, ref);
    let k: number;
    if (this.stepMonths > 0) {
      // A step spans `stepMonths` months and `stepDays` days, counted in months of the Gregorian average
      // (30.436875 days): the estimate is then off by a step or two, however far `ref` is from `base`.
      const monthsDiff = refDate.y * 12 + refDate.m - (base.y * 12 + base.m);
      const perStep = this.stepMonths + this.stepDays / 30.436875;
      k = Math.floor(monthsDiff / perStep) - 2;
    } else {
      const daysDiff = daysFromCivil(refDate.y, refDate.m, refDate.d) - daysFromCivil(base.y, base.m, base.d);
      k = Math.floor(daysDiff / this.stepDays) - 2;
    }
    if (k < 0) k = 0;
    // Step back while an earlier step still qualifies (fire times are increasing in k, so the first
    // non-qualifying existing step ends the walk), then forward to the first step that qualifies.
    for (let j = k - 1; j >= 0; j--) {
      const t = this.fireAt(base, j);
      if (t === null) continue;
      if (!ok(t)) break;
      k = j;
    }
    // Forward. With the skip policy runs of nonexistent dates are short (29 February: 8 years at most).
    for (let i = 0; i < 5000; i++, k++) {
      const t = this.fireAt(base, k);
      if (ok(t)) return k;
    }
    return null;
  }

  getNextFireTime(previousFireTime: Date | null, now: Date): Date | null {
    let result: number | null;
    if (this.anchor !== null) {
      const start = this.startDate!.getTime();
      const low = Math.max(previousFireTime === null ? now.getTime() : previousFireTime.getTime() + 1, start);
      const k = this.firstStepAfter(this.anchor, low, false);
      result = k === null ? null : this.fireAt(this.anchor, k);
    } else if (previousFireTime === null) {
      // The next hour:minute:second at or after now.
      const n = now.getTime();
      const today = localDateOf(this.rules, n);
      result = this.firstStepAfterDaily(today, n);
    } else {
      // Chained from the previous fire time's local date.
      const base = localDateOf(this.rules, previousFireTime.getTime());
      const k = this.firstStepAfter(base, previousFireTime.getTime(), true);
      result = k === null ? null : this.fireAt(base, k);
    }
    if (result === null) return null;
    if (this.endDate !== null && result > this.endDate.getTime()) return null;
    return new Date(result);
  }

  private firstStepAfterDaily(today: LocalDate, n: number): number {
    const day = daysFromCivil(today.y, today.m, today.d);
    for (let i = -1; i <= 2; i++) {
      const t = this.instantOn(day + i);
      if (t >= n) return t;
    }
    return this.instantOn(day + 3);
  }

  toJSON(): TriggerJSON {
    const json: TriggerJSON = { type: 'calendarInterval', version: 1 };
    for (const k of ['years', 'months', 'weeks', 'days', 'hour', 'minute', 'second'] as const) {
      if (this[k] !== 0) json[k] = this[k];
    }
    if (this.startDate) json.startDate = this.startDate.toISOString();
    if (this.endDate) json.endDate = this.endDate.toISOString();
    json.timezone = this.timezone;
    if (this.shortMonths !== 'clamp') json.shortMonths = this.shortMonths;
    if (this.jitter !== null) json.jitter = this.jitter;
    return json;
  }

  /** Rebuilds a trigger from {@link CalendarIntervalTrigger.toJSON}'s output. */
  static fromJSON(json: TriggerJSON): CalendarIntervalTrigger {
    const { type: _t, version: _v, ...rest } = json;
    return new CalendarIntervalTrigger(rest as CalendarIntervalTriggerOptions);
  }

  /** `calendarinterval[months=1, time='09:00:00', timezone='Europe/Berlin']` (non-zero units only). */
  toString(): string {
    const parts: string[] = [];
    for (const k of ['years', 'months', 'weeks', 'days'] as const) if (this[k]) parts.push(`${k}=${this[k]}`);
    const p2 = (n: number) => String(n).padStart(2, '0');
    parts.push(`time='${p2(this.hour)}:${p2(this.minute)}:${p2(this.second)}'`);
    parts.push(`timezone='${this.timezone}'`);
    return `calendarinterval[${parts.join(', ')}]`;
  }

  describe(): string {
    const units: string[] = [];
    for (const [k, one] of [
      ['years', 'year'],
      ['months', 'month'],
      ['weeks', 'week'],
      ['days', 'day'],
    ] as const) {
      const n = this[k];
      if (n) units.push(n === 1 ? `1 ${one}` : `${n} ${k}`);
    }
    const every = units.length === 1 && units[0]!.startsWith('1 ') ? units[0]!.slice(2) : units.join(', ');
    const p2 = (n: number) => String(n).padStart(2, '0');
    const time = `${p2(this.hour)}:${p2(this.minute)}${this.second ? `:${p2(this.second)}` : ''}`;
    let text = `Every ${every} at ${time} (${this.timezone === 'UTC' ? 'UTC' : `${this.timezone} time`})`;
    if (this.startDate) text += `, from ${formatIsoInZone(this.startDate, this.timezone)}`;
    if (this.endDate) text += `, until ${formatIsoInZone(this.endDate, this.timezone)}`;
    return text;
  }
}

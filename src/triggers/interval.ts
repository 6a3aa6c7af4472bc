/**
 * A trigger that fires every fixed number of elapsed milliseconds (APScheduler's `IntervalTrigger`).
 * @module
 */
import { TickworkError } from '../core/errors.js';
import { checkTimeZone, formatIsoInZone, formatTimedelta, toInstant } from '../core/timezone.js';
import { duration, finiteNumber, rejectUnknownKeys } from '../core/validate.js';
import type { Trigger, TriggerJSON } from './trigger.js';

/**
 * Options of {@link IntervalTrigger}. The interval is the sum of the unit fields; every unit is elapsed time
 * (a day is 86,400,000 ms, a week 7 days), independent of DST. It must come to a whole number of
 * milliseconds, from 1 to 8.64e15 (`seconds: 1.5` is 1,500 ms; `milliseconds: 0.5` is refused, not rounded).
 * For "every day at 09:00 local time" use a cron or calendar-interval trigger.
 * @throws TickworkError `INVALID_TRIGGER` (from the constructor) naming the largest unit given.
 */
export interface IntervalTriggerOptions {
  weeks?: number;
  days?: number;
  hours?: number;
  minutes?: number;
  seconds?: number;
  milliseconds?: number;
  /**
   * The grid's origin: fire times are `startDate + k * interval`. Without it the first fire time is one
   * interval after the job is scheduled (APScheduler). Same input forms as `DateTrigger`'s `runDate`.
   */
  startDate?: Date | number | string;
  /** Last possible fire time (inclusive). */
  endDate?: Date | number | string;
  /** IANA zone for dates given without an offset, and for `describe()`. @defaultValue `"UTC"` */
  timezone?: string;
  /** Maximum random delay in milliseconds added to each run's start. @defaultValue `null` (none) */
  jitter?: number | null;
}

const UNITS = {
  weeks: 604_800_000,
  days: 86_400_000,
  hours: 3_600_000,
  minutes: 60_000,
  seconds: 1000,
  milliseconds: 1,
} as const;

const KEYS = [...Object.keys(UNITS), 'startDate', 'endDate', 'timezone', 'jitter'];

/** The largest epoch millisecond a `Date` holds (8.64e15, year 275760). */
const MAX_TIME = 8.64e15;

/**
 * Fires every `interval` milliseconds of elapsed time.
 *
 * @throws TickworkError `INVALID_TRIGGER` when the interval is not positive, `INVALID_OPTION` naming the field
 * for a bad unit, date or jitter, `UNKNOWN_OPTION`, `INVALID_TIMEZONE`.
 */
export class IntervalTrigger implements Trigger {
  readonly type = 'interval';
  /** The interval in milliseconds. */
  readonly interval: number;
  readonly startDate: Date | null;
  readonly endDate: Date | null;
  readonly timezone: string;
  readonly jitter: number | null;

  constructor(options: IntervalTriggerOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TickworkError('INVALID_TRIGGER', 'Expected interval trigger options to be an object', {
        field: 'trigger',
        value: options,
      });
    }
    rejectUnknownKeys(options, KEYS);
    let interval = 0;
    /** The largest unit given: the field an error about the total names. */
    let field = 'seconds';
    let fieldValue: unknown = undefined;
    for (const [unit, factor] of Object.entries(UNITS)) {
      const v = (options as Record<string, unknown>)[unit];
      if (v === undefined) continue;
      if (fieldValue === undefined) {
        field = unit;
        fieldValue = v;
      }
      interval += finiteNumber(v, unit, 0) * factor;
    }
    // Whole milliseconds: within float error of one (`hours: 0.1` is 360000.00000000006; the error grows with
    // the interval: 19267.17 weeks is 11652784415999.998), the interval is that one; a fraction beyond that
    // (0.5 ms) is refused rather than silently rounded (to 1 ms, twice as long).
    const whole = Math.round(interval);
    const tolerance = Math.max(1e-3, interval * 8 * Number.EPSILON);
    if (Math.abs(interval - whole) > tolerance && whole <= MAX_TIME) {
      throw new TickworkError(
        'INVALID_TRIGGER',
        `Expected the interval to be a whole number of milliseconds, got ${interval} ms`,
        { field, value: fieldValue },
      );
    }
    interval = whole;
    if (!(interval <= MAX_TIME)) {
      throw new TickworkError(
        'INVALID_TRIGGER',
        `Expected the interval to be at most ${MAX_TIME} ms (the range of a Date), got ${interval} ms`,
        { field, value: fieldValue },
      );
    }
    if (!(interval > 0)) {
      throw new TickworkError(
        'INVALID_TRIGGER',
        'Expected the interval (weeks + days + hours + minutes + seconds + milliseconds) to be at least 1 ms, got 0',
        { field, value: fieldValue ?? 0 },
      );
    }
    this.interval = interval;
    this.timezone = checkTimeZone(options.timezone ?? 'UTC');
    this.startDate =
      options.startDate === undefined ? null : toInstant(options.startDate, 'startDate', this.timezone);
    this.endDate =
      options.endDate === undefined ? null : toInstant(options.endDate, 'endDate', this.timezone);
    if (this.startDate && this.endDate && this.endDate < this.startDate) {
      throw new TickworkError('INVALID_OPTION', 'Expected `endDate` to be at or after `startDate`', {
        field: 'endDate',
        value: options.endDate,
      });
    }
    this.jitter =
      options.jitter === undefined || options.jitter === null ? null : duration(options.jitter, 'jitter');
  }

  getNextFireTime(previousFireTime: Date | null, now: Date): Date | null {
    let next: number;
    const start = this.startDate?.getTime();
    if (previousFireTime !== null) {
      const prev = previousFireTime.getTime();
      if (start === undefined) next = prev + this.interval;
      else if (prev < start) next = start;
      else next = start + (Math.floor((prev - start) / this.interval) + 1) * this.interval;
    } else if (start === undefined) {
      next = now.getTime() + this.interval;
    } else if (start >= now.getTime()) {
      next = start;
    } else {
      next = start + Math.ceil((now.getTime() - start) / this.interval) * this.interval;
    }
    if (this.endDate && next > this.endDate.getTime()) return null;
    if (!(next <= MAX_TIME)) return null; // past the end of time as a Date can hold it
    return new Date(next);
  }

  toJSON(): TriggerJSON {
    const json: TriggerJSON = { type: 'interval', version: 1, milliseconds: this.interval };
    if (this.startDate) json.startDate = this.startDate.toISOString();
    if (this.endDate) json.endDate = this.endDate.toISOString();
    if (this.timezone !== 'UTC') json.timezone = this.timezone;
    if (this.jitter !== null) json.jitter = this.jitter;
    return json;
  }

  /** Rebuilds a trigger from {@link IntervalTrigger.toJSON}'s output. */
  static fromJSON(json: TriggerJSON): IntervalTrigger {
    const { type: _t, version: _v, ...rest } = json;
    return new IntervalTrigger(rest as IntervalTriggerOptions);
  }

  /** `interval[0:00:01]`, Python's `str(timedelta)` of the interval, as APScheduler prints it. */
  toString(): string {
    return `interval[${formatTimedelta(this.interval)}]`;
  }

  describe(): string {
    let text = `Every ${describeDuration(this.interval)}`;
    if (this.startDate) text += `, from ${formatIsoInZone(this.startDate, this.timezone)}`;
    if (this.endDate) text += `, until ${formatIsoInZone(this.endDate, this.timezone)}`;
    return text;
  }
}

/** "5 seconds", "1 day, 2 hours", "1.5 seconds", "500 milliseconds", "1 minute, 0.25 seconds". */
export function describeDuration(ms: number): string {
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, factor] of [
    ['week', 604_800_000],
    ['day', 86_400_000],
    ['hour', 3_600_000],
    ['minute', 60_000],
  ] as const) {
    const n = Math.floor(rest / factor);
    if (n) parts.push(`${n} ${unit}${n === 1 ? '' : 's'}`);
    rest -= n * factor;
  }
  if (rest) {
    // Seconds with their fraction once there is a minute or more, or a whole second: "1.5 seconds",
    // "1 minute, 0.25 seconds"; a lone part under a second in milliseconds: "500 milliseconds".
    const s = rest / 1000;
    parts.push(
      rest < 1000 && parts.length === 0
        ? `${rest} millisecond${rest === 1 ? '' : 's'}`
        : `${s} second${s === 1 ? '' : 's'}`,
    );
  }
  return parts.length === 1 && parts[0]!.startsWith('1 ') ? parts[0]!.slice(2) : parts.join(', ');
}

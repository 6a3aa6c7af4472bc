/**
 * A trigger that fires once, at a given instant (APScheduler's `DateTrigger`).
 * @module
 */
import { TickworkError } from '../core/errors.js';
import { checkTimeZone, formatDateTime, formatIsoInZone, toInstant } from '../core/timezone.js';
import { rejectUnknownKeys } from '../core/validate.js';
import type { Trigger, TriggerJSON } from './trigger.js';

/** Options of {@link DateTrigger}. */
export interface DateTriggerOptions {
  /**
   * When to fire: a `Date`, epoch milliseconds, an ISO 8601 string with an offset, or a local wall time
   * without an offset (`"2021-08-04T18:08:00"`), read in `timezone` with the offset in force on that date.
   */
  runDate: Date | number | string;
  /** IANA zone for a `runDate` without an offset, and for `toString()`. @defaultValue `"UTC"` */
  timezone?: string;
}

const KEYS = ['runDate', 'timezone'] as const;

/**
 * Fires once at `runDate`. A run date in the past is still returned as the first fire time, so the job's
 * misfire grace time decides whether it runs late or is reported missed (APScheduler's behaviour).
 *
 * @throws TickworkError `INVALID_OPTION` (field `runDate`), `INVALID_TIMEZONE`, `UNKNOWN_OPTION`.
 */
export class DateTrigger implements Trigger {
  readonly type = 'date';
  readonly jitter = null;
  /** The fire time. */
  readonly runDate: Date;
  /** Zone used to read a local `runDate` and to print it. */
  readonly timezone: string;

  constructor(options: DateTriggerOptions | Date | string | number) {
    const opts: DateTriggerOptions =
      options instanceof Date || typeof options !== 'object' || options === null
        ? { runDate: options as Date | string | number }
        : options;
    rejectUnknownKeys(opts, KEYS);
    this.timezone = checkTimeZone(opts.timezone ?? 'UTC');
    if (opts.runDate === undefined) {
      throw new TickworkError('INVALID_OPTION', 'Expected `runDate` to be given for a date trigger', {
        field: 'runDate',
      });
    }
    this.runDate = toInstant(opts.runDate, 'runDate', this.timezone);
  }

  /**
   * Its date, with no previous fire time (even when the date has passed: a job added late still fires, per its
   * misfire grace time, as in APScheduler); after a previous fire time, its date only when later (the
   * Trigger contract: an `or` with a later date child keeps it), else `null`.
   */
  getNextFireTime(previousFireTime: Date | null, _now: Date): Date | null {
    if (previousFireTime !== null && previousFireTime.getTime() >= this.runDate.getTime()) return null;
    return new Date(this.runDate.getTime());
  }

  toJSON(): TriggerJSON {
    return { type: 'date', version: 1, runDate: this.runDate.toISOString(), timezone: this.timezone };
  }

  /** Rebuilds a trigger from {@link DateTrigger.toJSON}'s output. */
  static fromJSON(json: TriggerJSON): DateTrigger {
    const { type: _t, version: _v, ...rest } = json;
    return new DateTrigger(rest as unknown as DateTriggerOptions);
  }

  toString(): string {
    return `date[${formatDateTime(this.runDate, this.timezone)}]`;
  }

  describe(): string {
    return `Once, at ${formatIsoInZone(this.runDate, this.timezone)}`;
  }
}

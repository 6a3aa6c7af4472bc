/**
 * `CronTrigger`: crontab strings (Vixie cron / crontab(5) with the Quartz extensions) and APScheduler's
 * field form, in any IANA time zone, with Vixie cron's DST rules by default.
 * @module
 */
import { TickworkError, invalidOption } from '../../core/errors.js';
import { checkTimeZone, formatIsoInZone, toInstant } from '../../core/timezone.js';
import { duration, oneOf, optionsObject, rejectUnknownKeys } from '../../core/validate.js';
import type { Trigger, TriggerJSON } from '../trigger.js';
import { describeCron } from './describe.js';
import {
  FIELD_FORM_NAMES,
  fieldFormTexts,
  parseCrontab,
  parseFieldForm,
  type CronFieldValue,
  type FieldFormName,
  type ParsedCron,
} from './parse.js';
import { CronSchedule, type DstGapPolicy, type DstOverlapPolicy } from './schedule.js';
import { zoneRules } from './zone.js';

/**
 * What happens to fire times that daylight-saving transitions move.
 *
 * Without this option tickwork follows Vixie cron: a *fixed-time* job (no `*`, `?` or `/` in the second,
 * minute and hour fields; lists and ranges of specific values count as fixed) uses `gap: 'transition'`
 * and `overlap: 'first'`; every other job follows elapsed time, i.e. `gap: 'skip'` and `overlap: 'both'`.
 * A policy given here applies to every job, fixed-time or not; an omitted one keeps the default above.
 */
export interface CronDstOptions {
  /**
   * A matching wall time that a spring-forward gap skips (02:30 on a night that jumps from 02:00 to 03:00):
   * - `'transition'`: fire once at the first instant after the gap, the transition instant (03:00).
   *   Vixie cron, croner.
   * - `'shift'`: fire at the wall time moved forward by the gap's length (03:30). cron-parser,
   *   APScheduler 3, `java.time`'s and Temporal's "compatible" resolution.
   * - `'skip'`: do not fire for it (Spring, robfig/cron, the OCPS 1.4 recommendation).
   * @defaultValue `'transition'` for fixed-time jobs, `'skip'` for others
   */
  gap?: DstGapPolicy;
  /**
   * A matching wall time that occurs twice because clocks go back: `'first'` fires on the first pass only,
   * `'both'` on both passes.
   * @defaultValue `'first'` for fixed-time jobs, `'both'` for others
   */
  overlap?: DstOverlapPolicy;
}

/** Options shared by both forms of {@link CronTrigger}. */
export interface CronTriggerOptions {
  /** IANA time-zone name in which the expression is read. @defaultValue `"UTC"` */
  timezone?: string;
  /**
   * Earliest possible fire time (inclusive): a `Date`, epoch milliseconds, an ISO 8601 string with an
   * offset, or a local wall time read in `timezone`.
   */
  startDate?: Date | number | string;
  /** Latest possible fire time (inclusive). Same forms as `startDate`. */
  endDate?: Date | number | string;
  /**
   * Maximum random delay in milliseconds that the scheduler adds to each run's start (never to the fire
   * time itself). @defaultValue `null` (none)
   */
  jitter?: number | null;
  /**
   * How the day-of-month and day-of-week fields combine when both are restricted.
   * - `'vixie'`: ORed, unless either field starts with `*` or `?`, then ANDed (Vixie cron, cronie; note
   *   that `*\/2` starts with `*`).
   * - `'and'`: always ANDed (APScheduler, croner's `legacyMode: false`).
   *
   * The field form always ANDs (as APScheduler does), whatever this says.
   * @defaultValue `'vixie'`
   */
  dayMatch?: 'vixie' | 'and';
  /** DST policies; see {@link CronDstOptions}. @defaultValue Vixie cron's rule */
  dst?: CronDstOptions;
}

/**
 * APScheduler's field form. Each field takes a number or an expression string; fields to the right of the
 * least significant given field default to their minimum and the others to `*` (APScheduler 3), so
 * `{ hour: 9 }` fires daily at 09:00:00 and `{ month: 6 }` on 1 June at 00:00:00.
 *
 * Expressions: `*`, `a`, `a-b`, `*\/n`, `a-b/n`, `a/n` (= `a-max/n`), comma lists; names `jan`-`dec` in
 * `month` and `mon`-`sun` in `dayOfWeek` (any case); in `day` also `'last'` (last day of the month),
 * `'1st fri'` ... `'5th fri'` (the n-th weekday of the month) and `'last fri'`.
 *
 * **`dayOfWeek` numbers run from 0 = Monday to 6 = Sunday here, as in APScheduler**, unlike crontab
 * strings where 0 and 7 are Sunday. Prefer names (`'mon-fri'`), which mean the same in both forms.
 * All fields are ANDed, including `day` and `dayOfWeek` (APScheduler).
 */
export interface CronFieldsOptions extends Omit<CronTriggerOptions, 'dayMatch'> {
  /** 4-digit year, 1970-9999. */
  year?: CronFieldValue;
  /** Month, 1-12 or `jan`-`dec`. */
  month?: CronFieldValue;
  /** Day of the month, 1-31, or `'last'`, `'2nd fri'`, `'last fri'`. */
  day?: CronFieldValue;
  /** ISO 8601 week number, 1-53. */
  week?: CronFieldValue;
  /** Day of the week: **0 = Monday** ... 6 = Sunday, or `mon`-`sun`. */
  dayOfWeek?: CronFieldValue;
  /** Hour, 0-23. */
  hour?: CronFieldValue;
  /** Minute, 0-59. */
  minute?: CronFieldValue;
  /** Second, 0-59. */
  second?: CronFieldValue;
  /** Not allowed together with fields; see the string form. */
  expression?: undefined;
}

/** The object form accepted by `createTrigger('cron', ...)`: either `expression` or fields. */
export type CronTriggerInit = (CronTriggerOptions & { expression: string }) | CronFieldsOptions;

const COMMON_KEYS = ['timezone', 'startDate', 'endDate', 'jitter', 'dst'];
const FIELD_KEYS = FIELD_FORM_NAMES.map(([n]) => n) as string[];
/** Every key of the object form, whichever of its two shapes (`expression` or fields) is used. */
const OBJECT_KEYS = [...COMMON_KEYS, 'expression', 'dayMatch', ...FIELD_KEYS];
/** Names other schedulers give the crontab string: each is met with a hint to `expression`. */
const EXPRESSION_ALIASES = ['cron', 'crontab', 'expr', 'pattern', 'schedule', 'cronExpression', 'cronTime'];

/**
 * Checks the keys of the object form. An unknown key is refused with every key of the object form listed
 * (and `expression` suggested for names such as `cron`); a known key that the shape in use does not take
 * (a field beside `expression`, `dayMatch` beside fields) is refused saying why.
 */
function checkObjectKeys(opts: Record<string, unknown>, withExpression: boolean): void {
  for (const key of Object.keys(opts)) {
    if (EXPRESSION_ALIASES.includes(key)) {
      throw new TickworkError(
        'UNKNOWN_OPTION',
        `Unknown option \`${key}\` (did you mean \`expression\`?); expected one of ${OBJECT_KEYS.map((k) => '`' + k + '`').join(', ')}`,
        { field: key, value: opts[key] },
      );
    }
  }
  rejectUnknownKeys(opts, OBJECT_KEYS);
  for (const key of Object.keys(opts)) {
    if (withExpression && FIELD_KEYS.includes(key)) {
      throw new TickworkError(
        'UNKNOWN_OPTION',
        `Option \`${key}\` cannot be combined with \`expression\`: give a cron \`expression\` or APScheduler's fields (\`${key}\`, ...), not both`,
        { field: key, value: opts[key] },
      );
    }
    if (!withExpression && key === 'dayMatch') {
      throw new TickworkError(
        'UNKNOWN_OPTION',
        "Option `dayMatch` applies to a cron `expression` only: APScheduler's field form always requires both `day` and `dayOfWeek` to match",
        { field: key, value: opts[key] },
      );
    }
  }
}

/**
 * A trigger that fires when the wall clock in its time zone matches a cron schedule.
 *
 * ```ts
 * new CronTrigger('0 9 * * mon-fri', { timezone: 'Europe/Berlin' });
 * new CronTrigger({ day: 'last fri', hour: 17, timezone: 'America/New_York' });
 * CronTrigger.fromCrontab('@daily');
 * ```
 *
 * Fire times are whole seconds. The syntax and every contested rule (DOM/DOW OR vs AND, `*\/2` as a star,
 * `5/15`, `FRI-SUN`, nickname case, DST) are specified in `docs/cron.md`.
 *
 * @throws TickworkError `INVALID_CRON` for a malformed expression (`details.field`, `details.token`,
 * `details.position`), `INVALID_TIMEZONE`, `INVALID_OPTION`, `UNKNOWN_OPTION`.
 */
export class CronTrigger implements Trigger {
  readonly type = 'cron';
  /** The crontab expression as given, or `null` for the field form. */
  readonly expression: string | null;
  /** The given fields of the field form (as strings), or `null` for the string form. */
  readonly fields: Readonly<Partial<Record<FieldFormName, string>>> | null;
  readonly timezone: string;
  readonly startDate: Date | null;
  readonly endDate: Date | null;
  readonly jitter: number | null;
  readonly dayMatch: 'vixie' | 'and';
  readonly dst: Readonly<CronDstOptions> | null;
  /** Whether Vixie's fixed-time DST rule applies (no `*`, `?`, `/` in the time fields). */
  readonly fixedTime: boolean;
  private readonly parsed: ParsedCron;
  private readonly schedule: CronSchedule;
  private readonly startMs: number;
  private readonly endMs: number;

  /** A crontab string (5, 6 or 7 fields, or a nickname) and options. */
  constructor(expression: string, options?: CronTriggerOptions);
  /** APScheduler's field form, or `{ expression, ...options }`. */
  constructor(fields: CronTriggerInit);
  constructor(exprOrFields: string | CronTriggerInit, options?: CronTriggerOptions) {
    let opts: Record<string, unknown>;
    if (typeof exprOrFields === 'string') {
      opts = optionsObject(options, 'options');
      rejectUnknownKeys(opts, [...COMMON_KEYS, 'dayMatch']);
      this.expression = exprOrFields;
      this.fields = null;
      this.parsed = parseCrontab(exprOrFields);
    } else {
      opts = optionsObject(exprOrFields, 'trigger');
      if (opts.expression !== undefined) {
        checkObjectKeys(opts, true);
        if (typeof opts.expression !== 'string')
          throw invalidOption('expression', 'a cron expression string', opts.expression);
        this.expression = opts.expression;
        this.fields = null;
        this.parsed = parseCrontab(opts.expression);
      } else {
        checkObjectKeys(opts, false);
        const given: Partial<Record<FieldFormName, string>> = {};
        for (const name of FIELD_KEYS as FieldFormName[]) {
          const v = opts[name];
          if (v === undefined || v === null) continue;
          if (typeof v !== 'number' && typeof v !== 'string') {
            throw invalidOption(name, 'a number or a cron field expression string', v);
          }
          given[name] = String(v);
        }
        if (Object.keys(given).length === 0) {
          throw new TickworkError(
            'INVALID_TRIGGER',
            'Expected a cron `expression` or at least one field (year, month, day, week, dayOfWeek, hour, minute, second)',
            { field: 'expression' },
          );
        }
        this.expression = null;
        this.fields = given;
        this.parsed = parseFieldForm(opts as Partial<Record<FieldFormName, CronFieldValue>>);
      }
    }
    this.timezone = checkTimeZone(opts.timezone ?? 'UTC');
    this.startDate =
      opts.startDate === undefined ? null : toInstant(opts.startDate, 'startDate', this.timezone);
    this.endDate = opts.endDate === undefined ? null : toInstant(opts.endDate, 'endDate', this.timezone);
    if (this.startDate && this.endDate && this.endDate < this.startDate) {
      throw new TickworkError('INVALID_OPTION', 'Expected `endDate` to be at or after `startDate`', {
        field: 'endDate',
        value: opts.endDate,
      });
    }
    this.jitter = opts.jitter === undefined || opts.jitter === null ? null : duration(opts.jitter, 'jitter');
    this.dayMatch =
      opts.dayMatch === undefined ? 'vixie' : oneOf(opts.dayMatch, 'dayMatch', ['vixie', 'and']);
    let dst: CronDstOptions | null = null;
    if (opts.dst !== undefined && opts.dst !== null) {
      const d = optionsObject(opts.dst, 'dst');
      rejectUnknownKeys(d, ['gap', 'overlap'], 'dst.');
      dst = {};
      if (d.gap !== undefined)
        dst.gap = oneOf<DstGapPolicy>(d.gap, 'dst.gap', ['transition', 'shift', 'skip']);
      if (d.overlap !== undefined)
        dst.overlap = oneOf<DstOverlapPolicy>(d.overlap, 'dst.overlap', ['first', 'both']);
    }
    this.dst = dst;
    this.fixedTime = this.parsed.fixedTime;
    this.schedule = new CronSchedule(this.parsed, zoneRules(this.timezone), {
      dayMatchAnd: this.dayMatch === 'and',
      gap: dst?.gap ?? null,
      overlap: dst?.overlap ?? null,
    });
    this.startMs = this.startDate === null ? -Infinity : Math.ceil(this.startDate.getTime() / 1000) * 1000;
    this.endMs = this.endDate === null ? Infinity : this.endDate.getTime();
  }

  /**
   * APScheduler's `CronTrigger.from_crontab`: a crontab string with options. Same as
   * `new CronTrigger(expression, options)`; here day-of-week numbers are crontab's (0 and 7 = Sunday).
   */
  static fromCrontab(expression: string, options?: CronTriggerOptions): CronTrigger {
    return new CronTrigger(expression, options);
  }

  getNextFireTime(previousFireTime: Date | null, now: Date): Date | null {
    let t =
      previousFireTime === null
        ? Math.ceil(now.getTime() / 1000) * 1000
        : Math.floor(previousFireTime.getTime() / 1000) * 1000 + 1000;
    if (t < this.startMs) t = this.startMs;
    if (!(t === t)) return null;
    const r = this.schedule.next(t);
    if (!(r <= this.endMs)) return null;
    return new Date(r);
  }

  toJSON(): TriggerJSON {
    const json: TriggerJSON = { type: 'cron', version: 1 };
    if (this.expression !== null) json.expression = this.expression;
    else json.fields = { ...this.fields };
    json.timezone = this.timezone;
    if (this.startDate) json.startDate = this.startDate.toISOString();
    if (this.endDate) json.endDate = this.endDate.toISOString();
    if (this.jitter !== null) json.jitter = this.jitter;
    if (this.dayMatch !== 'vixie') json.dayMatch = this.dayMatch;
    if (this.dst !== null) json.dst = { ...this.dst };
    return json;
  }

  /** Rebuilds a trigger from {@link CronTrigger.toJSON}'s output. */
  static fromJSON(json: TriggerJSON): CronTrigger {
    const { type: _t, version: _v, fields, ...rest } = json;
    if (fields !== undefined) {
      if (fields === null || typeof fields !== 'object') throw invalidOption('fields', 'an object', fields);
      return new CronTrigger({ ...(fields as object), ...rest } as CronFieldsOptions);
    }
    return new CronTrigger(rest as CronTriggerInit);
  }

  /**
   * APScheduler's style. Field form: the given fields with APScheduler's names, as APScheduler prints them:
   * `cron[month='6-8,11-12', day='3rd fri', hour='0-3']`. String form:
   * `cron[expression='0 9 * * 1-5', timezone='Europe/Berlin']` (the expression is clearer than its fields).
   */
  toString(): string {
    if (this.expression !== null) {
      return `cron[expression='${this.expression}', timezone='${this.timezone}']`;
    }
    const parts = fieldFormTexts(this.fields as Partial<Record<FieldFormName, CronFieldValue>>)
      .filter(([, , given]) => given)
      .map(([name, text]) => `${FIELD_FORM_NAMES.find(([n]) => n === name)![1]}='${text}'`);
    return `cron[${parts.join(', ')}]`;
  }

  /** Plain English, e.g. "At 09:00, Monday through Friday (Europe/Berlin time)". */
  describe(): string {
    let text = describeCron(this.expression, this.fields, this.parsed, this.dayMatch === 'and');
    if (this.timezone !== 'UTC') text += ` (${this.timezone} time)`;
    else text += ' (UTC)';
    if (this.startDate) text += `, from ${formatIsoInZone(this.startDate, this.timezone)}`;
    if (this.endDate) text += `, until ${formatIsoInZone(this.endDate, this.timezone)}`;
    return text;
  }
}

/**
 * Small validators for options objects. Every message has one shape:
 * Expected `maxInstances` to be an integer >= 1, got `0`.
 * @module
 */
import { TickworkError, invalidOption, show } from './errors.js';
import { ACTIVE_RUN_STATUSES, FINAL_RUN_STATUSES, type RunStatus } from './structures.js';
import type { RunFilter } from '../stores/store.js';

/** Throws `UNKNOWN_OPTION` when `obj` has a key outside `allowed`. `prefix` is prepended to field names. */
export function rejectUnknownKeys(obj: object, allowed: readonly string[], prefix = ''): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      const field = prefix + key;
      const near = closest(key, allowed);
      const hint = near === null ? '' : ` (did you mean \`${prefix}${near}\`?)`;
      throw new TickworkError(
        'UNKNOWN_OPTION',
        `Unknown option \`${field}\`${hint}; expected one of ${allowed.map((k) => '`' + prefix + k + '`').join(', ')}`,
        { field, value: (obj as Record<string, unknown>)[key] },
      );
    }
  }
}

/** Asserts a plain object (or undefined, returning `{}`). */
export function optionsObject(value: unknown, field: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidOption(field, 'an object', value);
  }
  return value as Record<string, unknown>;
}

/** An integer within `[min, max]`. */
export function integer(value: unknown, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw invalidOption(field, `an integer ${range}`, value);
  }
  return value;
}

/** A finite number >= `min`. */
export function finiteNumber(value: unknown, field: string, min = 0): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw invalidOption(field, `a finite number >= ${min}`, value);
  }
  return value;
}

/**
 * The longest duration any option takes, in ms: 10^14 ms, about 3,170 years. Anything longer is a mistake,
 * and added to a time it could leave the range of a `Date`.
 */
export const MAX_DURATION = 1e14;

/** A duration in milliseconds: a finite number from `min` (default 0) to {@link MAX_DURATION}. */
export function duration(value: unknown, field: string, min = 0): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > MAX_DURATION) {
    throw invalidOption(field, `a duration in milliseconds (a number from ${min} to ${MAX_DURATION})`, value);
  }
  return value;
}

/** A boolean. */
export function boolean(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw invalidOption(field, 'a boolean', value);
  return value;
}

/** A non-empty string of at most `maxLength` characters. */
export function nonEmptyString(value: unknown, field: string, maxLength = 512): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    throw invalidOption(field, `a non-empty string of at most ${maxLength} characters`, value);
  }
  return value;
}

/**
 * Control characters (Unicode category Cc: C0, DEL and C1): never in an id or a name (they break logs, URLs
 * and PostgreSQL text; C1's CSI, U+009B, starts an escape sequence on terminals that read 8-bit controls).
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** A lone surrogate: a string that is not well-formed UTF-16 (and has no UTF-8 encoding). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * An identifier (job id, task id): a non-empty string of at most `maxLength` UTF-16 units, well formed (no
 * lone surrogate), without control characters, and not `.` or `..` (which URL paths cannot address).
 */
export function identifier(value: unknown, field: string, maxLength = 200): string {
  const s = nonEmptyString(value, field, maxLength);
  if (CONTROL.test(s) || LONE_SURROGATE.test(s) || s === '.' || s === '..') {
    throw invalidOption(
      field,
      'an id of printable characters (no control characters, no lone surrogate, not "." or "..")',
      value,
    );
  }
  return s;
}

/** A display name: like {@link nonEmptyString}, but well formed and without control characters. */
export function displayName(value: unknown, field: string, maxLength = 200): string {
  const s = nonEmptyString(value, field, maxLength);
  if (CONTROL.test(s) || LONE_SURROGATE.test(s)) {
    throw invalidOption(field, 'a name of printable characters (no control characters)', value);
  }
  return s;
}

/**
 * A point in time: a `Date`, epoch milliseconds, or an ISO 8601 string with an offset or `Z`.
 * A string without an offset is rejected here (its zone would be ambiguous); triggers that accept local
 * wall times resolve them with their own time zone before calling this, and pass the forms they accept as
 * `expected` for the message of a value that is none of them.
 */
export function instant(
  value: unknown,
  field: string,
  expected = 'a Date, epoch milliseconds or an ISO 8601 string with an offset',
): Date {
  let d: Date | undefined;
  if (value instanceof Date) d = new Date(value.getTime());
  else if (typeof value === 'number' && Number.isFinite(value)) d = new Date(value);
  else if (typeof value === 'string') d = parseIsoWithOffset(value.trim());
  if (!d || Number.isNaN(d.getTime())) throw invalidOption(field, expected, value);
  const t = d.getTime();
  if (t < MIN_INSTANT || t > MAX_INSTANT) {
    // Outside years 0000-9999 an ISO 8601 string needs an expanded year (+010000-...), which stored trigger
    // JSON could not be read back from.
    throw invalidOption(field, 'a time from 0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z', value);
  }
  return d;
}

/** 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z in epoch ms: the years an ISO 8601 string holds. */
export const MIN_INSTANT = -62_167_219_200_000;
export const MAX_INSTANT = 253_402_300_799_999;

/** A `Date` object that is not an Invalid Date (not a number or a string: for fields typed `Date`). */
export function validDate(value: unknown, field: string): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw invalidOption(field, 'a valid Date', value);
  }
  return value;
}

/** An array of identifiers (see {@link identifier}); an element's field is `field[i]`. */
export function identifierList(value: unknown, field: string): string[] {
  if (!Array.isArray(value)) throw invalidOption(field, 'an array of ids', value);
  value.forEach((id, i) => identifier(id, `${field}[${i}]`));
  return value as string[];
}

/** Every run status. */
export const RUN_STATUSES: readonly RunStatus[] = [...ACTIVE_RUN_STATUSES, ...FINAL_RUN_STATUSES];

/**
 * Checks a {@link RunFilter} (of `Scheduler.getRuns`) before it reaches a store: `jobId` an id, `status` a run
 * status or an array of them, `from` and `to` valid `Date`s, `limit` and `offset` integers >= 0. Unknown keys
 * are left alone. Resolves to the filter, or to a copy whose `from` or `to` before {@link MIN_INSTANT} is
 * moved to it: no stored time is earlier, so the runs matched are the same, and PostgreSQL refuses a time
 * before 4714 BC (`new Date(-8.64e15)`, a natural "from the beginning").
 * @throws TickworkError `INVALID_OPTION` naming the field (`status[1]` for an element of an array).
 */
export function runFilter(value: unknown, field = 'filter'): RunFilter {
  const filter = optionsObject(value, field);
  rejectUnknownKeys(filter, ['jobId', 'status', 'from', 'to', 'limit', 'offset']);
  if (filter.jobId !== undefined) identifier(filter.jobId, 'jobId');
  const status = filter.status;
  if (Array.isArray(status)) status.forEach((s, i) => oneOf(s, `status[${i}]`, RUN_STATUSES));
  else if (status !== undefined) oneOf(status, 'status', RUN_STATUSES);
  const from = filter.from === undefined ? undefined : validDate(filter.from, 'from');
  const to = filter.to === undefined ? undefined : validDate(filter.to, 'to');
  if (filter.limit !== undefined) integer(filter.limit, 'limit', 0);
  if (filter.offset !== undefined) integer(filter.offset, 'offset', 0);
  const early = (d: Date | undefined) => d !== undefined && d.getTime() < MIN_INSTANT;
  if (!early(from) && !early(to)) return filter as RunFilter;
  const copy = { ...filter } as RunFilter;
  if (early(from)) copy.from = new Date(MIN_INSTANT);
  if (early(to)) copy.to = new Date(MIN_INSTANT);
  return copy;
}

/**
 * The type of a `timezone` option: a string (whose zone the trigger or `checkTimeZone` checks). Checked
 * first, so that a value of another type (a BigInt, a cyclic object) is refused before anything tries to
 * serialise it.
 * @throws TickworkError `INVALID_TIMEZONE` naming the field, as `checkTimeZone` does for a bad name.
 */
export function timeZoneType(value: unknown, field = 'timezone'): void {
  if (value === undefined || typeof value === 'string') return;
  throw new TickworkError(
    'INVALID_TIMEZONE',
    `Expected \`${field}\` to be an IANA time zone name such as "Europe/Berlin" or "UTC", got \`${show(value)}\``,
    { field, value },
  );
}

/** Checks `value` is one of `choices`. */
export function oneOf<T extends string>(value: unknown, field: string, choices: readonly T[]): T {
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw invalidOption(field, `one of ${choices.map((c) => show(c)).join(', ')}`, value);
  }
  return value as T;
}

const ISO_WITH_OFFSET =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)$/i;

/**
 * A strict ISO 8601 date-time with `Z` or an offset. Fields out of range (`2024-02-30`, `10:60`) are
 * refused rather than rolled over, as `Date.parse` would.
 */
function parseIsoWithOffset(text: string): Date | undefined {
  const m = ISO_WITH_OFFSET.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec, frac, zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(sec ?? 0);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }
  let offset = 0;
  if (zone!.toUpperCase() !== 'Z') {
    const sign = zone![0] === '-' ? -1 : 1;
    const digits = zone!.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2) || 0);
    if (oh > 23 || om > 59) return undefined;
    offset = sign * (oh * 60 + om) * 60_000;
  }
  const ms = Number((frac ?? '0').slice(0, 3).padEnd(3, '0'));
  const t = Date.UTC(year, month - 1, day, hour, minute, second, ms) - offset;
  // Date.UTC maps years 0-99 to 1900-1999: set the year explicitly.
  const date = new Date(t);
  if (year < 100) date.setUTCFullYear(date.getUTCFullYear() - 1900);
  return date;
}

/**
 * The entry of `choices` nearest to `word` (case-insensitive edit distance), within 2 edits (1 for a word of
 * up to 5 letters, to which many short names are 2 edits away: `date` is not `name`), or `null`.
 */
export function closest(word: string, choices: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = word.length <= 5 ? 2 : 3;
  for (const c of choices) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

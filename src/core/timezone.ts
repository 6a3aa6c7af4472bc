/**
 * Time-zone arithmetic on IANA names through `Intl`. Results never depend on the host's `TZ`.
 * @module
 */
import { TickworkError, invalidOption, show } from './errors.js';
import { instant } from './validate.js';

/** Wall-clock fields of an instant in a zone. `month` is 1-12, `dayOfWeek` 0 (Sunday) to 6. */
export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
  dayOfWeek: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    formatters.set(zone, f);
  }
  return f;
}

const validZones = new Map<string, string>();

/**
 * The names of UTC in the zone database (`etcetera` and `backward`: Etc/UTC, Etc/GMT and their links), in
 * lower case. `Intl` does not say it: an engine with the Time Zone Canonicalization proposal reports the name
 * given (`Etc/Zulu`), where others report the primary one (`UTC`).
 */
const UTC_NAMES = new Set(
  ['UTC', 'UCT', 'Universal', 'Zulu', 'GMT', 'GMT0', 'GMT+0', 'GMT-0', 'Greenwich'].flatMap((n) => [
    n.toLowerCase(),
    `etc/${n.toLowerCase()}`,
  ]),
);

/**
 * Checks an IANA time-zone name (matched without regard to case, as `Intl` does) and returns its spelling:
 * the case the zone database gives it (`europe/berlin` is `Europe/Berlin`, `etc/gmt+5` `Etc/GMT+5`), and
 * `UTC` for every name of UTC (`utc`, `Etc/UTC`, `GMT`, `Zulu`, `Universal`...). Another link keeps its own
 * name (`Asia/Kolkata` stays, where `Intl` reports the older `Asia/Calcutta`); a link written in another case
 * than the database's is kept as written.
 * @throws TickworkError `INVALID_TIMEZONE` naming `field`.
 */
export function checkTimeZone(zone: unknown, field = 'timezone'): string {
  if (typeof zone === 'string') {
    const known = validZones.get(zone);
    if (known) return known;
    try {
      // Throws RangeError for an unknown zone. Offsets such as "+01:00" are refused: IANA names only.
      const resolved = new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
      if (/^[A-Za-z]/.test(zone)) {
        const canonical =
          resolved === 'UTC' || UTC_NAMES.has(zone.toLowerCase())
            ? 'UTC'
            : resolved.toLowerCase() === zone.toLowerCase()
              ? resolved
              : zone;
        validZones.set(zone, canonical);
        return canonical;
      }
    } catch {
      // fall through
    }
  }
  throw new TickworkError(
    'INVALID_TIMEZONE',
    `Expected \`${field}\` to be an IANA time zone name such as "Europe/Berlin" or "UTC", got \`${show(zone)}\``,
    { field, value: zone },
  );
}

/** Offset of `zone` from UTC at instant `epochMs`, in milliseconds (positive east of Greenwich). */
export function offsetAt(zone: string, epochMs: number): number {
  if (zone === 'UTC') return 0;
  const w = wallTime(zone, epochMs);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second, w.millisecond);
  return asUtc - epochMs;
}

/** The wall-clock fields of `epochMs` in `zone`. */
export function wallTime(zone: string, epochMs: number): WallTime {
  if (zone === 'UTC') {
    const d = new Date(epochMs);
    return {
      year: d.getUTCFullYear(),
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      hour: d.getUTCHours(),
      minute: d.getUTCMinutes(),
      second: d.getUTCSeconds(),
      millisecond: d.getUTCMilliseconds(),
      dayOfWeek: d.getUTCDay(),
    };
  }
  const ms = ((epochMs % 1000) + 1000) % 1000;
  const parts = formatter(zone).formatToParts(new Date(epochMs - ms));
  let year = 0;
  let month = 0;
  let day = 0;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let bc = false;
  for (const p of parts) {
    switch (p.type) {
      case 'year':
        year = Number(p.value);
        break;
      case 'month':
        month = Number(p.value);
        break;
      case 'day':
        day = Number(p.value);
        break;
      case 'hour':
        hour = Number(p.value);
        break;
      case 'minute':
        minute = Number(p.value);
        break;
      case 'second':
        second = Number(p.value);
        break;
      case 'era':
        bc = p.value === 'BC' || p.value === 'B';
        break;
    }
  }
  if (bc) year = 1 - year;
  const dayOfWeek = new Date(Date.UTC(year, month - 1, day)).getUTCDay();
  return { year, month, day, hour, minute, second, millisecond: ms, dayOfWeek };
}

/**
 * The instants at which the wall time `local` (interpreted as if it were UTC: `Date.UTC(...)` of the wall
 * fields) occurs in `zone`: one normally, two in a fall-back overlap (earlier first), none in a
 * spring-forward gap.
 */
export function instantsOfWallTime(zone: string, local: number): number[] {
  if (zone === 'UTC') return [local];
  // Offsets in force within a day either side cover every transition that can affect `local`.
  const candidates = new Set<number>();
  for (const probe of [local - 86_400_000, local, local + 86_400_000]) {
    candidates.add(offsetAt(zone, probe));
  }
  const result: number[] = [];
  for (const off of candidates) {
    const t = local - off;
    if (offsetAt(zone, t) === off) result.push(t);
  }
  return [...new Set(result)].sort((a, b) => a - b);
}

/**
 * Resolves a wall time in `zone` to an instant. In an overlap the earlier instant is taken; in a gap, the
 * first instant after the gap (the transition instant), which is the Vixie cron rule and Temporal's
 * `disambiguation: 'later'` for the gap's shifted wall time minus the shift.
 */
export function resolveWallTime(zone: string, local: number): number {
  const found = instantsOfWallTime(zone, local);
  if (found.length > 0) return found[0]!;
  // In a gap: find the transition by bisection between (local - 1 day offset guess) bounds.
  const before = local - offsetAt(zone, local - 86_400_000);
  const after = local - offsetAt(zone, local + 86_400_000);
  let lo = Math.min(before, after);
  let hi = Math.max(before, after);
  const offLo = offsetAt(zone, lo);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (offsetAt(zone, mid) === offLo) lo = mid;
    else hi = mid;
  }
  return hi;
}

/**
 * English locales tried in turn for a zone's short name: `en-US` knows only North American names (it says
 * `GMT+2` for Berlin), the others add their region's (`CEST`, `BST`, `IST`, `AEST`, `NZST`, `SAST`).
 */
const ABBREVIATION_LOCALES = ['en-US', 'en-GB', 'en-IN', 'en-AU', 'en-NZ', 'en-ZA', 'en-IE'];
const abbreviationFormatters = new Map<string, Intl.DateTimeFormat>();
const abbreviations = new Map<string, string>();

/**
 * Short zone name at an instant, as Python's `%Z` prints it with zoneinfo: `UTC`, `EST`, `CEST`, `BST` where
 * `Intl` knows the name in some English locale, else tzdata's numeric form (`-03`, `+0530`).
 */
export function zoneAbbreviation(zone: string, epochMs: number): string {
  if (zone === 'UTC' || zone === 'Etc/UTC') return 'UTC';
  const offset = offsetAt(zone, epochMs);
  const key = `${zone}|${offset}|${Math.floor(epochMs / 86_400_000 / 366)}`;
  const cached = abbreviations.get(key);
  if (cached !== undefined) return cached;
  let name: string | undefined;
  for (const locale of ABBREVIATION_LOCALES) {
    const fkey = `${locale}|${zone}`;
    let f = abbreviationFormatters.get(fkey);
    if (!f) {
      f = new Intl.DateTimeFormat(locale, { timeZone: zone, timeZoneName: 'short' });
      abbreviationFormatters.set(fkey, f);
    }
    const value = f.formatToParts(new Date(epochMs)).find((p) => p.type === 'timeZoneName')?.value;
    if (value && (value === 'GMT' || !/^(?:GMT|UTC)[+\-\u2212]/.test(value))) {
      name = value;
      break;
    }
  }
  if (name === undefined) {
    const minutes = Math.round(offset / 60_000);
    const abs = Math.abs(minutes);
    name = `${minutes < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}${abs % 60 ? pad(abs % 60) : ''}`;
  }
  abbreviations.set(key, name);
  return name;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/**
 * APScheduler's `datetime_repr`: `2024-04-25 07:37:48 UTC` (`%Y-%m-%d %H:%M:%S %Z`) in `zone`.
 */
export function formatDateTime(date: Date, zone = 'UTC'): string {
  const w = wallTime(zone, date.getTime());
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)} ${zoneAbbreviation(zone, date.getTime())}`;
}

/** ISO 8601 with the zone's offset at that instant: `2021-03-14T03:00:00-04:00` (milliseconds when non-zero). */
export function formatIsoInZone(date: Date, zone = 'UTC'): string {
  const t = date.getTime();
  const w = wallTime(zone, t);
  const off = Math.round(offsetAt(zone, t) / 60_000);
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off);
  const ms = w.millisecond ? `.${pad(w.millisecond, 3)}` : '';
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}${ms}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/**
 * Python's `str(timedelta)` for a duration in milliseconds: `0:00:01`, `0:00:00.500000`, `1 day, 0:00:00`,
 * `-1 day, 23:59:59`. Used in APScheduler-style log lines and trigger names.
 */
export function formatTimedelta(ms: number): string {
  // Whole days first, in ms: a long duration counted in microseconds would pass 2^53 and lose its last digits.
  let days = Math.floor(ms / 86_400_000);
  const dayMicros = 86_400_000_000;
  let rest = Math.round((ms - days * 86_400_000) * 1000);
  if (rest >= dayMicros) {
    days++;
    rest -= dayMicros;
  }
  const hours = Math.floor(rest / 3_600_000_000);
  rest -= hours * 3_600_000_000;
  const minutes = Math.floor(rest / 60_000_000);
  rest -= minutes * 60_000_000;
  const seconds = Math.floor(rest / 1_000_000);
  const micros = rest - seconds * 1_000_000;
  let s = `${hours}:${pad(minutes)}:${pad(seconds)}`;
  if (micros) s += `.${pad(micros, 6)}`;
  if (days) s = `${days} day${Math.abs(days) === 1 ? '' : 's'}, ${s}`;
  return s;
}

const LOCAL_ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?)?$/;

/**
 * A point in time from a `Date`, epoch milliseconds, an ISO 8601 string with an offset, or a local wall
 * time without an offset (`2021-08-04T18:08:00`, `2021-08-04 18:08`, `2021-08-04`) read in `zone` with the
 * offset in force on that date (in an overlap the earlier instant, in a gap the first instant after it).
 * @throws TickworkError `INVALID_OPTION` naming `field`.
 */
export function toInstant(value: unknown, field: string, zone = 'UTC'): Date {
  if (typeof value === 'string') {
    const m = LOCAL_ISO.exec(value.trim());
    if (m) {
      const [, y, mo, d, h, mi, s, ms] = m;
      const local = Date.UTC(
        Number(y),
        Number(mo) - 1,
        Number(d),
        Number(h ?? 0),
        Number(mi ?? 0),
        Number(s ?? 0),
        Number((ms ?? '0').padEnd(3, '0')),
      );
      const check = new Date(local);
      if (
        check.getUTCDate() !== Number(d) ||
        check.getUTCMonth() !== Number(mo) - 1 ||
        Number(y) < 100 ||
        Number(h ?? 0) > 23 ||
        Number(mi ?? 0) > 59 ||
        Number(s ?? 0) > 59
      ) {
        throw invalidOption(field, 'a valid date and time', value);
      }
      return new Date(resolveWallTime(zone, local));
    }
  }
  // The message names the local form too: a value that is no date at all is not asking for an offset.
  return instant(
    value,
    field,
    `a Date, epoch milliseconds or an ISO 8601 date-time, with an offset or without one (read in ${zone}, such as "2030-12-01T09:00:00")`,
  );
}

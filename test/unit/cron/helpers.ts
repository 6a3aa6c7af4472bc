/** Shared helpers of the cron tests. */
import { readFileSync } from 'node:fs';

/** Reads a reference vector file from `test/vectors/` (verbatim copies of `../shared/vectors/`). */
export function readVectors<T>(name: string): T {
  const url = new URL(`../../vectors/${name}`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as T;
}

const isoFormatters = new Map<string, Intl.DateTimeFormat>();

/**
 * ISO 8601 with the zone's offset, computed independently of the code under test (straight from `Intl`):
 * `2021-03-14T03:00:00-04:00`.
 */
export function isoInZone(t: number, zone: string): string {
  let f = isoFormatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      timeZoneName: 'longOffset',
    });
    isoFormatters.set(zone, f);
  }
  const p = Object.fromEntries(f.formatToParts(t).map((x) => [x.type, x.value]));
  let off = (p.timeZoneName ?? 'GMT').replace('GMT', '').replace('\u2212', '-');
  if (off === '') off = '+00:00';
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}${off}`;
}

/** The wall time (as if UTC, epoch ms) of instant `t` in `zone`, straight from `Intl`. */
export function wallOf(t: number, zone: string): number {
  const iso = isoInZone(t, zone);
  return Date.parse(iso.slice(0, 19) + 'Z');
}

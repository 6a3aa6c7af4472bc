/**
 * English descriptions of cron schedules: `cronstrue` where it reads our dialect correctly, with the
 * expression rewritten into forms it understands, and a plain fallback of our own where it does not.
 * @module
 */
import cronstrue from 'cronstrue';
import { fieldFormTexts, type FieldFormName, type ParsedCron } from './parse.js';

const AP_DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/** Rewrites APScheduler's day-of-week field (0 = Monday) into crontab's (1 = Monday, 7 = Sunday). */
function apDowToCrontab(text: string): string {
  return text
    .split(',')
    .map((item) => {
      const t = item.trim().toLowerCase();
      const [base, step] = t.split('/');
      const b = base === '*' && step !== undefined ? '1-7' : base!;
      const mapped = b.replace(/[0-9]+/g, (n) => String(Number(n) + 1));
      return step === undefined ? mapped : `${mapped}/${step}`;
    })
    .join(',');
}

function fieldFormToCrontab(fields: Partial<Record<FieldFormName, string>>): string | null {
  const t = Object.fromEntries(fieldFormTexts(fields).map(([n, text]) => [n, text])) as Record<
    FieldFormName,
    string
  >;
  if (t.week !== '*') return null;
  let day = t.day.toLowerCase();
  let dow = apDowToCrontab(t.dayOfWeek);
  const m = /^(1st|2nd|3rd|4th|5th|last) +([a-z]{3})$/.exec(day);
  if (m) {
    if (t.dayOfWeek !== '*') return null;
    const w = (AP_DAYS.indexOf(m[2]!) + 1) % 7;
    dow = m[1] === 'last' ? `${w}L` : `${w}#${m[1]!.charAt(0)}`;
    day = '?';
  } else if (day === 'last') {
    day = 'L';
  } else if (/[a-z]/.test(day)) {
    return null;
  }
  const year = t.year === '*' ? '' : ` ${t.year}`;
  return `${t.second} ${t.minute} ${t.hour} ${day} ${t.month} ${dow}${year}`;
}

function restricted(text: string): boolean {
  return !text.startsWith('*') && !text.startsWith('?');
}

/** The fallback: each non-`*` field spelt out. */
function plain(fields: [string, string][]): string {
  const parts = fields.filter(([, v]) => v !== '*' && v !== '?').map(([k, v]) => `${k} ${v}`);
  return parts.length === 0 ? 'Every second' : `When ${parts.join(', ')}`;
}

/**
 * Describes a schedule in English. `expression` is the crontab string (or `null` for the field form,
 * given in `fields`).
 */
export function describeCron(
  expression: string | null,
  fields: Partial<Record<FieldFormName, string>> | null,
  parsed: ParsedCron,
  dayMatchAnd: boolean,
): string {
  let cron: string | null;
  let domText: string;
  let dowText: string;
  let andDays: boolean;
  let fallback: [string, string][];
  if (expression !== null) {
    const trimmed = expression.trim();
    if (trimmed.startsWith('@')) return describeCronstrue(trimmed) ?? trimmed;
    const f = trimmed.split(/[ \t\n\r\v\f]+/);
    const [second, minute, hour, dom, month, dow, year] = f.length === 5 ? ['0', ...f] : f;
    domText = dom!;
    dowText = dow!;
    andDays = dayMatchAnd || !restricted(domText) || !restricted(dowText);
    // cronstrue rejects d#L (use dL) and drops list members next to L-n.
    const dowFixed = dowText.replace(/#[lL]/g, 'L');
    cron = /L-[0-9]+,|,L-[0-9]+/i.test(domText)
      ? null
      : `${second} ${minute} ${hour} ${domText} ${month} ${dowFixed}${year === undefined ? '' : ` ${year}`}`;
    fallback = [
      ['second', second!],
      ['minute', minute!],
      ['hour', hour!],
      ['day-of-month', domText],
      ['month', month!],
      ['day-of-week', dowText],
      ['year', year ?? '*'],
    ];
  } else {
    const given = fields ?? {};
    cron = fieldFormToCrontab(given);
    const t = fieldFormTexts(given);
    domText = t.find(([n]) => n === 'day')![1];
    dowText = t.find(([n]) => n === 'dayOfWeek')![1];
    andDays = true;
    fallback = t.map(([n, v]) => [n === 'dayOfWeek' ? 'day of week (0 = Monday)' : n, v]);
  }
  let text = (cron !== null ? describeCronstrue(cron) : null) ?? plain(fallback);
  if (!andDays) {
    // Vixie's OR (both fields restricted as written), even when a field lists every value (`1-31`: then
    // every day matches, which the text above does not say).
    text += ' (on days matching either the day-of-month or the day-of-week rule)';
  } else if (!parsed.dayOfMonth.all && !parsed.dayOfWeek.all && domText !== '*' && dowText !== '*') {
    text += ' (only on days matching both the day-of-month and the day-of-week rules)';
  }
  return text;
}

function describeCronstrue(expr: string): string | null {
  try {
    return cronstrue.toString(expr, {
      use24HourTimeFormat: true,
      verbose: false,
      throwExceptionOnParseError: true,
    });
  } catch {
    return null;
  }
}

/**
 * Cron parsing: crontab strings (crontab(5) / Vixie cron with the Quartz extensions) and APScheduler's
 * field form, both into one {@link ParsedCron}. The exact rules are in `docs/cron.md`.
 * @module
 */
import { TickworkError } from '../../core/errors.js';

/** Field names used in error details (`details.field`). */
export type CronFieldName =
  | 'second'
  | 'minute'
  | 'hour'
  | 'dayOfMonth'
  | 'month'
  | 'dayOfWeek'
  | 'year'
  | 'day'
  | 'week'
  | 'expression';

/**
 * One of the two day fields, with every kind of item it may hold. Weekdays are numbered 0 (Sunday) to 6.
 * A day matches the field when it matches any member (a comma list is a union).
 */
export interface DayField {
  /** The field's text starts with `*` or `?` (Vixie's DOM_STAR / DOW_STAR). */
  star: boolean;
  /** Matches every day (`*`, `?`, `*\/1`, or a list covering everything). */
  all: boolean;
  /** Plain days of the month: bit `d - 1` for day `d`. */
  days: number;
  /** `L`: the last day of the month. */
  last: boolean;
  /** `L-n` offsets: the day `n` days before the last day. */
  lastMinus: number[];
  /** `nW`: `n` (1-31); `LW`: -1; none: 0. */
  nearest: number;
  /** Plain weekdays: bit `w` for weekday `w` (0 = Sunday). */
  weekdays: number;
  /** `d#k` items encoded `d * 8 + k` (k = 1..5; k = 6 for `d#L` / `dL`, the last one). */
  nth: number[];
}

/** A parsed schedule, independent of the syntax it came from. */
export interface ParsedCron {
  second: number[];
  minute: number[];
  hour: number[];
  month: number[];
  /** Allowed years, sorted; `null` for any year. */
  years: number[] | null;
  /** Allowed ISO week numbers (APScheduler's `week`), sorted; `null` for any. */
  weeks: number[] | null;
  dayOfMonth: DayField;
  dayOfWeek: DayField;
  /** Vixie's fixed-time job: no `*`, `?` or `/` in the second, minute and hour fields. */
  fixedTime: boolean;
  /** Always AND the day fields (APScheduler's field form). */
  forceAnd: boolean;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** Cronie's nicknames; lower case only. */
export const NICKNAMES: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const FIELD_LABEL: Record<CronFieldName, string> = {
  second: 'second',
  minute: 'minute',
  hour: 'hour',
  dayOfMonth: 'day-of-month',
  month: 'month',
  dayOfWeek: 'day-of-week',
  year: 'year',
  day: 'day',
  week: 'week',
  expression: 'expression',
};

interface Range {
  min: number;
  max: number;
}

const RANGES: Record<string, Range> = {
  second: { min: 0, max: 59 },
  minute: { min: 0, max: 59 },
  hour: { min: 0, max: 23 },
  dayOfMonth: { min: 1, max: 31 },
  month: { min: 1, max: 12 },
  dayOfWeek: { min: 0, max: 7 },
  year: { min: 1970, max: 2099 },
};

function emptyDayField(star: boolean): DayField {
  return { star, all: false, days: 0, last: false, lastMinus: [], nearest: 0, weekdays: 0, nth: [] };
}

function fail(
  source: string,
  field: CronFieldName,
  token: string,
  position: number,
  why: string,
  where = 'cron expression',
): never {
  const label = field === 'expression' ? '' : `${FIELD_LABEL[field]} field: `;
  throw new TickworkError(
    'INVALID_CRON',
    `Invalid ${where} ${JSON.stringify(source)}: ${label}${why} (token ${JSON.stringify(token)} at position ${position})`,
    { field, token, position, value: source },
  );
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]);

interface Token {
  text: string;
  pos: number;
}

function tokenize(expr: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    while (i < expr.length && WS.has(expr.charCodeAt(i))) i++;
    if (i >= expr.length) break;
    const start = i;
    while (i < expr.length && !WS.has(expr.charCodeAt(i))) i++;
    out.push({ text: expr.slice(start, i), pos: start });
  }
  return out;
}

const LAYOUTS: Record<number, CronFieldName[]> = {
  5: ['minute', 'hour', 'dayOfMonth', 'month', 'dayOfWeek'],
  6: ['second', 'minute', 'hour', 'dayOfMonth', 'month', 'dayOfWeek'],
  7: ['second', 'minute', 'hour', 'dayOfMonth', 'month', 'dayOfWeek', 'year'],
};

/** The normalised 7 field texts of a crontab expression (second ... year; year `*` when absent). */
export interface CrontabFields {
  second: string;
  minute: string;
  hour: string;
  dayOfMonth: string;
  month: string;
  dayOfWeek: string;
  year: string;
}

/**
 * Parses a crontab expression (5, 6 or 7 fields, or a nickname).
 * @throws TickworkError `INVALID_CRON` with `details.field`, `details.token`, `details.position`.
 */
export function parseCrontab(expr: string): ParsedCron & { fields: CrontabFields } {
  if (typeof expr !== 'string') {
    throw new TickworkError('INVALID_CRON', `Expected a cron expression string, got ${typeof expr}`, {
      field: 'expression',
      value: expr,
    });
  }
  for (let i = 0; i < expr.length; i++) {
    if (expr.charCodeAt(i) > 0x7f) fail(expr, 'expression', expr.charAt(i), i, 'non-ASCII character');
  }
  let tokens = tokenize(expr);
  if (tokens.length === 0) fail(expr, 'expression', '', 0, 'the expression is empty');
  const first = tokens[0]!;
  if (first.text.startsWith('@')) {
    const body = NICKNAMES[first.text];
    if (body === undefined) {
      fail(
        expr,
        'expression',
        first.text,
        first.pos,
        'unknown nickname; expected one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly (lower case)',
      );
    }
    if (tokens.length > 1) {
      const extra = tokens[1]!;
      fail(expr, 'expression', extra.text, extra.pos, 'a nickname must be the whole expression');
    }
    // Point every field of the expansion at the nickname itself.
    tokens = body.split(' ').map((text) => ({ text, pos: first.pos }));
  }
  const layout = LAYOUTS[tokens.length];
  if (layout === undefined) {
    if (tokens.length > 7) {
      const extra = tokens[7]!;
      fail(expr, 'expression', extra.text, extra.pos, `expected 5, 6 or 7 fields, got ${tokens.length}`);
    }
    fail(expr, 'expression', '', expr.length, `expected 5, 6 or 7 fields, got ${tokens.length}`);
  }
  const texts: Partial<Record<CronFieldName, Token>> = {};
  layout.forEach((name, i) => (texts[name] = tokens[i]!));
  const sec = texts.second ?? { text: '0', pos: 0 };
  const yearTok = texts.year;
  const second = parseNumericField(expr, 'second', sec);
  const minute = parseNumericField(expr, 'minute', texts.minute!);
  const hour = parseNumericField(expr, 'hour', texts.hour!);
  const month = parseNumericField(expr, 'month', texts.month!);
  const dayOfMonth = parseDayOfMonth(expr, texts.dayOfMonth!);
  const dayOfWeek = parseDayOfWeekOrYear(expr, texts.dayOfWeek!, tokens.length);
  const years = yearTok ? parseNumericField(expr, 'year', yearTok) : null;
  const fixedTime = [sec, texts.minute!, texts.hour!].every((t) => !/[*?/]/.test(t.text));
  return {
    second,
    minute,
    hour,
    month,
    years,
    weeks: null,
    dayOfMonth,
    dayOfWeek,
    fixedTime,
    forceAnd: false,
    fields: {
      second: sec.text,
      minute: texts.minute!.text,
      hour: texts.hour!.text,
      dayOfMonth: texts.dayOfMonth!.text,
      month: texts.month!.text,
      dayOfWeek: texts.dayOfWeek!.text,
      year: yearTok?.text ?? '*',
    },
  };
}

/**
 * The day-of-week field; in a 6-field expression whose last field is refused and holds a 4-digit number
 * (`0 0 1 1 * 2030`), the error says that a year needs 7 fields, since 6 are read seconds-first.
 */
function parseDayOfWeekOrYear(expr: string, token: Token, fieldCount: number): DayField {
  try {
    return parseDayOfWeek(expr, token);
  } catch (err) {
    if (fieldCount === 6 && err instanceof TickworkError && /(^|\D)\d{4}(\D|$)/.test(token.text)) {
      throw new TickworkError(
        'INVALID_CRON',
        `${err.message}; 6 fields are read seconds-first (second minute hour day-of-month month ` +
          'day-of-week): a year needs 7 fields (second minute hour day-of-month month day-of-week year)',
        err.details,
      );
    }
    throw err;
  }
}

interface Item {
  text: string;
  pos: number;
}

function splitList(expr: string, field: CronFieldName, tok: Token): Item[] {
  const items: Item[] = [];
  let start = 0;
  const t = tok.text;
  for (let i = 0; i <= t.length; i++) {
    if (i === t.length || t.charCodeAt(i) === 44 /* , */) {
      const text = t.slice(start, i);
      if (text === '') fail(expr, field, t, tok.pos + start, 'empty list item');
      items.push({ text, pos: tok.pos + start });
      start = i + 1;
    }
  }
  return items;
}

function parseValue(
  expr: string,
  field: CronFieldName,
  text: string,
  pos: number,
  names: string[] | null,
  nameBase: number,
): number {
  const r = RANGES[field]!;
  if (/^[0-9]+$/.test(text)) {
    const v = Number(text);
    if (v < r.min || v > r.max) fail(expr, field, text, pos, `value ${v} is out of range ${r.min}-${r.max}`);
    return v;
  }
  if (/^[A-Za-z]{3}$/.test(text) && names) {
    const i = names.indexOf(text.toLowerCase());
    if (i >= 0) return i + nameBase;
  }
  if (/^[A-Za-z]+$/.test(text)) {
    if (names) {
      fail(
        expr,
        field,
        text,
        pos,
        `unknown name; expected a three-letter ${field === 'month' ? 'month (JAN-DEC)' : 'day (SUN-SAT)'} name or a number`,
      );
    }
    fail(expr, field, text, pos, 'names are allowed only in the month and day-of-week fields');
  }
  if (text === '') fail(expr, field, text, pos, 'missing value');
  fail(expr, field, text, pos, `expected a number from ${r.min} to ${r.max}`);
}

/** Expands a plain item (`*`, `N`, `N-M`, `*\/S`, `N-M/S`, `N/S`) to values. */
function expandItem(expr: string, field: CronFieldName, item: Item, out: Set<number>): void {
  const r = RANGES[field]!;
  const names = field === 'month' ? MONTHS : field === 'dayOfWeek' ? DAYS : null;
  const nameBase = field === 'month' ? 1 : 0;
  const text = item.text;
  const slash = text.indexOf('/');
  let base = text;
  let step = 1;
  let hasStep = false;
  if (slash >= 0) {
    base = text.slice(0, slash);
    const stepText = text.slice(slash + 1);
    const stepPos = item.pos + slash + 1;
    if (!/^[0-9]+$/.test(stepText)) fail(expr, field, stepText, stepPos, 'expected a step number after "/"');
    step = Number(stepText);
    if (step < 1) fail(expr, field, stepText, stepPos, 'the step must be at least 1');
    hasStep = true;
  }
  let lo: number;
  let hi: number;
  if (base === '*') {
    lo = r.min;
    hi = r.max;
  } else if (base === '?') {
    fail(
      expr,
      field,
      text,
      item.pos,
      '"?" must be the whole field (and only in day-of-month or day-of-week)',
    );
  } else {
    const dash = base.indexOf('-');
    if (dash >= 0) {
      const a = base.slice(0, dash);
      const b = base.slice(dash + 1);
      if (a === '')
        fail(expr, field, base, item.pos, 'range without a start (negative numbers are not allowed)');
      if (b === '') fail(expr, field, base, item.pos + dash + 1, 'range without an end');
      if (b.includes('-')) fail(expr, field, base, item.pos, 'a range has one "-"');
      lo = parseValue(expr, field, a, item.pos, names, nameBase);
      hi = parseValue(expr, field, b, item.pos + dash + 1, names, nameBase);
      // cronie: a day-of-week range ending at 0 (SUN) ends at 7, so FRI-SUN = 5-7.
      if (field === 'dayOfWeek' && hi === 0 && lo > 0) hi = 7;
      if (lo > hi)
        fail(expr, field, base, item.pos, `reversed range ${a}-${b} (the start must not exceed the end)`);
    } else {
      lo = parseValue(expr, field, base, item.pos, names, nameBase);
      // Quartz / cron-parser: N/S means N-max/S.
      hi = hasStep ? r.max : lo;
    }
  }
  for (let v = lo; v <= hi; v += step) out.add(v);
}

function parseNumericField(expr: string, field: CronFieldName, tok: Token): number[] {
  if (tok.text === '?') {
    fail(expr, field, '?', tok.pos, '"?" is allowed only as the whole day-of-month or day-of-week field');
  }
  const out = new Set<number>();
  for (const item of splitList(expr, field, tok)) {
    if (/[^0-9A-Za-z*/,-]/.test(item.text)) {
      const m = /[^0-9A-Za-z*/,-]/.exec(item.text)!;
      fail(expr, field, item.text, item.pos + m.index, `unexpected character ${JSON.stringify(m[0])}`);
    }
    expandItem(expr, field, item, out);
  }
  return [...out].sort((a, b) => a - b);
}

function parseDayOfMonth(expr: string, tok: Token): DayField {
  const field: CronFieldName = 'dayOfMonth';
  const f = emptyDayField(tok.text.startsWith('*') || tok.text.startsWith('?'));
  if (tok.text === '?') {
    f.all = true;
    return f;
  }
  const items = splitList(expr, field, tok);
  const plain = new Set<number>();
  for (const item of items) {
    const t = item.text.toUpperCase();
    if (/W/.test(t)) {
      if (items.length > 1)
        fail(expr, field, item.text, item.pos, '"W" items (nW, LW) must be the whole field');
      if (t === 'LW') {
        f.nearest = -1;
        continue;
      }
      const m = /^([0-9]+)W$/.exec(t);
      if (!m) fail(expr, field, item.text, item.pos, 'expected nW (weekday nearest day n) or LW');
      const n = Number(m[1]);
      if (n < 1 || n > 31) fail(expr, field, item.text, item.pos, `day ${n} is out of range 1-31`);
      f.nearest = n;
      continue;
    }
    if (t === 'L') {
      f.last = true;
      continue;
    }
    if (t.startsWith('L')) {
      const m = /^L-([0-9]+)$/.exec(t);
      if (!m) fail(expr, field, item.text, item.pos, 'expected L, L-n, nW or LW');
      const n = Number(m[1]);
      if (n < 1 || n > 30) fail(expr, field, item.text, item.pos, `L-${n}: n must be from 1 to 30`);
      if (!f.lastMinus.includes(n)) f.lastMinus.push(n);
      continue;
    }
    if (/[^0-9*/-]/.test(item.text)) {
      const m = /[^0-9*/-]/.exec(item.text)!;
      fail(expr, field, item.text, item.pos + m.index, `unexpected character ${JSON.stringify(m[0])}`);
    }
    expandItem(expr, field, item, plain);
  }
  for (const d of plain) f.days |= 1 << (d - 1);
  f.all = f.days === 0x7fffffff;
  return f;
}

function parseWeekday(expr: string, text: string, pos: number): number {
  return parseValue(expr, 'dayOfWeek', text, pos, DAYS, 0) % 7;
}

function parseDayOfWeek(expr: string, tok: Token): DayField {
  const field: CronFieldName = 'dayOfWeek';
  const f = emptyDayField(tok.text.startsWith('*') || tok.text.startsWith('?'));
  if (tok.text === '?') {
    f.all = true;
    return f;
  }
  const plain = new Set<number>();
  for (const item of splitList(expr, field, tok)) {
    const t = item.text;
    const hash = t.indexOf('#');
    if (hash >= 0) {
      const d = t.slice(0, hash);
      const k = t.slice(hash + 1);
      if (d === '') fail(expr, field, t, item.pos, '"#" needs a weekday before it (d#k)');
      if (!/^[0-9]+$|^[A-Za-z]{3}$/.test(d)) {
        fail(expr, field, t, item.pos, '"#" takes one weekday (a number 0-7 or a name), not a range or list');
      }
      const w = parseWeekday(expr, d, item.pos);
      let kk: number;
      if (k === 'L' || k === 'l') kk = 6;
      else if (/^[0-9]+$/.test(k)) {
        kk = Number(k);
        if (kk < 1 || kk > 5)
          fail(expr, field, t, item.pos + hash + 1, `occurrence ${kk} is out of range 1-5 (or L)`);
      } else {
        fail(expr, field, t, item.pos + hash + 1, 'expected an occurrence 1-5 or L after "#"');
      }
      const code = w * 8 + kk;
      if (!f.nth.includes(code)) f.nth.push(code);
      continue;
    }
    if (/[Ll]$/.test(t) && !/^[A-Za-z]{3}$/.test(t)) {
      const d = t.slice(0, -1);
      if (d === '') fail(expr, field, t, item.pos, '"L" alone is not allowed in day-of-week; use dL or d#L');
      if (!/^[0-9]+$|^[A-Za-z]{3}$/.test(d)) {
        fail(expr, field, t, item.pos, '"L" takes one weekday (a number 0-7 or a name), not a range or list');
      }
      const code = parseWeekday(expr, d, item.pos) * 8 + 6;
      if (!f.nth.includes(code)) f.nth.push(code);
      continue;
    }
    if (/[^0-9A-Za-z*/-]/.test(t)) {
      const m = /[^0-9A-Za-z*/-]/.exec(t)!;
      fail(expr, field, t, item.pos + m.index, `unexpected character ${JSON.stringify(m[0])}`);
    }
    expandItem(expr, field, item, plain);
  }
  for (const d of plain) f.weekdays |= 1 << (d % 7);
  f.all = f.weekdays === 0x7f && f.nth.length === 0;
  return f;
}

// ---------------------------------------------------------------------------------------------------------
// APScheduler's field form

/** A field value in APScheduler's field form: a number or an expression string. */
export type CronFieldValue = number | string;

/** APScheduler's field names, in order of significance, with our option names. */
export const FIELD_FORM_NAMES = [
  ['year', 'year'],
  ['month', 'month'],
  ['day', 'day'],
  ['week', 'week'],
  ['dayOfWeek', 'day_of_week'],
  ['hour', 'hour'],
  ['minute', 'minute'],
  ['second', 'second'],
] as const;

/** The option name of a field in the field form. */
export type FieldFormName = (typeof FIELD_FORM_NAMES)[number][0];

const FIELD_FORM_DEFAULTS: Record<FieldFormName, string> = {
  year: '*',
  month: '1',
  day: '1',
  week: '*',
  dayOfWeek: '*',
  hour: '0',
  minute: '0',
  second: '0',
};

const FIELD_FORM_RANGES: Record<FieldFormName, Range> = {
  year: { min: 1970, max: 9999 },
  month: { min: 1, max: 12 },
  day: { min: 1, max: 31 },
  week: { min: 1, max: 53 },
  dayOfWeek: { min: 0, max: 6 },
  hour: { min: 0, max: 23 },
  minute: { min: 0, max: 59 },
  second: { min: 0, max: 59 },
};

const AP_WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const ORDINALS = ['1st', '2nd', '3rd', '4th', '5th'];

/**
 * The effective field texts of APScheduler's field form: fields to the right of the least significant
 * given field default to their minimum, the others to `*` (APScheduler 3's `CronTrigger.__init__`).
 * Returns `[name, text, given]` for each of the 8 fields.
 */
export function fieldFormTexts(
  values: Partial<Record<FieldFormName, CronFieldValue>>,
): [FieldFormName, string, boolean][] {
  const given = FIELD_FORM_NAMES.map(([n]) => values[n] !== undefined && values[n] !== null);
  let lastGiven = -1;
  given.forEach((g, i) => {
    if (g) lastGiven = i;
  });
  return FIELD_FORM_NAMES.map(([name], i) => {
    if (given[i]) return [name, String(values[name]).trim(), true];
    return [name, i > lastGiven && lastGiven >= 0 ? FIELD_FORM_DEFAULTS[name] : '*', false];
  });
}

function failField(
  source: string,
  field: FieldFormName,
  token: string,
  position: number,
  why: string,
): never {
  fail(source, field === 'dayOfWeek' ? 'dayOfWeek' : field, token, position, why, `\`${field}\` expression`);
}

function expandFieldForm(source: string, field: FieldFormName, item: Item, out: Set<number>): void {
  const r = FIELD_FORM_RANGES[field];
  const text = item.text;
  const m = /^(?:(\*)|([0-9]+|[a-z]+)(?:-([0-9]+|[a-z]+))?)(?:\/([0-9]+))?$/i.exec(text);
  if (!m) failField(source, field, text, item.pos, 'expected *, a, a-b, */n, a-b/n or a/n');
  const value = (t: string, pos: number): number => {
    if (/^[0-9]+$/.test(t)) {
      const v = Number(t);
      if (v < r.min || v > r.max)
        failField(source, field, t, pos, `value ${v} is out of range ${r.min}-${r.max}`);
      return v;
    }
    const names = field === 'month' ? MONTHS : field === 'dayOfWeek' ? AP_WEEKDAYS : null;
    const i = names ? names.indexOf(t.toLowerCase()) : -1;
    if (i < 0)
      failField(source, field, t, pos, names ? 'unknown name' : 'names are not allowed in this field');
    return field === 'month' ? i + 1 : i;
  };
  let step = 1;
  if (m[4] !== undefined) {
    step = Number(m[4]);
    if (step < 1)
      failField(source, field, m[4], item.pos + text.indexOf('/') + 1, 'the step must be at least 1');
  }
  let lo: number;
  let hi: number;
  if (m[1]) {
    lo = r.min;
    hi = r.max;
  } else {
    lo = value(m[2]!, item.pos);
    if (m[3] !== undefined) {
      hi = value(m[3], item.pos + text.indexOf('-') + 1);
      if (lo > hi)
        failField(source, field, text, item.pos, 'reversed range (the start must not exceed the end)');
    } else {
      hi = m[4] !== undefined ? r.max : lo;
    }
  }
  for (let v = lo; v <= hi; v += step) out.add(v);
}

/**
 * Parses APScheduler's field form (`{ day: 'last fri', hour: '*\/2' }`). Day-of-week numbers here run from
 * 0 = Monday to 6 = Sunday, as in APScheduler; the result uses 0 = Sunday like everything else.
 * @throws TickworkError `INVALID_CRON` naming the field.
 */
export function parseFieldForm(values: Partial<Record<FieldFormName, CronFieldValue>>): ParsedCron {
  const texts = fieldFormTexts(values);
  const sets: Partial<Record<FieldFormName, number[]>> = {};
  const dayOfMonth = emptyDayField(false);
  const dayOfWeek = emptyDayField(false);
  let fixedTime = true;
  for (const [name, text] of texts) {
    if (
      typeof values[name] === 'number' &&
      (!Number.isInteger(values[name]) || (values[name] as number) < 0)
    ) {
      failField(text, name, text, 0, 'expected a non-negative integer');
    }
    if ((name === 'hour' || name === 'minute' || name === 'second') && /[*/]/.test(text)) fixedTime = false;
    const items: Item[] = [];
    let pos = 0;
    for (const raw of text.split(',')) {
      const lead = raw.length - raw.trimStart().length;
      const t = raw.trim();
      if (t === '') failField(text, name, raw, pos, 'empty list item');
      items.push({ text: t, pos: pos + lead });
      pos += raw.length + 1;
    }
    const out = new Set<number>();
    for (const item of items) {
      if (name === 'day') {
        const t = item.text.toLowerCase();
        if (t === 'last') {
          dayOfMonth.last = true;
          continue;
        }
        const m = /^(1st|2nd|3rd|4th|5th|last) +([a-z]+)$/.exec(t);
        if (m) {
          const w = AP_WEEKDAYS.indexOf(m[2]!);
          if (w < 0) failField(text, name, m[2]!, item.pos + t.lastIndexOf(m[2]!), 'unknown weekday name');
          const k = m[1] === 'last' ? 6 : ORDINALS.indexOf(m[1]!) + 1;
          dayOfMonth.nth.push(((w + 1) % 7) * 8 + k);
          continue;
        }
      }
      expandFieldForm(text, name, item, out);
    }
    const sorted = [...out].sort((a, b) => a - b);
    if (name === 'day') {
      for (const d of sorted) dayOfMonth.days |= 1 << (d - 1);
      dayOfMonth.all = dayOfMonth.days === 0x7fffffff;
    } else if (name === 'dayOfWeek') {
      for (const d of sorted) dayOfWeek.weekdays |= 1 << ((d + 1) % 7);
      dayOfWeek.all = dayOfWeek.weekdays === 0x7f;
    } else {
      sets[name] = sorted;
    }
  }
  const years = sets.year!;
  const weeks = sets.week!;
  return {
    second: sets.second!,
    minute: sets.minute!,
    hour: sets.hour!,
    month: sets.month!,
    years: years.length === FIELD_FORM_RANGES.year.max - FIELD_FORM_RANGES.year.min + 1 ? null : years,
    weeks: weeks.length === 53 ? null : weeks,
    dayOfMonth,
    dayOfWeek,
    fixedTime,
    forceAnd: true,
  };
}

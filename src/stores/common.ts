/**
 * Helpers shared by the store implementations.
 * @module
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomFillSync } from 'node:crypto';
import { TickworkError, show } from '../core/errors.js';
import type { JobRecord, RunRecord, RunStatus } from '../core/structures.js';
import { triggerFromJSON } from '../triggers/index.js';
import type { TriggerJSON } from '../triggers/trigger.js';
import { MAX_DURATION, MAX_INSTANT, MIN_INSTANT, integer, oneOf } from '../core/validate.js';
import type { JobChanges, JobFilter, JobSort, StoreChange } from './store.js';

/** JSON with object keys sorted, so equal values give equal strings. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)),
      );
    }
    return v;
  });
}

/** The largest job `version`: PostgreSQL stores it as an `integer`. */
export const MAX_VERSION = 2_147_483_647;

/** The version after `v`: one more, or 1 after {@link MAX_VERSION} (a compare-and-set needs only a change). */
export function nextVersion(v: number): number {
  return v >= MAX_VERSION ? 1 : v + 1;
}

/**
 * Whether two serialised triggers describe the same schedule: the same JSON, or the same once each is read
 * and written again (JSON stored by an earlier version, such as a time zone kept as it was typed,
 * `europe/berlin` or `Zulu`, where a trigger now writes `Europe/Berlin` or `UTC`). JSON that cannot be read
 * compares by its text alone.
 */
export function sameTrigger(a: TriggerJSON, b: TriggerJSON): boolean {
  if (stableStringify(a) === stableStringify(b)) return true;
  try {
    return stableStringify(triggerFromJSON(a).toJSON()) === stableStringify(triggerFromJSON(b).toJSON());
  } catch {
    return false;
  }
}

/**
 * Whether `replace` of `existing` by `job` would change nothing: the same definition (name, task, trigger, args
 * and policy, compared as JSON), `existing` not quarantined (a replace ends a quarantine), and `job` does not
 * pause a job that is running (a paused job stays paused
 * under `replace`, see {@link replacementOf}; a job that is not paused keeps its `nextRunTime`). Stores then
 * write nothing and announce nothing ({@link AddJobResult} `unchanged`): every process of a deployment can
 * re-add its jobs at boot without a write, a version bump or a wake-up of the others per job.
 */
export function unchangedByReplace(existing: JobRecord, job: JobRecord): boolean {
  return (
    (existing.paused || !job.paused) &&
    existing.quarantine === null &&
    existing.name === job.name &&
    existing.taskId === job.taskId &&
    existing.maxInstances === job.maxInstances &&
    existing.misfireGraceTime === job.misfireGraceTime &&
    existing.coalesce === job.coalesce &&
    existing.jitter === job.jitter &&
    existing.timeout === job.timeout &&
    stableStringify(existing.retry) === stableStringify(job.retry) &&
    stableStringify(existing.args) === stableStringify(job.args) &&
    sameTrigger(existing.trigger, job.trigger)
  );
}

/**
 * The record `replace` stores over `existing`: `job`'s definition, with what belongs to the stored job rather
 * than to its definition kept. A paused job stays paused (`nextRunTime` null: pausing is an operator's
 * decision, which re-adding the jobs at boot must not undo; `resumeJob` resumes it, from the new trigger); a
 * job that is not paused keeps its `nextRunTime` while its trigger is unchanged (fire times owed are not
 * erased); the creation time is kept and the version incremented. `job` with `paused: true` pauses it.
 * A quarantined job (`quarantine` set, or a row that cannot be decoded: its trigger the `__invalid__`
 * placeholder) takes `job`'s state, `nextRunTime` included, and its quarantine ends: the new definition
 * repairs it.
 */
export function replacementOf(existing: JobRecord, job: JobRecord): JobRecord {
  // A job paused because it could not be planned (quarantined: its stored row could not be read, its trigger
  // threw) is not an operator's pause: the definition that replaces it brings it back.
  const quarantined = existing.quarantine !== null || isInvalidTrigger(existing.trigger);
  const paused = (existing.paused && !quarantined) || job.paused;
  // (a quarantine cleared the stored next run time: the definition's first fire time stands)
  const keepNext = !paused && !quarantined && sameTrigger(existing.trigger, job.trigger);
  return {
    ...job,
    paused,
    nextRunTime: paused ? null : keepNext ? existing.nextRunTime : job.nextRunTime,
    quarantine: null,
    version: nextVersion(existing.version),
    // (an undecodable created_at reads as the epoch: the replacement writes its own)
    createdAt:
      isInvalidTrigger(existing.trigger) && existing.createdAt.getTime() === 0
        ? job.createdAt
        : existing.createdAt,
  };
}

const copyDate = (d: Date | null): Date | null => (d === null ? null : new Date(d.getTime()));

/**
 * A copy of a job record that shares nothing mutable with the original (args are copied one level deep).
 * The trigger JSON is shared: stores treat it as immutable (see {@link freezeTrigger}).
 */
export function cloneJob(job: JobRecord): JobRecord {
  return {
    ...job,
    args: [...job.args],
    retry: job.retry ? { ...job.retry } : null,
    nextRunTime: copyDate(job.nextRunTime),
    createdAt: new Date(job.createdAt.getTime()),
    updatedAt: new Date(job.updatedAt.getTime()),
  };
}

/** A copy of a run record. */
export function cloneRun(run: RunRecord): RunRecord {
  return {
    ...run,
    scheduledFireTime: new Date(run.scheduledFireTime.getTime()),
    notBefore: new Date(run.notBefore.getTime()),
    leaseExpiresAt: copyDate(run.leaseExpiresAt),
    startedAt: copyDate(run.startedAt),
    finishedAt: copyDate(run.finishedAt),
    createdAt: new Date(run.createdAt.getTime()),
    error: run.error ? { ...run.error } : null,
  };
}

/** Deep-freezes trigger JSON so it can be shared between records without copying. */
export function freezeTrigger(trigger: TriggerJSON): TriggerJSON {
  if (Object.isFrozen(trigger)) return trigger;
  const walk = (v: unknown): void => {
    if (v && typeof v === 'object' && !Object.isFrozen(v)) {
      Object.freeze(v);
      for (const x of Object.values(v)) walk(x);
    }
  };
  const copy = structuredClone(trigger);
  walk(copy);
  return copy;
}

/**
 * `type` of the placeholder trigger a persistent store returns for a stored job it cannot decode (see
 * {@link invalidTrigger}).
 */
export const INVALID_TRIGGER_TYPE = '__invalid__';

/**
 * The placeholder trigger of a stored job whose JSON columns cannot be decoded (a row written by hand or by a
 * newer version): `{ type: '__invalid__', version: 0, raw, field, error }`, where `raw` is the stored trigger
 * text, `field` the column that failed (`trigger`, `args` or `retry`) and `error` the parser's message.
 * `triggerFromJSON` rejects it (format version 0), so the scheduler's planner quarantines the job (pauses
 * it) instead of the whole batch failing; the stored row itself is never rewritten or deleted by a read.
 */
export function invalidTrigger(raw: string, field: string, error: string): TriggerJSON {
  return { type: INVALID_TRIGGER_TYPE, version: 0, raw, field, error };
}

/** Whether `trigger` is the placeholder of an undecodable stored job. */
export function isInvalidTrigger(trigger: TriggerJSON): boolean {
  return trigger.type === INVALID_TRIGGER_TYPE;
}

/** Parses one stored JSON column; `{ ok: false }` with the parser's message instead of throwing. */
export function parseJsonColumn(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  if (text === '[]') return { ok: true, value: [] }; // most jobs' args
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/** JSON text of a run's return value, or `null` when it has none or it does not serialise. */
export function resultToJson(result: unknown): string | null {
  if (result === undefined) return null;
  try {
    return JSON.stringify(result) ?? null;
  } catch {
    return null;
  }
}

/** Columns of a stored job, as both persistent stores name them. */
export interface JobColumns {
  id: string;
  name: string;
  task_id: string;
  trigger: string;
  args: string;
  max_instances: number;
  misfire_grace_time: number | null;
  coalesce: boolean | number;
  jitter: number | null;
  timeout: number | null;
  retry: string | null;
  paused: boolean | number;
  next_run_time: Date | number | null;
  quarantine: string | null;
  version: number;
  created_at: Date | number;
  updated_at: Date | number;
}

/**
 * A stored time: a `Date` (PostgreSQL timestamps) or epoch ms as a number. Anything else (SQLite text
 * written by hand: `''` or `'0x10'`, which `Number()` would read as 0 and 16) is an invalid date.
 */
const toDate = (v: Date | number): Date =>
  v instanceof Date ? v : typeof v === 'number' ? new Date(v) : new Date(Number.NaN);

/**
 * Decodes a stored job row (`parsedTrigger`: the row's trigger text parsed already, by a caller that caches
 * it). Never throws for bad JSON: a row whose `trigger`, `args` or `retry` cannot be
 * parsed (or whose trigger is not an object with a string `type`) gets an {@link invalidTrigger} placeholder,
 * `args` `[]` and `retry` `null`, so one bad row cannot break a listing or a firing batch.
 */
export function decodeJob(row: JobColumns, parsedTrigger?: TriggerJSON): JobRecord {
  let trigger: TriggerJSON | null = null;
  let args: unknown[] = [];
  let retry: JobRecord['retry'] = null;
  let bad: { field: string; error: string } | null = null;
  const t = parsedTrigger ? { ok: true as const, value: parsedTrigger } : parseJsonColumn(row.trigger);
  if (!t.ok) bad = { field: 'trigger', error: t.error };
  else if (
    t.value === null ||
    typeof t.value !== 'object' ||
    Array.isArray(t.value) ||
    typeof (t.value as TriggerJSON).type !== 'string'
  ) {
    bad = { field: 'trigger', error: 'not an object with a string `type`' };
  } else trigger = t.value as TriggerJSON;
  const a = parseJsonColumn(row.args);
  if (!a.ok) bad ??= { field: 'args', error: a.error };
  else if (!Array.isArray(a.value)) bad ??= { field: 'args', error: 'not an array' };
  else args = a.value;
  if (row.retry !== null) {
    const r = parseJsonColumn(row.retry);
    if (!r.ok) bad ??= { field: 'retry', error: r.error };
    else if (r.value !== null) {
      const error = retryError(r.value);
      if (error !== null) bad ??= { field: 'retry', error };
      else retry = r.value as JobRecord['retry'];
    }
  }
  // The other columns are typed in PostgreSQL but not in SQLite (a hand-written 'one' or '2024-01-01'):
  // a value that is not what the store writes makes the row undecodable too, with a harmless stand-in.
  const d: Decoding = { bad };
  const id = textColumn(d, 'id', row.id);
  const coalesce = booleanColumn(d, 'coalesce', row.coalesce);
  const paused = booleanColumn(d, 'paused', row.paused);
  const name = textColumn(d, 'name', row.name);
  const taskId = textColumn(d, 'task_id', row.task_id);
  const maxInstances = numberColumn(d, 'max_instances', row.max_instances, 1, true);
  // Durations: what the options accept (at most 10^14 ms).
  const misfireGraceTime =
    row.misfire_grace_time === null
      ? null
      : numberColumn(d, 'misfire_grace_time', row.misfire_grace_time, 0, false, MAX_DURATION);
  const jitter = row.jitter === null ? null : numberColumn(d, 'jitter', row.jitter, 0, false, MAX_DURATION);
  const timeout =
    row.timeout === null ? null : numberColumn(d, 'timeout', row.timeout, 1, false, MAX_DURATION);
  const version = numberColumn(d, 'version', row.version, -Number.MAX_SAFE_INTEGER, true);
  const nextRunTime = row.next_run_time === null ? null : timeColumn(d, 'next_run_time', row.next_run_time);
  const createdAt = timeColumn(d, 'created_at', row.created_at);
  const updatedAt = timeColumn(d, 'updated_at', row.updated_at);
  bad = d.bad;
  if (bad) trigger = invalidTrigger(row.trigger, bad.field, bad.error);
  return {
    id,
    name,
    taskId,
    trigger: trigger!,
    args: bad ? [] : args,
    maxInstances: maxInstances ?? 1,
    misfireGraceTime,
    coalesce,
    jitter,
    timeout,
    retry: bad ? null : retry,
    paused,
    nextRunTime,
    quarantine: typeof row.quarantine === 'string' ? row.quarantine : null,
    version: version ?? 0,
    createdAt: createdAt ?? new Date(0),
    updatedAt: updatedAt ?? new Date(0),
  };
}

/** The first column of a row found undecodable, while {@link decodeJob} reads it. */
export interface Decoding {
  bad: { field: string; error: string } | null;
}

/** A numeric column's value, or `null` (and `d.bad` set, if first) when it is not one tickwork writes. */
function numberColumn(
  d: Decoding,
  field: string,
  v: unknown,
  min: number,
  integral = false,
  max = Infinity,
): number | null {
  // Only a number: `Number()` would also read text such as '0x1' or ' ', which the SQL compare-and-set on the
  // column then never matches.
  const n = typeof v === 'number' ? v : NaN;
  if (!Number.isFinite(n) || n < min || n > max) {
    d.bad ??= { field, error: `not a number from ${min} to ${max}: ${show(v)}` };
    return null;
  }
  if (integral && !Number.isSafeInteger(n)) d.bad ??= { field, error: `not an integer: ${show(v)}` };
  return n;
}

/**
 * A boolean column's value: a boolean (PostgreSQL) or 0/1 (SQLite); anything else (a hand-written 'no') is
 * read as `true` with `d.bad` set, if first.
 */
function booleanColumn(d: Decoding, field: string, v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 0 || v === 1) return v === 1;
  d.bad ??= { field, error: `not a boolean (0 or 1): ${show(v)}` };
  return true;
}

/**
 * A text column's value; for one that is not text (a SQLite BLOB written by hand), its bytes read as UTF-8
 * and `d.bad` set, if first.
 */
export function textColumn(d: Decoding, field: string, v: unknown): string {
  if (typeof v === 'string') return v;
  d.bad ??= { field, error: `not text: ${Buffer.isBuffer(v) ? 'a BLOB' : show(v)}` };
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

/** A time column's value, or `null` (and `d.bad` set, if first) when it is not a time. */
export function timeColumn(d: Decoding, field: string, v: Date | number): Date | null {
  const t = toDate(v);
  const ms = t.getTime();
  // Years 0000 to 9999 (what tickwork writes): a time beyond them (1e20 ms, the year 280000) is no time
  // either, and one past JavaScript's range is an Invalid Date.
  if (!Number.isFinite(ms) || ms < MIN_INSTANT || ms > MAX_INSTANT) {
    d.bad ??= { field, error: `not a time: ${show(v)}` };
    return null;
  }
  return t;
}

/** Why a stored retry policy is not one tickwork writes (all five fields, in range), or `null`. */
function retryError(v: unknown): string | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not an object';
  const r = v as Record<string, unknown>;
  const ms = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x >= 0;
  if (!Number.isSafeInteger(r.attempts) || (r.attempts as number) < 1)
    return '`attempts` is not an integer >= 1';
  if (r.backoff !== 'fixed' && r.backoff !== 'exponential')
    return '`backoff` is not "fixed" or "exponential"';
  if (!ms(r.delay)) return '`delay` is not a number of milliseconds';
  if (!ms(r.maxDelay)) return '`maxDelay` is not a number of milliseconds';
  if (typeof r.jitter !== 'boolean') return '`jitter` is not a boolean';
  return null;
}

/** Columns of a stored run, as both persistent stores name them. */
export interface RunColumns {
  id: string;
  job_id: string;
  task_id: string;
  scheduled_fire_time: Date | number;
  not_before: Date | number;
  status: string;
  manual: boolean | number;
  attempt: number;
  owner: string | null;
  lease_expires_at: Date | number | null;
  started_at: Date | number | null;
  finished_at: Date | number | null;
  error: string | null;
  result: string | null;
  created_at: Date | number;
}

/** Decodes a stored run row; bad `error` or `result` JSON never throws (the raw text is kept as the message). */
export function decodeRun(row: RunColumns): RunRecord {
  let error: RunRecord['error'] = null;
  if (row.error !== null) {
    const e = parseJsonColumn(row.error);
    error =
      e.ok && e.value !== null && typeof e.value === 'object'
        ? (e.value as RunRecord['error'])
        : { name: 'Error', message: row.error };
  }
  // A time that is not one (written by hand: SQLite's 'garbage', PostgreSQL's 'infinity') reads as the epoch,
  // or null where null is allowed, and the run's error says which column: one bad row must not break a
  // listing of runs.
  const d: Decoding = { bad: null };
  const record: RunRecord = {
    id: row.id,
    jobId: row.job_id,
    taskId: row.task_id,
    scheduledFireTime: timeColumn(d, 'scheduled_fire_time', row.scheduled_fire_time) ?? new Date(0),
    notBefore: timeColumn(d, 'not_before', row.not_before) ?? new Date(0),
    status: row.status as RunRecord['status'],
    manual: Boolean(row.manual),
    attempt: Number(row.attempt),
    owner: row.owner,
    leaseExpiresAt:
      row.lease_expires_at === null ? null : timeColumn(d, 'lease_expires_at', row.lease_expires_at),
    startedAt: row.started_at === null ? null : timeColumn(d, 'started_at', row.started_at),
    finishedAt: row.finished_at === null ? null : timeColumn(d, 'finished_at', row.finished_at),
    error,
    createdAt: timeColumn(d, 'created_at', row.created_at) ?? new Date(0),
  };
  if (
    d.bad !== null &&
    (record.error === null || record.status === 'pending' || record.status === 'running')
  ) {
    // The marker the scheduler checks before starting a run (it is cancelled, never run with a stand-in
    // time); the run's own error, if it had one (a retry's), is kept in the message. An ended run keeps its
    // recorded error.
    const own = record.error === null ? '' : `; its error: ${record.error.message}`;
    record.error = {
      name: 'UnreadableRun',
      message: `the stored ${d.bad.field} cannot be read: ${d.bad.error}${own}`,
    };
  }
  if (row.result !== null) {
    const r = parseJsonColumn(row.result);
    if (r.ok) record.result = r.value;
  }
  return record;
}

/** Statuses of runs still counting against `maxInstances`, as an SQL list. */
export const ACTIVE_SQL = `('pending', 'running')`;

/** `JOB_CONFLICT` for `addJob` with the `error` policy. */
export function conflictError(id: string): TickworkError {
  return new TickworkError('JOB_CONFLICT', `A job with id "${id}" exists already`, {
    field: 'id',
    value: id,
  });
}

/** `JOB_NOT_FOUND`. */
export function notFound(id: string): TickworkError {
  return new TickworkError('JOB_NOT_FOUND', `No job with id "${id}"`, { field: 'id', value: id });
}

/** `JOB_VERSION_CONFLICT` for `updateJob` with an `expectedVersion`. */
export function versionConflict(id: string, actual: number, expected: number): TickworkError {
  return new TickworkError(
    'JOB_VERSION_CONFLICT',
    `Job "${id}" changed meanwhile (version ${actual}, expected ${expected})`,
    { field: 'version', value: expected },
  );
}

/** A deep copy of a job record (trigger and args included), for records handed back to callers. */
export function copyJob(job: JobRecord): JobRecord {
  return {
    ...job,
    trigger: structuredClone(job.trigger),
    args: structuredClone(job.args),
    retry: job.retry ? { ...job.retry } : null,
    nextRunTime: job.nextRunTime && new Date(job.nextRunTime.getTime()),
    createdAt: new Date(job.createdAt.getTime()),
    updatedAt: new Date(job.updatedAt.getTime()),
  };
}

/** A new run record as the firing step or a manual run creates it (times in epoch ms). */
export function newRunRecord(
  id: string,
  job: { id: string; taskId: string },
  sft: number,
  notBefore: number,
  status: RunStatus,
  manual: boolean,
  finished: number | null,
  now: number,
): RunRecord {
  return {
    id,
    jobId: job.id,
    taskId: job.taskId,
    scheduledFireTime: new Date(sft),
    notBefore: new Date(notBefore),
    status,
    manual,
    attempt: 0,
    owner: null,
    leaseExpiresAt: null,
    startedAt: null,
    finishedAt: finished === null ? null : new Date(finished),
    error: null,
    createdAt: new Date(now),
  };
}

/** The SQL column of each field `Store.updateJob` may change (the same in every SQL store). */
export const CHANGE_COLUMNS: Record<keyof JobChanges, string> = {
  name: 'name',
  taskId: 'task_id',
  trigger: 'trigger',
  args: 'args',
  maxInstances: 'max_instances',
  misfireGraceTime: 'misfire_grace_time',
  coalesce: 'coalesce',
  jitter: 'jitter',
  timeout: 'timeout',
  retry: 'retry',
  paused: 'paused',
  nextRunTime: 'next_run_time',
};

/** The orders of `JobFilter.sort`. */
export const JOB_SORTS: readonly JobSort[] = ['id', 'nextRunTime', 'name'];

/**
 * Checks the paging fields of a `JobFilter` (`sort`, `offset`, `limit`) and resolves to its sort.
 * @throws TickworkError `INVALID_OPTION` naming the field.
 */
export function checkJobPage(filter: JobFilter): JobSort {
  if (filter.offset !== undefined) integer(filter.offset, 'offset', 0);
  if (filter.limit !== undefined) integer(filter.limit, 'limit', 0);
  return filter.sort === undefined ? 'id' : oneOf(filter.sort, 'sort', JOB_SORTS);
}

/**
 * Compares two strings by code point: the order of their UTF-8 bytes, which is that of SQLite's `BINARY` and
 * PostgreSQL's `"C"` collations (JavaScript's `<` compares UTF-16 code units, which puts U+E000–U+FFFF after
 * the characters outside the BMP).
 */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (U+D800–U+DFFF, halves of code points >= U+10000) go after U+E000–U+FFFF.
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

type Sortable = Pick<JobRecord, 'id' | 'name' | 'nextRunTime'>;

/**
 * The order of `JobFilter.sort` (what the SQL stores' `ORDER BY` gives): `id`; `nextRunTime` earliest first,
 * none last, ties by id; `name`, ties by id.
 */
export function jobComparator(sort: JobSort = 'id'): (a: Sortable, b: Sortable) => number {
  const byId = (a: Sortable, b: Sortable) => compareCodePoints(a.id, b.id);
  switch (sort) {
    case 'nextRunTime':
      return (a, b) => {
        const x = a.nextRunTime?.getTime() ?? Infinity;
        const y = b.nextRunTime?.getTime() ?? Infinity;
        return x !== y ? (x < y ? -1 : 1) : byId(a, b);
      };
    case 'name':
      return (a, b) => compareCodePoints(a.name, b.name) || byId(a, b);
    default:
      return byId;
  }
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const pool = new Uint8Array(4096);
let poolAt = pool.length;

/**
 * A UUID version 7 (RFC 9562): 48 bits of Unix time in milliseconds, then random bits. Run ids made at
 * about the same time sort together, so a database inserts them next to each other in its primary-key
 * index (random version 4 ids touch a random index page per insert).
 */
export function uuidv7(ms: number = Date.now()): string {
  if (poolAt + 10 > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const r = pool;
  const i = poolAt;
  poolAt += 10;
  const hi = Math.floor(ms / 0x1000000); // the top 24 of 48 bits
  const lo = ms % 0x1000000;
  return (
    HEX[(hi >>> 16) & 0xff]! +
    HEX[(hi >>> 8) & 0xff]! +
    HEX[hi & 0xff]! +
    HEX[(lo >>> 16) & 0xff]! +
    '-' +
    HEX[(lo >>> 8) & 0xff]! +
    HEX[lo & 0xff]! +
    '-' +
    HEX[0x70 | (r[i]! & 0x0f)]! +
    HEX[r[i + 1]!]! +
    '-' +
    HEX[0x80 | (r[i + 2]! & 0x3f)]! +
    HEX[r[i + 3]!]! +
    '-' +
    HEX[r[i + 4]!]! +
    HEX[r[i + 5]!]! +
    HEX[r[i + 6]!]! +
    HEX[r[i + 7]!]! +
    HEX[r[i + 8]!]! +
    HEX[r[i + 9]!]!
  );
}

/**
 * Creates directory `dir` and its missing parents, one level at a time from the nearest one that exists
 * (Node's recursive `mkdirSync` never returns for some paths, e.g. under `/proc`).
 * @throws the file system's error (`ENOENT`, `EACCES`, `ENOTDIR` when `dir` or a parent is a file, ...).
 */
export function ensureDirectory(dir: string): void {
  if (existsSync(dir)) {
    if (statSync(dir).isDirectory()) return;
    throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}'`), {
      code: 'ENOTDIR',
      path: dir,
    });
  }
  const parent = dirname(dir);
  if (parent !== dir) ensureDirectory(parent);
  try {
    mkdirSync(dir);
  } catch (err) {
    if ((err as { code?: string }).code !== 'EEXIST') throw err; // created meanwhile
  }
}

/**
 * Calls each change listener with `change`; a listener that throws is skipped (notifications are hints: a
 * failing listener must not break the store).
 */
export function emitChange(listeners: Iterable<(change: StoreChange) => void>, change: StoreChange): void {
  for (const l of listeners) {
    try {
      l(change);
    } catch {
      // a hint only
    }
  }
}

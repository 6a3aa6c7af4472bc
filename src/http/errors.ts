/**
 * Error responses of the HTTP API. Scheduler errors keep their `TickworkError` code and status
 * (`ERROR_CODES`); the codes below exist only at the HTTP layer. `docs/http.md` lists both, and a test
 * keeps that table and {@link HTTP_ERROR_CODES} in step.
 * @module
 */
import { closest } from '../core/validate.js';
import type { ZodError } from 'zod';
import { TickworkError, show, type ErrorDetails } from '../core/errors.js';
import { INTEGER_BOUND } from './schemas.js';

/** Codes that only the HTTP API answers with, with their HTTP status. */
export const HTTP_ERROR_CODES = {
  UNAUTHORIZED: { status: 401, description: 'No bearer token, or one that is not configured.' },
  FORBIDDEN: { status: 403, description: 'The token’s role may not do this (mutations need `admin`).' },
  ROUTE_NOT_FOUND: { status: 404, description: 'No route has this path.' },
  RUN_NOT_FOUND: { status: 404, description: 'No run has the given id.' },
  METHOD_NOT_ALLOWED: { status: 405, description: 'The path exists but not with this method.' },
  PAYLOAD_TOO_LARGE: { status: 413, description: 'The request body is larger than `bodyLimit`.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, description: 'A request body that is not `application/json`.' },
  INVALID_JSON: { status: 400, description: 'The request body is not valid JSON.' },
  TOO_MANY_STREAMS: { status: 503, description: 'Too many `GET /events` streams are open.' },
  INTERNAL_ERROR: { status: 500, description: 'An unexpected error; the server logged it.' },
} as const;

/** A code of {@link HTTP_ERROR_CODES}. */
export type HttpErrorCode = keyof typeof HTTP_ERROR_CODES;

/** An HTTP-layer error: a code of {@link HTTP_ERROR_CODES}, or a scheduler code with another status. */
export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: string,
    message: string,
    readonly details: ErrorDetails = {},
    status?: number,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = status ?? HTTP_ERROR_CODES[code as HttpErrorCode]?.status ?? 500;
  }
}

/**
 * A JSON response (`undefined` → no body). BigInts become strings; other non-JSON values are dropped; an
 * object that contains itself (a memory store's job args or run result may) is cut at the repeat, which
 * becomes the string `"[Circular]"`, and nesting deeper than 64 levels is cut as `"[Too deep]"`.
 */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  if (body === undefined) return new Response(null, { status, headers });
  let text: string;
  try {
    text = JSON.stringify(body, bigintsAsStrings);
  } catch {
    // A cycle (TypeError) or nesting too deep for the stack (RangeError): cut both.
    text = JSON.stringify(body, cutCycles());
  }
  return new Response(text, {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}

const bigintsAsStrings = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? v.toString() : v);

/** Nesting kept by {@link json} when a value cannot be serialised whole (the library's limit for args). */
const MAX_JSON_NESTING = 64;

/** A `JSON.stringify` replacer like {@link bigintsAsStrings} that also replaces a value by `"[Circular]"` where
 * it is its own ancestor. */
function cutCycles(): (this: unknown, key: string, value: unknown) => unknown {
  const ancestors: unknown[] = [];
  return function (this: unknown, _key: string, value: unknown): unknown {
    if (typeof value === 'bigint') return value.toString();
    if (typeof value !== 'object' || value === null) return value;
    // `this` is the object holding `value`: drop the ancestors that are not on its path.
    while (ancestors.length > 0 && ancestors[ancestors.length - 1] !== this) ancestors.pop();
    if (ancestors.includes(value)) return '[Circular]';
    if (ancestors.length > MAX_JSON_NESTING) return '[Too deep]';
    ancestors.push(value);
    return value;
  };
}

/** The error response for `err`: its code, message and details; unexpected errors become 500. */
export function errorResponse(err: unknown, log: (err: unknown) => void): Response {
  if (err instanceof ApiError) {
    return errorJson(err.code, err.message, err.details, err.status, err.headers);
  }
  if (err instanceof TickworkError) return errorJson(err.code, err.message, err.details, err.status);
  log(err);
  return json({ code: 'INTERNAL_ERROR', message: 'Internal error', details: {} }, 500);
}

/**
 * An error body; when `details` cannot be serialised (a `value` nested too deep for `JSON.stringify`, a
 * cycle), it is sent with only its `field`, so the answer keeps its code, status and shape.
 */
function errorJson(
  code: string,
  message: string,
  details: ErrorDetails,
  status: number,
  headers: Record<string, string> = {},
): Response {
  try {
    JSON.stringify(details, bigintsAsStrings); // throws for a cycle or nesting too deep
    return json({ code, message, details }, status, headers);
  } catch {
    const field = typeof details.field === 'string' ? { field: details.field } : {};
    return json({ code, message, details: field }, status, headers);
  }
}

/**
 * The first problem of a zod error as an error in the house shape, naming the field (`trigger.seconds`,
 * `maxInstances`, the query parameter): `UNKNOWN_OPTION` for an unknown key, `INVALID_OPTION` otherwise.
 * `prefix` is prepended to field names (`trigger`); for a `query`, the field is the parameter's name.
 */
export function validationError(
  error: ZodError,
  prefix = '',
  query: Record<string, string> | null = null,
  keysAt?: (path: readonly PropertyKey[]) => readonly string[] | undefined,
): ApiError {
  let first = error.issues[0];
  if (!first) return new ApiError('INVALID_OPTION', 'Invalid request', {}, 400);
  // A missing field beside an unknown key of the same object is most likely that key misspelt (`triger`
  // for `trigger`): the unknown key is reported, with its near name, rather than the missing one.
  if ((first as { input?: unknown }).input === undefined && first.path.length > 0) {
    const parent = first.path.slice(0, -1);
    const unknown = error.issues.find(
      (i) =>
        i.code === 'unrecognized_keys' &&
        i.path.length === parent.length &&
        i.path.every((p, n) => p === parent[n]),
    );
    if (unknown) first = unknown;
  }
  const issue = specific(first);
  const join = (path: readonly PropertyKey[]): string =>
    [prefix, ...(query ? path.slice(0, 1) : path).map(String)].filter((p) => p !== '').join('.');
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    const field = join([...issue.path, key]);
    // The nearest known key of that object, when there is one (`?limt=5`: `limit`).
    const known = keysAt?.(issue.path);
    const near = known ? closest(key, known) : null;
    const hint = near === null ? '' : `; did you mean \`${join([...issue.path, near])}\`?`;
    return new ApiError('UNKNOWN_OPTION', `Unknown option \`${field}\`${hint}`, { field }, 400);
  }
  const field = join(issue.path) || 'body';
  const input = (issue as { input?: unknown }).input;
  const sent = query !== null && issue.path.length > 0 ? query[String(issue.path[0])] : undefined;
  if (sent !== undefined && typeof input === 'number') {
    // A query integer that is not one (`limit=+5`: the coercion made it NaN) is reported as sent.
    if (Number.isNaN(input)) {
      return new ApiError(
        'INVALID_OPTION',
        `Expected \`${field}\` to be an integer in decimal digits, got \`${show(sent)}\``,
        { field, value: sent },
        400,
      );
    }
    // Digits out of range are shown as sent (`99999999999999999999`, not `1e+20`); beyond the safe integers
    // the value in the details is a BigInt (a string in the JSON body), never a rounded number.
    if (/^-?\d+$/.test(sent)) {
      const n = Number(sent);
      const value = Number.isSafeInteger(n) ? n : BigInt(sent);
      return new ApiError(
        'INVALID_OPTION',
        `Expected \`${field}\` to be ${expectation(issue)}, got \`${String(value)}\``,
        { field, value },
        400,
      );
    }
  }
  const value = input;
  // The library's message shape: Expected `maxInstances` to be an integer >= 1, got `0`.
  const got = value === undefined ? '' : `, got \`${show(value)}\``;
  return new ApiError(
    'INVALID_OPTION',
    `Expected \`${field}\` to be ${expectation(issue)}${got}`,
    value === undefined ? { field } : { field, value },
    400,
  );
}

type Issue = ZodError['issues'][number];

/**
 * The issue to report for `issue`: for a union none of whose options matched, the problem inside the option
 * the value came closest to (`retry.backoff`, when `retry` was an object with a bad `backoff`), with the
 * full path; for an unknown discriminator (`trigger.type`), the discriminator's value. Other issues as they
 * are.
 */
function specific(issue: Issue): Issue {
  if (issue.code !== 'invalid_union') return issue;
  const u = issue as Issue & {
    errors?: Issue[][];
    discriminator?: string;
    options?: unknown[];
    input?: unknown;
  };
  if (u.discriminator !== undefined && Array.isArray(u.options)) {
    const input = u.input as Record<string, unknown> | null | undefined;
    const value = input !== null && typeof input === 'object' ? input[u.discriminator] : undefined;
    const path = issue.path.at(-1) === u.discriminator ? issue.path : [...issue.path, u.discriminator];
    return { ...issue, code: 'invalid_value', values: u.options, path, input: value } as unknown as Issue;
  }
  // An option that failed below its root (the value had the option's type) says the most.
  const inner = (u.errors ?? []).map((e) => e[0]).find((e) => e !== undefined && e.path.length > 0);
  if (inner !== undefined) return specific({ ...inner, path: [...issue.path, ...inner.path] } as Issue);
  const types = (u.errors ?? [])
    .map((e) => e[0])
    .filter((e): e is Issue => e?.code === 'invalid_type')
    .map((e) => String((e as { expected?: unknown }).expected).replace(/^int$/, 'integer'));
  if (types.length === 0) return issue;
  return { ...issue, code: 'invalid_type', expected: types, input: u.input } as unknown as Issue;
}

/** What a zod issue asked for, in the words of the library's messages. */
function expectation(issue: ZodError['issues'][number]): string {
  const i = issue as unknown as Record<string, unknown>;
  const bound = (op: string) => {
    const n = String(i.minimum ?? i.maximum);
    if (i.origin === 'string') return `a string of ${op} ${n} characters`;
    if (i.origin === 'array') return `an array of ${op} ${n} items`;
    return `${i.message === INTEGER_BOUND ? 'an integer' : 'a number'} ${op} ${n}`;
  };
  switch (issue.code) {
    case 'too_small':
      return bound(i.inclusive === false ? '>' : '>=');
    case 'too_big':
      return bound(i.inclusive === false ? '<' : '<=');
    case 'invalid_format':
      return i.format === 'datetime' ? 'an ISO 8601 date-time with an offset' : `a valid ${String(i.format)}`;
    case 'invalid_type': {
      if (i.input === undefined) return 'given';
      if (i.expected === 'int' || i.message === INTEGER_BOUND) return 'an integer';
      const types = Array.isArray(i.expected) ? (i.expected as string[]) : [String(i.expected)];
      return `of type ${types.length > 1 ? `${types.slice(0, -1).join(', ')} or ${types.at(-1)}` : types[0]}`;
    }
    case 'invalid_value':
      return `one of ${(i.values as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return `valid (${issue.message})`;
  }
}

/**
 * Error codes and the error class every part of tickwork throws.
 *
 * One registry (after Fastify's `FST_ERR_*`): each code has a message template and the HTTP status the API
 * answers with. `docs/errors.md` lists the same codes; a test keeps the two in step. Callers branch on
 * {@link TickworkError.code}, which is stable across releases; messages may be reworded.
 *
 * @module
 */

/** Every stable error code, with its HTTP status and a one-line meaning. */
export const ERROR_CODES = {
  INVALID_OPTION: { status: 400, description: 'An option or argument has the wrong type or value.' },
  UNKNOWN_OPTION: { status: 400, description: 'An options object has a key that the API does not know.' },
  INVALID_TRIGGER: {
    status: 400,
    description: 'A trigger cannot be built from the given parameters or JSON.',
  },
  INVALID_CRON: { status: 400, description: 'A cron expression cannot be parsed.' },
  INVALID_TIMEZONE: { status: 400, description: 'A time zone is not a known IANA name.' },
  TRIGGER_NEVER_FIRES: {
    status: 400,
    description: 'A trigger has no fire time now or in the future (up to the end of the year 9999).',
  },
  JOB_NOT_FOUND: { status: 404, description: 'No job has the given id.' },
  JOB_CONFLICT: { status: 409, description: 'A job with the given id exists already.' },
  JOB_VERSION_CONFLICT: {
    status: 409,
    description: 'The job changed since it was read (compare-and-set failed).',
  },
  JOB_UNREADABLE: {
    status: 409,
    description: 'The stored job cannot be read (it is quarantined); repair its row or re-add the job.',
  },
  RUN_UNREADABLE: {
    status: 409,
    description: 'A stored run cannot be read (a time column holds no time); it is cancelled, never started.',
  },
  TASK_NOT_FOUND: { status: 404, description: 'No task with the given id is defined in this process.' },
  TASK_CONFLICT: { status: 409, description: 'A different function is already defined under this task id.' },
  ANONYMOUS_TASK: {
    status: 400,
    description: 'A job refers to an anonymous function where a task id is needed.',
  },
  MAX_INSTANCES_REACHED: {
    status: 409,
    description: 'The job has reached its maximum number of running instances.',
  },
  SCHEDULER_NOT_RUNNING: { status: 409, description: 'The operation needs a started scheduler.' },
  SCHEDULER_ALREADY_RUNNING: { status: 409, description: 'The scheduler was started already.' },
  SCHEDULER_SHUT_DOWN: { status: 409, description: 'The scheduler was shut down and cannot be used again.' },
  RUN_TIMED_OUT: { status: 500, description: 'A run exceeded its timeout; its AbortSignal was fired.' },
  SHUTDOWN_TIMEOUT: {
    status: 500,
    description: 'Running jobs did not finish within the shutdown timeout and were aborted.',
  },
  STORE_ERROR: { status: 503, description: 'The job store failed or cannot be reached.' },
  WORKER_EXITED: {
    status: 500,
    description: 'The worker thread running a task ended before the task returned.',
  },
  EXECUTOR_CLOSED: { status: 409, description: 'The worker pool was closed; it runs no more tasks.' },
} as const;

/** A stable error code; see {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Details attached to an error: the offending field or option, the value, and code-specific facts. */
export interface ErrorDetails {
  /** The option, argument or field that is wrong (`maxInstances`, `trigger.seconds`, `minute`). */
  field?: string;
  /** The offending value, as given. */
  value?: unknown;
  /** For parse errors: the offending token. */
  token?: string;
  /** For parse errors: 0-based character offset of the token in the input. */
  position?: number;
  [key: string]: unknown;
}

/**
 * The error tickwork throws. `code` is stable and documented in `docs/errors.md`; `status` is the HTTP
 * status the API answers with; `details.field` names the offending option where there is one.
 */
export class TickworkError extends Error {
  /** Stable error code. */
  readonly code: ErrorCode;
  /** HTTP status for this code. */
  readonly status: number;
  /** Offending field, value, token, position. */
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TickworkError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.details = details;
  }

  /** Plain JSON, as the HTTP API sends it. */
  toJSON(): { code: ErrorCode; message: string; details: ErrorDetails } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** Whether `err` is a {@link TickworkError}, optionally with the given code. */
export function isTickworkError(err: unknown, code?: ErrorCode): err is TickworkError {
  return err instanceof TickworkError && (code === undefined || err.code === code);
}

/** Renders a value for an error message: strings quoted, others as JSON where possible. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** `INVALID_OPTION` in the house shape: Expected `field` to be WHAT, got `VALUE`. */
export function invalidOption(field: string, expected: string, value: unknown): TickworkError {
  return new TickworkError(
    'INVALID_OPTION',
    `Expected \`${field}\` to be ${expected}, got \`${show(value)}\``,
    {
      field,
      value,
    },
  );
}

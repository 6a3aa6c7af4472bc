/**
 * The logging interface: the subset of pino's API tickwork uses, so a pino logger (or Fastify's
 * `fastify.log`) fits as it is.
 * @module
 */
import { pino } from 'pino';

/** A log method: `(message)` or `(object, message)`, as pino's. */
export interface LogFn {
  (msg: string): void;
  (obj: object, msg?: string): void;
}

/** A pino-compatible logger. */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  /** Whether `level` is logged (pino's); lets callers skip building messages nobody reads. */
  isLevelEnabled?(level: string): boolean;
}

/**
 * The default logger: pino at level `warn` to standard output, named `tickwork`, so only what needs
 * attention shows (skipped and missed runs, failures), like APScheduler with Python's default logging.
 * Pass `logger` (for instance `fastify.log`, or `pino({ level: 'info' })`) to see every run.
 */
export function defaultLogger(): Logger {
  return pino({ name: 'tickwork', level: 'warn' });
}

/** A logger that drops everything. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  isLevelEnabled: () => false,
};

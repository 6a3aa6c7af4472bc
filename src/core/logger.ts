/**
 * The logging interface: the subset of pino's API tickwork uses, so a pino logger (or Fastify's
 * `fastify.log`) fits as it is.
 * @module
 */
import { pino, stdSerializers, type DestinationStream } from 'pino';

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
 * The serializers tickwork's own pino loggers use (the default logger and the server's): pino's `err`
 * serializer appends the messages of an error's `cause` chain to its message, and tickwork's errors already
 * name their cause in their message, so a log line would say the cause twice. `errWithCause` keeps the
 * message as it is and logs the cause as a nested object (`err.cause`, with its own `code` and stack).
 * Pass them to a logger of your own: `pino({ serializers: logSerializers })`, or Fastify's
 * `logger: { serializers: logSerializers }`.
 */
export const logSerializers = { err: stdSerializers.errWithCause };

/**
 * The default logger: pino at level `warn` to standard output (or to `destination`), named `tickwork`, with
 * {@link logSerializers}, so only what needs attention shows (skipped and missed runs, failures), like
 * APScheduler with Python's default logging. Pass `logger` (for instance `fastify.log`, or
 * `pino({ level: 'info' })`) to see every run.
 */
export function defaultLogger(destination?: DestinationStream): Logger {
  const options = { name: 'tickwork', level: 'warn', serializers: logSerializers };
  return destination === undefined ? pino(options) : pino(options, destination);
}

/** A logger that drops everything. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  isLevelEnabled: () => false,
};

/**
 * `logger` with each method guarded: a call that throws (a broken destination, a serializer that fails on a
 * value) loses that line and nothing else. The scheduler logs through such a guard, so that a logger's error
 * never fails `start()`, leaves a run unrecorded or becomes an unhandled rejection. `isLevelEnabled` that
 * throws reads as `true`.
 */
export function guardLogger(logger: Logger): Logger {
  const guard =
    (level: 'debug' | 'info' | 'warn' | 'error'): LogFn =>
    (...args: unknown[]) => {
      try {
        (logger[level] as (...a: unknown[]) => void).apply(logger, args);
      } catch {
        // The line is lost.
      }
    };
  const guarded: Logger = {
    debug: guard('debug'),
    info: guard('info'),
    warn: guard('warn'),
    error: guard('error'),
  };
  if (typeof logger.isLevelEnabled === 'function') {
    guarded.isLevelEnabled = (level: string) => {
      try {
        return logger.isLevelEnabled!(level);
      } catch {
        return true;
      }
    };
  }
  return guarded;
}

/**
 * Ties a scheduler to a Node HTTP server: start when it listens, shut down (waiting for running jobs,
 * bounded) when it closes or the process gets SIGINT/SIGTERM. Shared by `tickwork/express` and
 * `tickwork/hono`.
 * @module
 */
import type { Server } from 'node:http';
import { constants } from 'node:os';
import { invalidOption } from '../core/errors.js';
import { checkScheduler, type Scheduler, type ShutdownOptions } from '../core/scheduler.js';
import { boolean, duration, optionsObject, rejectUnknownKeys } from '../core/validate.js';

/** Options of {@link bindLifecycle}. Durations are milliseconds. */
export interface LifecycleOptions {
  /** Signals that shut down gracefully; `[]` for none. @defaultValue `['SIGINT', 'SIGTERM']` */
  signals?: NodeJS.Signals[];
  /** How to shut the scheduler down. @defaultValue `{ wait: true, timeout: 30_000 }` */
  shutdown?: ShutdownOptions;
  /** Start the scheduler paused. @defaultValue false */
  startPaused?: boolean;
  /** Closed first at shutdown, so open event streams do not hold the server open (the API). */
  api?: { close(): void };
  /**
   * After a signal-triggered shutdown, how long open connections may finish before they are closed, in ms.
   * @defaultValue 5,000
   */
  connectionGrace?: number;
  /** Exit the process after a signal-triggered shutdown (code 0, or 1 when shutting down failed). @defaultValue true */
  exit?: boolean;
}

/** What {@link bindLifecycle} returns. */
export interface Lifecycle {
  /** Settles once the scheduler started (rejects if starting failed). */
  readonly started: Promise<void>;
  /**
   * Shuts down: closes `api`, shuts the scheduler down (waiting per `shutdown`), then closes the server.
   * Idempotent; does not exit the process.
   */
  shutdown(): Promise<void>;
  /** Removes the signal and server listeners. */
  dispose(): void;
}

/**
 * Starts `scheduler` when `server` listens (now, if it does already) and shuts it down when the server
 * closes or one of `signals` arrives.
 *
 * @throws TickworkError `INVALID_OPTION` naming `scheduler`, `server` or the option (`signals`,
 * `shutdown.timeout`, ...) that is not what it should be; `UNKNOWN_OPTION` for a key it does not know.
 *
 * @example
 * ```ts
 * const server = app.listen(8000);
 * bindLifecycle(scheduler, server, { api: router.api });
 * ```
 */
export function bindLifecycle(
  scheduler: Scheduler,
  server: Server,
  options: LifecycleOptions = {},
): Lifecycle {
  checkLifecycle(scheduler, server, options);
  const signals = options.signals ?? ['SIGINT', 'SIGTERM'];
  const shutdownOptions: ShutdownOptions = { wait: true, timeout: 30_000, ...options.shutdown };
  const grace = options.connectionGrace ?? 5000;
  let resolveStarted!: () => void;
  let rejectStarted!: (err: unknown) => void;
  const started = new Promise<void>((resolve, reject) => {
    resolveStarted = resolve;
    rejectStarted = reject;
  });
  started.catch(() => {}); // reported through the logger; callers may still await it
  let starting = false;
  const start = (): void => {
    if (starting) return;
    starting = true;
    scheduler.start({ paused: options.startPaused ?? false }).then(resolveStarted, (err: unknown) => {
      scheduler.logger.error({ err }, 'Could not start the scheduler');
      rejectStarted(err);
    });
  };

  let stopping: Promise<void> | null = null;
  const stopScheduler = async (): Promise<void> => {
    options.api?.close();
    if (starting) await started.catch(() => {});
    await scheduler.shutdown(shutdownOptions);
  };
  const shutdown = (): Promise<void> =>
    (stopping ??= (async () => {
      dispose();
      try {
        await stopScheduler();
      } finally {
        if (server.listening) {
          const closed = new Promise<void>((resolve) => server.close(() => resolve()));
          server.closeIdleConnections();
          const timer = setTimeout(() => server.closeAllConnections(), grace);
          timer.unref();
          await closed;
          clearTimeout(timer);
        }
      }
    })());

  const onListening = (): void => start();
  const onClose = (): void => {
    void (stopping ?? stopScheduler()).catch((err: unknown) =>
      scheduler.logger.error({ err }, 'Error while shutting the scheduler down'),
    );
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    scheduler.logger.info(`${signal} received; waiting for running jobs, then closing`);
    shutdown().then(
      () => {
        if (options.exit ?? true) process.exit(0);
      },
      (err: unknown) => {
        scheduler.logger.error({ err }, 'Error while shutting down');
        if (options.exit ?? true) process.exit(1);
      },
    );
  };
  function dispose(): void {
    server.off('listening', onListening);
    for (const s of signals) process.off(s, onSignal);
  }

  server.on('listening', onListening);
  server.once('close', onClose);
  for (const s of signals) process.on(s, onSignal);
  if (server.listening) start();
  return {
    started,
    shutdown,
    dispose() {
      dispose();
      server.off('close', onClose);
    },
  };
}

const LIFECYCLE_KEYS = ['signals', 'shutdown', 'startPaused', 'api', 'connectionGrace', 'exit'];

/**
 * Whether `process.on(s)` listens for signal `s` without throwing: a signal of this platform other than
 * SIGKILL and SIGSTOP (which no process can catch), or SIGBREAK, which Node lets a process listen for on every
 * platform (only Windows sends it: a configuration shared with Windows hosts names it).
 */
function listenable(s: unknown): boolean {
  if (typeof s !== 'string') return false;
  if (s === 'SIGKILL' || s === 'SIGSTOP') return false;
  return s === 'SIGBREAK' || Object.hasOwn(constants.signals, s);
}

/** Checks {@link bindLifecycle}'s arguments before it listens for anything. */
function checkLifecycle(scheduler: unknown, server: unknown, options: unknown): void {
  checkScheduler(scheduler);
  const srv = server as Record<string, unknown> | null;
  if (
    srv === null ||
    typeof srv !== 'object' ||
    !['on', 'off', 'once', 'close', 'closeIdleConnections'].every((m) => typeof srv[m] === 'function')
  ) {
    throw invalidOption('server', 'a Node HTTP server (`http.Server`, what `app.listen()` returns)', server);
  }
  const o = optionsObject(options, 'options');
  rejectUnknownKeys(o, LIFECYCLE_KEYS);
  if (o.signals !== undefined) {
    if (!Array.isArray(o.signals) || !o.signals.every(listenable)) {
      throw invalidOption(
        'signals',
        'an array of signal names a process can listen for, such as ["SIGINT", "SIGTERM"] (not SIGKILL or SIGSTOP)',
        o.signals,
      );
    }
  }
  if (o.shutdown !== undefined) {
    const sh = optionsObject(o.shutdown, 'shutdown');
    rejectUnknownKeys(sh, ['wait', 'timeout'], 'shutdown.');
    if (sh.wait !== undefined) boolean(sh.wait, 'shutdown.wait');
    if (sh.timeout !== undefined) duration(sh.timeout, 'shutdown.timeout');
  }
  if (o.startPaused !== undefined) boolean(o.startPaused, 'startPaused');
  if (o.exit !== undefined) boolean(o.exit, 'exit');
  if (o.connectionGrace !== undefined) duration(o.connectionGrace, 'connectionGrace');
  if (o.api !== undefined) {
    const api = o.api as { close?: unknown } | null;
    if (api === null || typeof api !== 'object' || typeof api.close !== 'function') {
      throw invalidOption('api', 'the API to close first (`router.api`, with a `close()` method)', o.api);
    }
  }
}

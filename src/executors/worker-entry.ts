/**
 * The program of a {@link WorkerPool} thread: runs one task at a time, as the pool asks.
 *
 * Messages in: `{ type: 'run', id, module, export, args, context }` imports `module` (cached by the module
 * loader), calls its export `export` with the args and a task context whose `signal` this thread owns;
 * `{ type: 'abort', id, message, code }` aborts that signal. Out: `{ type: 'done', id, value }` or
 * `{ type: 'error', id, error }` (a plain {@link EventError}).
 * @internal
 * @module
 */
import { parentPort } from 'node:worker_threads';
import { TickworkError } from '../core/errors.js';
import { errorToJSON } from '../core/events.js';

/** A run the pool sends. */
export interface RunMessage {
  type: 'run';
  id: number;
  /** A `file:` URL. */
  module: string;
  export: string;
  args: unknown[];
  context: {
    jobId: string;
    runId: string;
    scheduledFireTime: Date;
    attempt: number;
    idempotencyKey: string;
    manual: boolean;
  };
}

/** The pool aborts the run `id` (its timeout, a lost lease, a shutdown that does not wait). */
export interface AbortMessage {
  type: 'abort';
  id: number;
  name: string;
  message: string;
  code?: string;
}

const port = parentPort;
if (port === null) throw new Error('tickwork: the worker entry runs in a worker thread only');

let current: { id: number; controller: AbortController } | null = null;

port.on('message', (msg: RunMessage | AbortMessage) => {
  if (msg.type === 'abort') {
    if (current?.id === msg.id && !current.controller.signal.aborted) {
      const reason = new Error(msg.message);
      reason.name = msg.name;
      if (msg.code !== undefined) (reason as Error & { code?: string }).code = msg.code;
      current.controller.abort(reason);
    }
    return;
  }
  void run(msg);
});

async function run(msg: RunMessage): Promise<void> {
  const controller = new AbortController();
  current = { id: msg.id, controller };
  try {
    const mod = (await import(msg.module)) as Record<string, unknown>;
    const fn = mod[msg.export];
    if (typeof fn !== 'function') {
      throw new TickworkError(
        'TASK_NOT_FOUND',
        `The module ${msg.module} has no function export "${msg.export}" (it has: ${Object.keys(mod).join(', ') || 'none'})`,
        { field: 'export', value: msg.export },
      );
    }
    const context = { ...msg.context, signal: controller.signal };
    const value: unknown = await (fn as (...a: unknown[]) => unknown)(...msg.args, context);
    try {
      port!.postMessage({ type: 'done', id: msg.id, value });
    } catch (err) {
      // A value the structured clone cannot copy (a function, a class instance with private state...).
      port!.postMessage({
        type: 'error',
        id: msg.id,
        error: {
          name: 'TypeError',
          message: `The task's return value cannot be sent from its worker thread: ${errorToJSON(err).message}`,
        },
      });
    }
  } catch (err) {
    port!.postMessage({ type: 'error', id: msg.id, error: errorToJSON(err) });
  } finally {
    current = null;
  }
}

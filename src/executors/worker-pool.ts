/**
 * The worker-threads executor (`tickwork/workers`): tasks that run in a pool of worker threads, for
 * CPU-bound work that would otherwise hold the event loop (and with it the scheduler's timers, heartbeats
 * and HTTP API). APScheduler's `ProcessPoolExecutor`, for Node.
 *
 * ```ts
 * import { WorkerPool } from 'tickwork/workers';
 *
 * const cpu = new WorkerPool({ size: 2 });
 * scheduler.defineTask('thumbnails', cpu.task(new URL('./tasks/thumbnails.js', import.meta.url)), {
 *   timeout: 60_000,
 * });
 * await scheduler.addJob('thumbnails', 'cron', { minute: '*\/5' });
 * // ...
 * await scheduler.shutdown(); // waits for the runs
 * await cpu.close(); // then stops the threads
 * ```
 *
 * The task module exports the function (`export default async function (...args, context)`); it receives
 * the job's `args` (copied with the structured clone, as `postMessage` does) and a context with the same
 * fields as {@link TaskContext}, whose `signal` fires in the worker thread when the run is aborted (its
 * `timeout`, a lost lease, a shutdown that does not wait). A task that does not return within
 * {@link WorkerPoolOptions.terminateAfter} ms of the abort has its thread terminated: CPU-bound code that
 * never looks at its signal is stopped too, which in-process tasks cannot be.
 * @module
 */
import { availableParallelism } from 'node:os';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { MAX_TIMER_DELAY } from '../core/clock.js';
import { ERROR_CODES, TickworkError, invalidOption, type ErrorCode } from '../core/errors.js';
import type { EventError } from '../core/events.js';
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- for {@link TaskFunction}
import type { TaskContext, TaskFunction } from '../core/scheduler.js';
import { duration, integer, optionsObject, rejectUnknownKeys } from '../core/validate.js';
import type { AbortMessage, RunMessage } from './worker-entry.js';

/** Options of {@link WorkerPool}. Durations are milliseconds. */
export interface WorkerPoolOptions {
  /**
   * Worker threads at most; tasks beyond them wait for a free thread (a run waiting so is aborted as any
   * other: it never starts). Threads start when a task needs one.
   * @defaultValue the machine's available parallelism minus 1 (the event loop's core), at least 1
   */
  size?: number;
  /**
   * How long, in ms, a task may take to return after its run was aborted before its thread is terminated
   * (and replaced at the next task). 0 terminates at once. A thread blocked in a system call (an
   * `execSync` of a program that hangs) ends only when the call returns; a second after the terminate it
   * leaves the pool all the same (no longer counted in `size`, nor waited for by `close()`).
   * @defaultValue 1000
   */
  terminateAfter?: number;
  /** An idle thread is terminated after this many ms; `null` keeps it. @defaultValue 30000 */
  idleTimeout?: number | null;
  /** Memory limits of each thread (Node's `Worker` `resourceLimits`): a task past them fails, its thread ends. */
  resourceLimits?: ResourceLimits;
}

/**
 * The task function {@link WorkerPool.task} makes (a {@link TaskFunction}): called by the scheduler with the
 * job's args and then the {@link TaskContext}; settles with the task's return value or error.
 */
export type WorkerTaskFunction = (...argsThenContext: unknown[]) => Promise<unknown>;

/** What a {@link WorkerPool} is doing. */
export interface WorkerPoolStats {
  /** Threads started and not ended. */
  threads: number;
  /** Threads running a task. */
  busy: number;
  /** Tasks waiting for a free thread. */
  queued: number;
}

interface Slot {
  worker: Worker;
  /** The task it runs, or `null` when idle. */
  task: Pending | null;
  idleTimer: LongTimer | null;
  /** Set once the thread is ending (terminated, crashed): no more tasks go to it. */
  ending: boolean;
}

interface Pending {
  message: RunMessage;
  signal: AbortSignal;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  onAbort: () => void;
  terminateTimer: LongTimer | null;
  settled: boolean;
}

/**
 * How long, in ms, a terminated thread may take to exit before it leaves the pool anyway (see
 * `WorkerPool.end`).
 */
const ABANDON_AFTER = 1000;

/** Whether this module runs from its TypeScript source (through tsx) rather than from `dist/`. */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
/** The entry program, compiled next to this module. */
const ENTRY = new URL(FROM_SOURCE ? './worker-entry.ts' : './worker-entry.js', import.meta.url);

/**
 * A pool of worker threads that runs tasks defined by module (see the module documentation).
 *
 * Failures are the run's: a task that throws fails its run with the task's error (name, message, stack and
 * `code` as thrown in the thread); a thread that ends before its task returns (`process.exit()`, an
 * uncaught exception, its `resourceLimits`, a terminate after an abort) fails it with `WORKER_EXITED`; a
 * module without the export fails it with `TASK_NOT_FOUND`; args the structured clone cannot copy fail it
 * with the clone's `DataCloneError`; a thread Node cannot start fails the task that needed it with Node's
 * error (`ERR_WORKER_INIT_FAILED`). None of them stops the pool or the scheduler.
 */
export class WorkerPool {
  private readonly size: number;
  private readonly terminateAfter: number;
  private readonly idleTimeout: number | null;
  private readonly resourceLimits: ResourceLimits | undefined;
  private readonly slots = new Set<Slot>();
  private readonly queue: Pending[] = [];
  private nextId = 1;
  /** The function made for each module and export: the same one each time (`defineTask` is idempotent). */
  private readonly functions = new Map<string, WorkerTaskFunction>();
  private closed = false;

  /** @throws TickworkError `INVALID_OPTION`, `UNKNOWN_OPTION`. */
  constructor(options: WorkerPoolOptions = {}) {
    const opts = optionsObject(options, 'options');
    rejectUnknownKeys(opts, ['size', 'terminateAfter', 'idleTimeout', 'resourceLimits']);
    this.size =
      options.size === undefined
        ? Math.max(1, availableParallelism() - 1)
        : integer(options.size, 'size', 1, 1024);
    this.terminateAfter =
      options.terminateAfter === undefined ? 1000 : duration(options.terminateAfter, 'terminateAfter');
    this.idleTimeout =
      options.idleTimeout === undefined
        ? 30_000
        : options.idleTimeout === null
          ? null
          : duration(options.idleTimeout, 'idleTimeout');
    if (
      options.resourceLimits !== undefined &&
      (options.resourceLimits === null || typeof options.resourceLimits !== 'object')
    ) {
      throw invalidOption(
        'resourceLimits',
        "an object (Node's Worker resourceLimits)",
        options.resourceLimits,
      );
    }
    this.resourceLimits = options.resourceLimits;
  }

  /**
   * A task function that runs the function `exportName` of `module` in one of the pool's threads: pass it
   * to `scheduler.defineTask(id, fn, options)` (or to `addJob`). Its result is the task's return value
   * (copied back with the structured clone; a persistent store keeps its JSON).
   *
   * @param module the task module: a `URL` (`new URL('./task.js', import.meta.url)`), a `file:` URL string
   *   or an absolute path. Relative paths are refused: a thread would resolve them against tickwork's own
   *   directory, not the caller's.
   * @param exportName the export to call. @defaultValue `'default'`
   * @throws TickworkError `INVALID_OPTION` for a module that is not a URL or an absolute path, or an
   *   `exportName` that is not a non-empty string. Whether the module loads and has the export is found at
   *   the first run (which fails with the loader's error or `TASK_NOT_FOUND`).
   * @returns the same function for the same module and export each time, so defining it again as the same
   *   task is a no-op rather than a `TASK_CONFLICT`.
   */
  task(module: URL | string, exportName = 'default'): WorkerTaskFunction {
    const href = moduleHref(module);
    if (typeof exportName !== 'string' || exportName === '') {
      throw invalidOption('exportName', 'a non-empty string', exportName);
    }
    const key = `${exportName} ${href}`;
    const known = this.functions.get(key);
    if (known) return known;
    const fn: WorkerTaskFunction = (...all) => {
      const context = all[all.length - 1] as TaskContext;
      return this.run(href, exportName, all.slice(0, -1), context);
    };
    // Named after the export (a job added with the function alone takes its task id from the name).
    Object.defineProperty(fn, 'name', { value: exportName === 'default' ? 'workerTask' : exportName });
    this.functions.set(key, fn);
    return fn;
  }

  /** Threads, busy threads and queued tasks, now. */
  get stats(): WorkerPoolStats {
    let busy = 0;
    for (const s of this.slots) if (s.task !== null) busy++;
    return { threads: this.slots.size, busy, queued: this.queue.length };
  }

  /**
   * Terminates every thread and refuses further tasks (`EXECUTOR_CLOSED`); tasks still queued or running
   * fail with `EXECUTOR_CLOSED`. Call it after `scheduler.shutdown()`, which waits for the runs (or aborts
   * them at its timeout). Idempotent.
   */
  async close(): Promise<void> {
    this.closed = true;
    const err = () => new TickworkError('EXECUTOR_CLOSED', 'The worker pool was closed');
    for (const p of this.queue.splice(0)) this.settle(p, err(), true);
    const ending: Promise<unknown>[] = [];
    for (const slot of [...this.slots]) {
      if (slot.task) this.settle(slot.task, err(), true);
      ending.push(this.end(slot));
    }
    await Promise.allSettled(ending);
  }

  private run(module: string, exportName: string, args: unknown[], ctx: TaskContext): Promise<unknown> {
    if (this.closed) {
      return Promise.reject(new TickworkError('EXECUTOR_CLOSED', 'The worker pool was closed'));
    }
    const signal = ctx.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<unknown>((resolve, reject) => {
      const message: RunMessage = {
        type: 'run',
        id: this.nextId++,
        module,
        export: exportName,
        args,
        context: {
          jobId: ctx.jobId,
          runId: ctx.runId,
          scheduledFireTime: ctx.scheduledFireTime,
          attempt: ctx.attempt,
          idempotencyKey: ctx.idempotencyKey,
          manual: ctx.manual,
        },
      };
      const p: Pending = {
        message,
        signal,
        resolve,
        reject,
        onAbort: () => this.abort(p),
        terminateTimer: null,
        settled: false,
      };
      signal.addEventListener('abort', p.onAbort, { once: true });
      this.queue.push(p);
      this.dispatch();
    });
  }

  /** Hands queued tasks to idle threads, starting threads up to `size`. */
  private dispatch(): void {
    while (this.queue.length > 0 && !this.closed) {
      let slot: Slot | undefined;
      for (const s of this.slots) {
        if (s.task === null && !s.ending) {
          slot = s;
          break;
        }
      }
      if (!slot) {
        if (this.slots.size >= this.size) return;
        try {
          slot = this.spawn();
        } catch (err) {
          // Node could not start a thread (ERR_WORKER_INIT_FAILED: out of threads or memory): the task that
          // needed it fails now; left queued, it would have run later on another thread, its run long
          // recorded failed (and retried).
          this.settle(this.queue.shift()!, err, true);
          continue;
        }
      }
      const p = this.queue.shift()!;
      this.start(slot, p);
    }
  }

  private start(slot: Slot, p: Pending): void {
    clearLongTimeout(slot.idleTimer);
    slot.idleTimer = null;
    slot.task = p;
    slot.worker.ref();
    try {
      slot.worker.postMessage(p.message);
    } catch (err) {
      // Args the structured clone cannot copy: this run fails; the thread is still idle.
      slot.task = null;
      this.idle(slot);
      this.settle(p, err, true);
    }
  }

  private spawn(): Slot {
    const options = this.resourceLimits ? { resourceLimits: this.resourceLimits } : {};
    const worker = FROM_SOURCE
      ? // Run from TypeScript source (tickwork's own tests, through tsx): the thread loads tsx first.
        new Worker(
          `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})` +
            `.then((tsx) => tsx.register()).then(() => import(${JSON.stringify(ENTRY.href)}))`,
          { ...options, eval: true },
        )
      : new Worker(ENTRY, options);
    const slot: Slot = { worker, task: null, idleTimer: null, ending: false };
    this.slots.add(slot);
    worker.on(
      'message',
      (
        msg: { type: 'done'; id: number; value: unknown } | { type: 'error'; id: number; error: EventError },
      ) => {
        const p = slot.task;
        // The task's own code may post on the thread's port too (`parentPort.postMessage(anything)`): only
        // the entry's answers to the run going on count.
        if (!p || typeof msg !== 'object' || msg === null || p.message.id !== msg.id) return;
        if (msg.type !== 'done' && msg.type !== 'error') return;
        slot.task = null;
        if (msg.type === 'done') this.settle(p, msg.value, false);
        else this.settle(p, errorFromJSON(msg.error), true);
        if (slot.ending) return;
        this.idle(slot);
        this.dispatch();
      },
    );
    let crash: Error | null = null;
    worker.on('error', (err) => {
      crash = err;
      // The thread is ending ('exit' follows, maybe turns later): no task goes to it meanwhile.
      slot.ending = true;
    });
    worker.on('exit', (code) => {
      slot.ending = true;
      this.slots.delete(slot);
      clearLongTimeout(slot.idleTimer);
      const p = slot.task;
      slot.task = null;
      if (p) {
        const cause = crash ?? undefined;
        this.settle(
          p,
          new TickworkError(
            'WORKER_EXITED',
            `The worker thread running task "${p.message.export}" of ${p.message.module} exited (code ${code})` +
              (crash ? `: ${(crash as Error).message}` : '') +
              ' before the task returned',
            { exitCode: code },
            { cause },
          ),
          true,
        );
      }
      // A thread that ended frees its place: a queued task may start another.
      this.dispatch();
    });
    return slot;
  }

  /** An idle thread does not keep the process alive, and ends after `idleTimeout`. */
  private idle(slot: Slot): void {
    slot.worker.unref();
    if (this.idleTimeout !== null) {
      slot.idleTimer = setLongTimeout(() => void this.end(slot), this.idleTimeout, false);
    }
  }

  /**
   * Terminates the thread. One blocked in a system call (a synchronous read of a pipe, an `execSync` of a
   * program that hangs) ends only when the call returns: after {@link ABANDON_AFTER} ms it leaves the pool
   * all the same, so that it holds neither a place (a new thread may start) nor `close()`.
   */
  private end(slot: Slot): Promise<void> {
    slot.ending = true;
    clearLongTimeout(slot.idleTimer);
    slot.idleTimer = null;
    let timer: NodeJS.Timeout | undefined;
    const abandoned = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ABANDON_AFTER);
    });
    const leave = (): void => {
      clearTimeout(timer);
      // (A thread that exited has left already: its 'exit' listener runs before terminate() resolves.)
      if (this.slots.delete(slot)) {
        slot.worker.unref();
        this.dispatch();
      }
    };
    return Promise.race([slot.worker.terminate(), abandoned]).then(leave, leave);
  }

  /** The run was aborted: a queued task never starts; a running one is told, then terminated. */
  private abort(p: Pending): void {
    if (p.settled) return;
    const i = this.queue.indexOf(p);
    if (i >= 0) {
      this.queue.splice(i, 1);
      this.settle(p, p.signal.reason, true);
      return;
    }
    let slot: Slot | undefined;
    for (const s of this.slots) if (s.task === p) slot = s;
    if (!slot) return;
    const reason = p.signal.reason as { name?: unknown; message?: unknown; code?: unknown } | undefined;
    const message: AbortMessage = {
      type: 'abort',
      id: p.message.id,
      name: typeof reason?.name === 'string' ? reason.name : 'AbortError',
      message: typeof reason?.message === 'string' ? reason.message : 'The run was aborted',
    };
    if (typeof reason?.code === 'string') message.code = reason.code;
    slot.worker.postMessage(message);
    const target = slot;
    p.terminateTimer = setLongTimeout(
      () => {
        if (target.task !== p) return;
        // The task ignored its signal: its thread goes, and with it whatever the task was doing.
        target.task = null;
        this.settle(p, p.signal.reason, true);
        void this.end(target);
      },
      this.terminateAfter,
      true,
    );
  }

  private settle(p: Pending, value: unknown, failed: boolean): void {
    if (p.settled) return;
    p.settled = true;
    p.signal.removeEventListener('abort', p.onAbort);
    clearLongTimeout(p.terminateTimer);
    p.terminateTimer = null;
    if (failed) p.reject(value);
    else p.resolve(value);
  }
}

/** A timer armed by {@link setLongTimeout}. */
interface LongTimer {
  timeout: NodeJS.Timeout | null;
}

/**
 * `setTimeout` for any delay: Node's own fires at once past {@link MAX_TIMER_DELAY} (about 24.8 days), so a
 * longer one (a `terminateAfter` or `idleTimeout` of a month) is armed again for the rest at each step. An
 * unreferenced timer (`ref` false) never keeps the process alive.
 */
function setLongTimeout(callback: () => void, delayMs: number, ref: boolean): LongTimer {
  const timer: LongTimer = { timeout: null };
  const arm = (left: number): void => {
    const step = Math.min(left, MAX_TIMER_DELAY);
    timer.timeout = setTimeout(() => {
      timer.timeout = null;
      if (left > step) arm(left - step);
      else callback();
    }, step);
    if (!ref) timer.timeout.unref();
  };
  arm(delayMs);
  return timer;
}

function clearLongTimeout(timer: LongTimer | null): void {
  if (timer?.timeout) clearTimeout(timer.timeout);
  if (timer) timer.timeout = null;
}

function moduleHref(module: URL | string): string {
  if (module instanceof URL) {
    if (module.protocol !== 'file:')
      throw invalidOption('module', 'a file: URL or an absolute path', module.href);
    return module.href;
  }
  if (typeof module === 'string') {
    if (module.startsWith('file:')) return new URL(module).href;
    if (isAbsolute(module)) return pathToFileURL(module).href;
  }
  throw invalidOption(
    'module',
    "a file: URL or an absolute path (relative to your module: new URL('./task.js', import.meta.url))",
    module,
  );
}

/**
 * The task's error as thrown in its thread: an `Error` with its name, message, stack and code (a
 * `TickworkError` again when it was one).
 */
function errorFromJSON(e: EventError): Error {
  if (e.name === 'TickworkError' && e.code !== undefined && Object.hasOwn(ERROR_CODES, e.code)) {
    const err = new TickworkError(e.code as ErrorCode, e.message);
    if (e.stack !== undefined) err.stack = e.stack;
    else delete err.stack;
    return err;
  }
  const err = new Error(e.message);
  err.name = e.name;
  // A thrown value that is no Error (a string, an object) had no stack: not this module's either.
  if (e.stack !== undefined) err.stack = e.stack;
  else delete err.stack;
  if (e.code !== undefined) (err as Error & { code?: string }).code = e.code;
  return err;
}

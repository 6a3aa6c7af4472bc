// The worker-threads executor: tasks defined by module, run in a pool of threads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { threadId, type Worker } from 'node:worker_threads';
import { isTickworkError, Scheduler, type TaskContext } from '../../src/index.js';
import { WorkerPool, type WorkerPoolOptions } from '../../src/executors/worker-pool.js';
import { ManualClock } from '../../src/testing.js';
import { captureLogger } from '../helpers/logger.js';

const TASKS = new URL('../helpers/worker-tasks.ts', import.meta.url);
const T = Date.parse('2024-01-01T00:00:00Z');

/** A task context as the scheduler gives one, with its own abort controller. */
function context(over: Partial<TaskContext> = {}): { ctx: TaskContext; controller: AbortController } {
  const controller = new AbortController();
  const ctx: TaskContext = {
    jobId: 'job-1',
    runId: 'run-1',
    scheduledFireTime: new Date(T),
    signal: controller.signal,
    attempt: 2,
    idempotencyKey: `job-1@${new Date(T).toISOString()}`,
    manual: false,
    ...over,
  };
  return { ctx, controller };
}

/** Runs `fn` with a new pool, closed after it whatever happens. */
async function withPool(options: WorkerPoolOptions, fn: (pool: WorkerPool) => Promise<void>): Promise<void> {
  const pool = new WorkerPool(options);
  try {
    await fn(pool);
  } finally {
    await pool.close();
  }
}

const code = (c: string) => (e: unknown) => isTickworkError(e) && e.code === c;

test('a task runs its module export in a worker thread with the args and the task context', async () => {
  await withPool({ size: 1 }, async (pool) => {
    const fn = pool.task(TASKS);
    const { ctx } = context();
    const out = (await fn(2, 3, ctx)) as Record<string, unknown>;
    assert.equal(out.sum, 5);
    assert.notEqual(out.threadId, threadId, 'not on the main thread');
    assert.deepEqual(
      {
        jobId: out.jobId,
        runId: out.runId,
        scheduledFireTime: out.scheduledFireTime,
        attempt: out.attempt,
        idempotencyKey: out.idempotencyKey,
        manual: out.manual,
        signal: out.signal,
      },
      {
        jobId: 'job-1',
        runId: 'run-1',
        scheduledFireTime: '2024-01-01T00:00:00.000Z',
        attempt: 2,
        idempotencyKey: 'job-1@2024-01-01T00:00:00.000Z',
        manual: false,
        signal: true,
      },
    );
    assert.deepEqual(pool.stats, { threads: 1, busy: 0, queued: 0 }, 'the thread stays for the next task');
  });
});

test('the event loop goes on while a task computes in its thread', async () => {
  await withPool({ size: 1 }, async (pool) => {
    const pending = pool.task(TASKS, 'busy')(300, context().ctx);
    let settled = false;
    void pending.then(() => (settled = true));
    // A task run in-process would hold the loop until it returned: this turn would come after it.
    await new Promise((r) => setImmediate(r));
    assert.equal(settled, false, 'the main thread turned while the task was still computing');
    assert.equal(pool.stats.busy, 1);
    assert.equal(await pending, 'done');
  });
});

test("a task's error reaches the run as thrown: name, message, stack and code", async () => {
  await withPool({ size: 1 }, async (pool) => {
    await assert.rejects(pool.task(TASKS, 'fails')(context().ctx), (e: Error & { code?: string }) => {
      assert.equal(e.name, 'ThumbnailError');
      assert.equal(e.message, 'no thumbnails today');
      assert.equal(e.code, 'E_THUMB');
      assert.match(e.stack ?? '', /worker-tasks\.ts/, 'the stack points into the task module');
      return true;
    });
  });
});

test('a task that throws what is not an Error fails with that message and no stack (none of the pool)', async () => {
  await withPool({ size: 1 }, async (pool) => {
    await assert.rejects(pool.task(TASKS, 'throwsString')(context().ctx), (e: Error) => {
      assert.equal(e.message, 'no thumbnails today');
      assert.equal(e.stack, undefined, 'as a run records an in-process task throwing it');
      return true;
    });
  });
});

test('a module without the export, or one that does not load, fails the run, not the pool', async () => {
  await withPool({ size: 1 }, async (pool) => {
    await assert.rejects(pool.task(TASKS, 'notAFunction')(context().ctx), code('TASK_NOT_FOUND'));
    await assert.rejects(pool.task(TASKS, 'missing')(context().ctx), code('TASK_NOT_FOUND'));
    await assert.rejects(
      pool.task(new URL('../helpers/no-such-module.js', import.meta.url))(context().ctx),
      (e: Error & { code?: string }) => e.code === 'ERR_MODULE_NOT_FOUND',
    );
    assert.equal(((await pool.task(TASKS)(1, 1, context().ctx)) as { sum: number }).sum, 2, 'still runs');
  });
});

test('an abort reaches the task as its signal; a task that ignores it has its thread terminated', async () => {
  await withPool({ size: 1, terminateAfter: 50 }, async (pool) => {
    // Cooperative: the task rejects with the reason the run was aborted with (name, message and code).
    const { ctx, controller } = context();
    const waiting = pool.task(TASKS, 'waits')(ctx);
    await new Promise((r) => setImmediate(r));
    const reason = Object.assign(new Error('Run of job "j" timed out after 100 ms'), {
      name: 'TickworkError',
      code: 'RUN_TIMED_OUT',
    });
    controller.abort(reason);
    await assert.rejects(waiting, (e: Error & { code?: string }) => {
      assert.equal(e.message, 'Run of job "j" timed out after 100 ms');
      assert.equal(e.code, 'RUN_TIMED_OUT');
      return true;
    });
    assert.equal(pool.stats.threads, 1, 'a task that returned keeps its thread');
    // Deaf to its signal: terminated after terminateAfter; the run fails with the abort reason.
    const spin = context();
    const spinning = pool.task(TASKS, 'spins')(spin.ctx);
    await new Promise((r) => setTimeout(r, 20)); // (real time: the thread has started spinning)
    spin.controller.abort(reason);
    await assert.rejects(spinning, (e: unknown) => e === reason);
    // The pool replaces the thread at the next task.
    assert.equal(((await pool.task(TASKS)(4, 5, context().ctx)) as { sum: number }).sum, 9);
  });
});

test("messages a task posts on the thread's own port are not the pool's: ignored, the run goes on", async () => {
  await withPool({ size: 1 }, async (pool) => {
    assert.equal(await pool.task(TASKS, 'postsToParent')(context().ctx), 'ok');
    assert.deepEqual(pool.stats, { threads: 1, busy: 0, queued: 0 });
  });
});

test('a thread that crashed while idle takes no task in the moment before it exits', async () => {
  await withPool({ size: 1 }, async (pool) => {
    assert.equal(await pool.task(TASKS, 'rejectsLater')(context().ctx), 'returned');
    // The crash is reported ('error') before the thread has exited ('exit'): a task started in between
    // (a timer, a run due then) must go to a new thread, not fail with WORKER_EXITED having never run.
    const [slot] = (pool as unknown as { slots: Set<{ worker: Worker }> }).slots;
    const alive = setTimeout(() => {}, 5000); // (an idle thread keeps nothing alive: the test does)
    try {
      const next = new Promise<unknown>((resolve) =>
        slot!.worker.once('error', () => resolve(pool.task(TASKS)(2, 3, context().ctx))),
      );
      assert.equal(((await next) as { sum: number }).sum, 5);
    } finally {
      clearTimeout(alive);
    }
  });
});

test('a thread that cannot start fails the task that needed it, which never runs later', async () => {
  // Node's Worker throws at once when it cannot start a thread (ERR_WORKER_INIT_FAILED: out of threads or
  // memory); a resourceLimits field that throws when read makes it do so here.
  let failures = 2;
  const resourceLimits = {
    get maxOldGenerationSizeMb(): number {
      if (failures-- > 0) throw new Error('ERR_WORKER_INIT_FAILED: no thread today');
      return 64;
    },
  };
  const ran: unknown[] = [];
  await withPool({ size: 1, resourceLimits }, async (pool) => {
    const add = pool.task(TASKS);
    await assert.rejects(add(1, 1, context().ctx), /no thread today/);
    await assert.rejects(add(2, 2, context().ctx), /no thread today/);
    assert.deepEqual(pool.stats, { threads: 0, busy: 0, queued: 0 }, 'nothing left queued');
    ran.push(((await add(3, 3, context().ctx)) as { sum: number }).sum);
    assert.deepEqual(pool.stats, { threads: 1, busy: 0, queued: 0 });
  });
  assert.deepEqual(ran, [6]);
});

test('a thread that a terminate cannot end (blocked in a system call) leaves the pool a second later', async () => {
  await withPool({ size: 1, terminateAfter: 0 }, async (pool) => {
    await pool.task(TASKS)(0, 0, context().ctx); // the thread is up (loading it takes a moment)
    const blocked = context();
    const running = pool.task(TASKS, 'blocksInSyscall')(3, blocked.ctx);
    await new Promise((r) => setTimeout(r, 200)); // (real time: the thread is in its system call)
    const t0 = performance.now();
    blocked.controller.abort(new Error('timed out'));
    await assert.rejects(running, /timed out/);
    // Its place goes to a new thread about a second after the terminate, not when the call returns (3 s).
    assert.equal(((await pool.task(TASKS)(1, 2, context().ctx)) as { sum: number }).sum, 3);
    const took = performance.now() - t0;
    assert.ok(took < 2500, `the next task ran ${Math.round(took)} ms after the abort`);
    assert.deepEqual(pool.stats, { threads: 1, busy: 0, queued: 0 });
  });
});

test('a terminateAfter or idleTimeout longer than Node allows a timer (2^31-1 ms) is not cut to 1 ms', async () => {
  const month = 30 * 24 * 3_600_000;
  await withPool({ size: 1, terminateAfter: month, idleTimeout: month }, async (pool) => {
    assert.equal(((await pool.task(TASKS)(1, 1, context().ctx)) as { sum: number }).sum, 2);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(pool.stats.threads, 1, 'the idle thread stays');
    const spin = context();
    let settled = false;
    const spinning = pool.task(TASKS, 'spins')(spin.ctx);
    spinning.then(
      () => (settled = true),
      () => (settled = true),
    );
    await new Promise((r) => setTimeout(r, 20));
    spin.controller.abort(new Error('aborted'));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(settled, false, 'the thread is not terminated before terminateAfter');
    assert.deepEqual(pool.stats, { threads: 1, busy: 1, queued: 0 });
  });
});

test('tasks beyond the pool size wait for a thread; an abort while waiting means it never starts', async () => {
  await withPool({ size: 1 }, async (pool) => {
    const first = pool.task(TASKS, 'busy')(200, context().ctx);
    const queued = context();
    const second = pool.task(TASKS, 'exits')(queued.ctx); // would end its thread if it ran
    const third = pool.task(TASKS)(1, 2, context().ctx);
    assert.deepEqual(pool.stats, { threads: 1, busy: 1, queued: 2 });
    queued.controller.abort(new Error('removed'));
    await assert.rejects(second, /removed/);
    assert.equal(pool.stats.queued, 1);
    assert.equal(await first, 'done');
    const out = (await third) as { sum: number; threadId: number };
    assert.equal(out.sum, 3);
    assert.equal(pool.stats.threads, 1, 'the task that would have exited never ran');
  });
});

test('a thread that ends under its task (process.exit) fails the run with WORKER_EXITED; the pool goes on', async () => {
  await withPool({ size: 1 }, async (pool) => {
    await assert.rejects(pool.task(TASKS, 'exits')(context().ctx), (e: unknown) => {
      assert.ok(isTickworkError(e, 'WORKER_EXITED'));
      assert.equal(e.details.exitCode, 3);
      return true;
    });
    assert.equal(pool.stats.threads, 0);
    assert.equal(((await pool.task(TASKS)(2, 2, context().ctx)) as { sum: number }).sum, 4);
  });
});

test('a task past its resourceLimits ends its thread: WORKER_EXITED naming the cause; the pool goes on', async () => {
  await withPool({ size: 1, resourceLimits: { maxOldGenerationSizeMb: 32 } }, async (pool) => {
    await assert.rejects(pool.task(TASKS, 'hog')(context().ctx), (e: unknown) => {
      assert.ok(isTickworkError(e, 'WORKER_EXITED'));
      assert.match(e.message, /out of memory|memory limit/i);
      return true;
    });
    assert.equal(((await pool.task(TASKS)(1, 2, context().ctx)) as { sum: number }).sum, 3);
  });
});

test('values the structured clone cannot copy fail the run with a clear error', async () => {
  await withPool({ size: 1 }, async (pool) => {
    await assert.rejects(
      pool.task(TASKS, 'returnsFunction')(context().ctx),
      /return value cannot be sent from its worker thread/,
    );
    await assert.rejects(
      pool.task(TASKS)(() => 1, 2, context().ctx),
      (e: Error) => e.name === 'DataCloneError',
    );
    assert.equal(pool.stats.busy, 0, 'the thread is free again');
    assert.equal(((await pool.task(TASKS)(2, 5, context().ctx)) as { sum: number }).sum, 7);
  });
});

test('close() fails queued and running tasks with EXECUTOR_CLOSED, ends the threads, refuses new tasks', async () => {
  const pool = new WorkerPool({ size: 1 });
  const running = pool.task(TASKS, 'spins')(context().ctx);
  const queued = pool.task(TASKS)(1, 1, context().ctx);
  const failures = [
    assert.rejects(running, code('EXECUTOR_CLOSED')),
    assert.rejects(queued, code('EXECUTOR_CLOSED')),
  ];
  await pool.close();
  await Promise.all(failures);
  assert.deepEqual(pool.stats, { threads: 0, busy: 0, queued: 0 });
  await assert.rejects(pool.task(TASKS)(1, 1, context().ctx), code('EXECUTOR_CLOSED'));
  await pool.close(); // idempotent
});

test('bad options and module references are INVALID_OPTION / UNKNOWN_OPTION naming the field', () => {
  const bad = (fn: () => unknown, c: string, field: string) =>
    assert.throws(fn, (e: unknown) => isTickworkError(e) && e.code === c && e.details.field === field);
  bad(() => new WorkerPool({ size: 0 }), 'INVALID_OPTION', 'size');
  bad(() => new WorkerPool({ terminateAfter: -1 }), 'INVALID_OPTION', 'terminateAfter');
  bad(() => new WorkerPool({ idleTimeout: 'soon' as never }), 'INVALID_OPTION', 'idleTimeout');
  bad(() => new WorkerPool({ resourceLimits: 5 as never }), 'INVALID_OPTION', 'resourceLimits');
  bad(() => new WorkerPool({ threads: 2 } as never), 'UNKNOWN_OPTION', 'threads');
  const pool = new WorkerPool();
  bad(() => pool.task('./tasks/report.js'), 'INVALID_OPTION', 'module');
  bad(() => pool.task(new URL('https://example.com/task.js')), 'INVALID_OPTION', 'module');
  bad(() => pool.task(TASKS, ''), 'INVALID_OPTION', 'exportName');
  assert.equal(
    pool.task(TASKS.pathname),
    pool.task(TASKS),
    'an absolute path; one function per module and export',
  );
  assert.notEqual(pool.task(TASKS, 'busy'), pool.task(TASKS));
});

test('with a scheduler: the run records the worker task result; a timeout terminates a task deaf to its signal', async () => {
  const clock = new ManualClock(T);
  const pool = new WorkerPool({ size: 1, terminateAfter: 0 });
  const scheduler = new Scheduler({ clock, logger: captureLogger() });
  try {
    scheduler.defineTask('add', pool.task(TASKS));
    scheduler.defineTask('spin', pool.task(TASKS, 'spins'), { timeout: 100, retry: null });
    await scheduler.addJob('add', 'date', { id: 'sum', runDate: new Date(T + 60_000), args: [20, 22] });
    await scheduler.addJob('spin', 'date', { id: 'spin', runDate: new Date(T + 60_000) });
    await scheduler.start();
    const executed = new Promise((resolve) => scheduler.once('job:executed', resolve));
    await scheduler.runJob('sum');
    await executed;
    const [sum] = await scheduler.getRuns({ jobId: 'sum' });
    assert.equal(sum?.status, 'succeeded');
    assert.equal((sum?.result as { sum: number }).sum, 42);
    const failed = new Promise((resolve) => scheduler.once('job:error', resolve));
    await scheduler.runJob('spin');
    await clock.advance(100); // the run's timeout, by the scheduler's clock
    await failed;
    const [spin] = await scheduler.getRuns({ jobId: 'spin' });
    assert.equal(spin?.status, 'timed-out');
    // The thread that spun is gone (terminateAfter 0): the pool runs the next task on a new one.
    const again = new Promise((resolve) => scheduler.once('job:executed', resolve));
    await scheduler.runJob('sum');
    await again;
    const runs = await scheduler.getRuns({ jobId: 'sum', status: 'succeeded' });
    assert.equal(runs.length, 2);
  } finally {
    await scheduler.shutdown({ wait: false });
    await pool.close();
  }
});

test('the built package (`tickwork/workers`) runs a JavaScript task module', async () => {
  const specifier = 'tickwork/workers'; // the package's own exports map, resolved to dist/
  const built = (await import(specifier)) as { WorkerPool: typeof WorkerPool };
  const pool = new built.WorkerPool({ size: 1 });
  try {
    const out = await pool.task(new URL('../helpers/worker-task.mjs', import.meta.url), 'square')(
      7,
      context().ctx,
    );
    assert.deepEqual(
      { ...(out as object), threadId: undefined },
      {
        square: 49,
        threadId: undefined,
        jobId: 'job-1',
      },
    );
    assert.notEqual((out as { threadId: number }).threadId, threadId);
  } finally {
    await pool.close();
  }
});

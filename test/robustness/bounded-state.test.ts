// What a scheduler keeps per job must go with the job: one-shot jobs that fire and are removed, one after
// another for the life of a process, must not leave anything behind in the scheduler's own maps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore, Scheduler, silentLogger } from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';
import { captureLogger } from '../helpers/logger.js';

/** The sizes of the scheduler's per-job maps. */
function perJob(scheduler: Scheduler): { triggers: number; missingTasks: number } {
  const s = scheduler as unknown as { triggerCache: Map<string, unknown>; missingTaskReported: Set<string> };
  return { triggers: s.triggerCache.size, missingTasks: s.missingTaskReported.size };
}

test('SQLite: date jobs that fire and are removed (by their plan, removeJob, removeAllJobs) leave no trigger behind', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tickwork-bounded-'));
  const clock = new ManualClock('2024-01-01T00:00:00Z', { settleTurns: 5 });
  // At level info, every run's start and end are logged with the job's trigger.
  const scheduler = new Scheduler({
    clock,
    logger: captureLogger(),
    store: new SqliteStore({ path: join(dir, 'j.db') }),
  });
  let runs = 0;
  scheduler.defineTask('once', (n: number) => {
    runs++;
    if (n % 2 === 0) throw new Error('even'); // a failure's error line names the trigger too
  });
  await scheduler.start();
  try {
    for (let i = 0; i < 50; i++) {
      await scheduler.addJob('once', 'date', {
        runDate: new Date(clock.now() + 10),
        id: `once-${i}`,
        args: [i],
      });
      // Listed (the API, the dashboard) before it fires.
      assert.equal((await scheduler.getJob(`once-${i}`))?.id, `once-${i}`);
      await clock.advance(20);
    }
    assert.equal(runs, 50);
    assert.equal(await scheduler.countJobs(), 0);
    assert.deepEqual(perJob(scheduler), { triggers: 0, missingTasks: 0 });

    for (let i = 0; i < 20; i++) {
      await scheduler.addJob('once', 'interval', { seconds: 1, id: `gone-${i}`, args: [1] });
      await scheduler.getJob(`gone-${i}`);
      await clock.advance(1000);
      await scheduler.removeJob(`gone-${i}`);
    }
    await scheduler.addJob('once', 'interval', { seconds: 1, id: 'last', args: [1] });
    await clock.advance(1000);
    await scheduler.removeAllJobs();
    assert.deepEqual(perJob(scheduler), { triggers: 0, missingTasks: 0 });
  } finally {
    await scheduler.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('jobs of functions of their own (each its own task) do not make the task list anew at every definition', async () => {
  // Each anonymous function becomes a task of its own. The list of task ids handed to the store used to be
  // made again after every definition, and the memory store's set of it too: O(tasks) per job added, so
  // adding n such jobs cost O(n^2) (20,000 date jobs took minutes instead of seconds).
  const store = new MemoryStore();
  const lists = new Set<string[]>();
  const acquire = store.acquireRuns.bind(store);
  store.acquireRuns = (owner, now, limit, lease, taskIds) => {
    if (taskIds) lists.add(taskIds);
    return acquire(owner, now, limit, lease, taskIds);
  };
  const clock = new ManualClock('2024-01-01T00:00:00Z', { settleTurns: 5 });
  const scheduler = new Scheduler({ clock, store, logger: silentLogger });
  const taskSet = () => (store as unknown as { lastTaskIds: { set: Set<string> } | null }).lastTaskIds?.set;
  let runs = 0;
  await scheduler.start();
  try {
    let set: Set<string> | undefined;
    for (let i = 0; i < 20; i++) {
      await scheduler.addJob(() => void runs++, 'date', { runDate: new Date(clock.now() + 10) });
      await clock.advance(20);
      set ??= taskSet();
      assert.equal(taskSet(), set, 'the store extends its set of task ids');
    }
    assert.equal(runs, 20);
    assert.equal(lists.size, 1, 'one list of task ids, extended as tasks are defined');
    const [list] = lists;
    assert.deepEqual(list, scheduler.getTaskIds());
    assert.deepEqual([...set!].sort(), scheduler.getTaskIds().sort());
  } finally {
    await scheduler.shutdown();
  }
});

test("memory store: tasks made for jobs' own functions are dropped once nothing refers to them; jobs added before start, jobs being stored and a run waiting for its retry keep theirs", async () => {
  const store = new MemoryStore();
  // Every job write waits a turn before reaching the store, as a store of another process would: tasks of
  // jobs not stored yet must survive the sweeps other addJob calls run meanwhile.
  const addJob = store.addJob.bind(store);
  store.addJob = async (job, conflict) => {
    await new Promise((resolve) => setImmediate(resolve));
    return addJob(job, conflict);
  };
  const clock = new ManualClock('2024-01-01T00:00:00Z', { settleTurns: 5 });
  const scheduler = new Scheduler({ clock, store, logger: silentLogger });
  const ran = new Set<number>();
  const oneShot = (i: number) =>
    scheduler.addJob(() => void ran.add(i), 'date', { runDate: new Date(clock.now() + 10) });
  // Before start: 1,500 jobs held by the scheduler until start() stores them.
  for (let i = 0; i < 1500; i++) await oneShot(i);
  await scheduler.start();
  try {
    // A job whose function fails once; its retry waits 10 minutes, its run active all along.
    let calls = 0;
    await scheduler.addJob(
      () => {
        if (++calls === 1) throw new Error('first attempt fails');
      },
      'date',
      {
        id: 'retried',
        runDate: new Date(clock.now() + 10),
        retry: { attempts: 2, backoff: 'fixed', delay: 600_000 },
      },
    );
    await clock.advance(20);
    assert.equal(ran.size, 1500, 'the jobs added before start ran');
    assert.equal(calls, 1);
    // 3,000 more, 1,500 of them added side by side (all being stored at once), the rest one by one.
    await Promise.all(Array.from({ length: 1500 }, (_, k) => oneShot(1500 + k)));
    await clock.advance(20);
    for (let i = 3000; i < 4500; i++) {
      await oneShot(i);
      await clock.advance(20);
    }
    assert.equal(ran.size, 4500, 'every job ran: none lost its task to a sweep');
    // Without the sweeps there would be 4,501 tasks; they are dropped once their number doubles.
    const tasks = scheduler.getTaskIds().length;
    assert.ok(tasks <= 2050, `${tasks} tasks kept`);
    // The retry's task was kept: the retry runs the function.
    await clock.advance(600_000);
    assert.equal(calls, 2);
    const [run] = await scheduler.getRuns({ jobId: 'retried' });
    assert.equal(run!.status, 'succeeded');
    assert.equal(run!.attempt, 2);
  } finally {
    await scheduler.shutdown();
  }
});

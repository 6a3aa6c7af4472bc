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

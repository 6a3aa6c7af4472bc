// At start, runs whose lease ran out while no process was running are reaped before anything fires: an owed
// fire time is not skipped for maxInstances because of a run of a process that died.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IntervalTrigger, MemoryStore, Scheduler, type TaskContext } from '../../src/index.js';
import { job } from '../contract/store-contract.js';
import { ManualClock } from '../../src/testing.js';
import { captureLogger } from '../helpers/logger.js';
import { at } from '../helpers/time.js';

const T = at('2024-01-01T00:00:00Z');

test('the first pass after start reaps expired leases before firing: the owed run starts, not skipped', async () => {
  const store = new MemoryStore();
  await store.start({ nodeId: 'seed', now: () => T });
  const trigger = new IntervalTrigger({ seconds: 10, startDate: new Date(T) });
  const record = job('j', {
    name: 'j',
    taskId: 'work',
    trigger: trigger.toJSON(),
    args: [],
    misfireGraceTime: null,
    timeout: null,
    retry: null,
    nextRunTime: new Date(T),
    createdAt: new Date(T),
    updatedAt: new Date(T),
  });
  await store.addJob(record, 'error');
  // A process fired T and started its run with a 5 s lease, then died.
  await store.fireDueJobs(new Date(T), 10, () => ({
    runs: [{ scheduledFireTime: new Date(T), status: 'pending', notBefore: new Date(T) }],
    nextRunTime: new Date(T + 10_000),
    remove: false,
  }));
  const [dead] = await store.acquireRuns('dead-node', new Date(T), 1, 5000);
  assert.ok(dead);

  // 12 s later (the lease ended at T + 5 s) a new process starts: T + 10 s is owed.
  const clock = new ManualClock(T + 12_000);
  const scheduler = new Scheduler({ clock, store, logger: captureLogger() });
  const ran: string[] = [];
  scheduler.defineTask('work', (ctx: TaskContext) => void ran.push(ctx.scheduledFireTime.toISOString()));
  const skipped: string[] = [];
  scheduler.on('job:max-instances', (e) => skipped.push(e.scheduledFireTime));
  await scheduler.start();
  await clock.advance(0);
  assert.deepEqual(skipped, [], 'the owed fire time was not skipped');
  assert.deepEqual(ran, [new Date(T + 10_000).toISOString()]);
  assert.equal((await store.getRun(dead.run.id))!.status, 'abandoned');
  await scheduler.shutdown();
});

// Jobs added before start() with replaceExisting, as every boot of a server does: those already stored and
// unchanged are read in bulk and left as they are (no write, no wake-up); changed ones are replaced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore, Scheduler } from '../../src/index.js';
import type { JobRecord } from '../../src/core/structures.js';
import type { AddJobResult, ConflictPolicy, JobFilter } from '../../src/stores/store.js';
import { ManualClock } from '../../src/testing.js';
import { captureLogger } from '../helpers/logger.js';
import { at } from '../helpers/time.js';

const T = at('2024-01-01T00:00:00Z');

class Counting extends MemoryStore {
  adds: string[] = [];
  reads = 0;
  override async addJob(job: JobRecord, conflict: ConflictPolicy): Promise<AddJobResult> {
    this.adds.push(job.id);
    return super.addJob(job, conflict);
  }
  override async getJobs(filter?: JobFilter): Promise<JobRecord[]> {
    this.reads++;
    return super.getJobs(filter);
  }
}

test('a boot re-adding 1,200 stored jobs: unchanged ones take no addJob, keep their times; a changed one is replaced', async () => {
  const store = new Counting();
  const clock = new ManualClock(T);
  const boot = async (seconds: (i: number) => number) => {
    const s = new Scheduler({ clock, store, logger: captureLogger() });
    s.defineTask('work', () => {});
    const outcomes = new Map<string, string>();
    s.on('job:added', (e) => outcomes.set(e.jobId, e.outcome));
    for (let i = 0; i < 1200; i++) {
      await s.addJob('work', 'interval', { id: `j${i}`, seconds: seconds(i), replaceExisting: true });
    }
    await s.start({ paused: true });
    return { s, outcomes };
  };
  const first = await boot(() => 60);
  assert.equal(store.adds.length, 1200);
  await first.s.shutdown();
  const before = await store.getJob('j0');

  await clock.advanceTo(T + 30_000); // a restart 30 s later
  store.adds = [];
  store.reads = 0;
  const second = await boot((i) => (i === 7 ? 120 : 60)); // j7's trigger changed
  assert.deepEqual(store.adds, ['j7'], 'only the changed job went through addJob');
  assert.equal(store.reads, 3, '1,200 ids read 500 at a time');
  assert.equal(second.outcomes.get('j0'), 'unchanged');
  assert.equal(second.outcomes.get('j7'), 'replaced');
  const after = await store.getJob('j0');
  assert.equal(after!.version, before!.version);
  assert.equal(after!.nextRunTime!.getTime(), before!.nextRunTime!.getTime(), 'the owed time is kept');
  assert.equal((await store.getJob('j7'))!.trigger.milliseconds, 120_000);
  await second.s.shutdown();
});

test('a job paused by an operator stays paused across a boot that re-adds it (changed or not); resumeJob resumes it from the new trigger', async () => {
  const store = new MemoryStore();
  const clock = new ManualClock(T);
  const boot = async (seconds: number, beforeStart: boolean) => {
    const s = new Scheduler({ clock, store, logger: captureLogger() });
    s.defineTask('work', () => {});
    const outcomes = new Map<string, string>();
    s.on('job:added', (e) => outcomes.set(e.jobId, e.outcome));
    if (!beforeStart) await s.start({ paused: true });
    await s.addJob('work', 'interval', { id: 'p', seconds, replaceExisting: true });
    if (beforeStart) await s.start({ paused: true });
    return { s, outcomes };
  };
  const first = await boot(60, true);
  await first.s.pauseJob('p');
  await first.s.shutdown();

  await clock.advanceTo(T + 30_000);
  const second = await boot(60, true); // the same definition, added before start
  assert.equal(second.outcomes.get('p'), 'unchanged');
  assert.deepEqual([(await store.getJob('p'))!.paused, (await store.getJob('p'))!.nextRunTime], [true, null]);
  await second.s.shutdown();

  const third = await boot(120, false); // a new trigger, added after start
  assert.equal(third.outcomes.get('p'), 'replaced');
  const p = (await store.getJob('p'))!;
  assert.deepEqual([p.paused, p.nextRunTime, p.trigger.milliseconds], [true, null, 120_000]);
  await clock.advanceTo(T + 40_000);
  await third.s.resumeJob('p');
  // Resumed from now (T + 40 s) by the new 120 s interval.
  assert.equal((await store.getJob('p'))!.nextRunTime!.getTime(), T + 160_000);
  await third.s.shutdown();
});

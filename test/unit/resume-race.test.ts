// resumeJob computes the next run time from the trigger it read: written over another version of the job (a
// trigger changed by another process in between), it would fire the job at a time off its new trigger.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CronTrigger, DateTrigger, IntervalTrigger, Scheduler, silentLogger } from '../../src/index.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';
import type { ManualClock } from '../../src/testing.js';
import { onSqlite } from '../helpers/sqlite.js';
import { at } from '../helpers/time.js';

/**
 * Another process on the same database file (started, paused), and a hook on `scheduler`'s store that makes
 * the other process run `change` just after `scheduler` first reads a job. `raced()` tells whether it ran.
 */
async function otherProcessAfterRead(
  scheduler: Scheduler,
  clock: ManualClock,
  path: string,
  change: (other: Scheduler) => Promise<unknown>,
): Promise<{ other: Scheduler; raced: () => boolean }> {
  const other = new Scheduler({ clock, store: new SqliteStore({ path }), logger: silentLogger });
  other.defineTask('t', () => {});
  await other.start({ paused: true });
  const store = (scheduler as unknown as { store: SqliteStore }).store;
  const getJob = store.getJob.bind(store);
  let raced = false;
  store.getJob = async (id) => {
    const job = await getJob(id);
    if (!raced) {
      raced = true;
      await change(other);
    }
    return job;
  };
  return { other, raced: () => raced };
}

test('resumeJob racing a trigger change from another process computes the next run time from the new trigger', async () => {
  await onSqlite(async ({ clock, scheduler, path }) => {
    const T = at('2024-01-01T00:00:00Z');
    scheduler.defineTask('t', () => {});
    await scheduler.addJob('t', new IntervalTrigger({ minutes: 7, startDate: new Date(T) }), {
      id: 'j',
      paused: true,
    });
    await scheduler.start({ paused: true });
    // The other process changes the trigger just after this one read the job to resume it.
    const { other, raced } = await otherProcessAfterRead(scheduler, clock, path, (o) =>
      o.rescheduleJob('j', new CronTrigger({ hour: 9, minute: 0, timezone: 'UTC' })),
    );
    await clock.advance(60_000);
    const job = await scheduler.resumeJob('j');
    assert.ok(raced());
    assert.equal(job!.paused, false);
    assert.equal(job!.nextRunTime!.toISOString(), '2024-01-01T09:00:00.000Z');
    assert.equal((await other.getJob('j'))!.nextRunTime!.toISOString(), '2024-01-01T09:00:00.000Z');
    await other.shutdown();
    await scheduler.shutdown();
  });
});

test('resumeJob of a job whose trigger has no fire time left does not remove it when another process gave it a trigger that fires', async () => {
  await onSqlite(async ({ clock, scheduler, path }) => {
    const T = at('2024-01-01T00:00:00Z');
    scheduler.defineTask('t', () => {});
    // A date job paused before its date, which then passes: resuming it finds no fire time left.
    await scheduler.addJob('t', new DateTrigger({ runDate: new Date(T + 60_000) }), {
      id: 'j',
      paused: true,
    });
    await scheduler.start({ paused: true });
    // The other process gives it an interval trigger just after this one read the job to resume it.
    const { other, raced } = await otherProcessAfterRead(scheduler, clock, path, (o) =>
      o.rescheduleJob('j', new IntervalTrigger({ minutes: 5, startDate: new Date(T) })),
    );
    await clock.advance(120_000);
    const job = await scheduler.resumeJob('j');
    assert.ok(raced());
    // Read again: the interval trigger fires at T + 5 min, after now (T + 2 min).
    assert.notEqual(job, null, 'the job is kept');
    assert.equal(job!.nextRunTime!.toISOString(), '2024-01-01T00:05:00.000Z');
    assert.equal((await other.getJob('j'))!.paused, false);
    await other.shutdown();
    await scheduler.shutdown();
  });
});

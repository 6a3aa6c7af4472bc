// A job whose task this process does not define (another process of the deployment does): its pending run
// is left for that process, and it must not delay this process's own jobs. (The loop used to count that run
// as "something due that cannot start" and look again only a second later.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTrigger, Scheduler, silentLogger } from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';

const T = Date.parse('2024-01-01T00:00:00Z');

/** Runs `fn` with a scheduler on a ManualClock at T and a SQLite store in a temp directory. */
async function withScheduler(fn: (scheduler: Scheduler, clock: ManualClock) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tickwork-foreign-'));
  try {
    const clock = new ManualClock(T);
    const scheduler = new Scheduler({
      clock,
      store: new SqliteStore({ path: join(dir, 'jobs.db') }),
      logger: silentLogger,
    });
    await fn(scheduler, clock);
    await scheduler.shutdown();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("a pending run of a task defined elsewhere does not delay this process's jobs", async () => {
  await withScheduler(async (scheduler, clock) => {
    const started: number[] = [];
    scheduler.defineTask('here', () => void started.push(clock.now()));
    await scheduler.start();
    // Defined in another process: its run is created at T and stays pending here.
    await scheduler.addJob('elsewhere', 'interval', {
      id: 'theirs',
      seconds: 60,
      startDate: new Date(T - 60_000),
    });
    await scheduler.addJob('here', new DateTrigger(new Date(T + 300)), { id: 'mine' });
    await clock.advance(0);
    const theirs = await scheduler.getRuns({ jobId: 'theirs' });
    assert.deepEqual(
      theirs.map((r) => [r.scheduledFireTime.getTime(), r.status]),
      [[T, 'pending']],
      'left for a process that defines the task',
    );
    await clock.advance(300);
    assert.deepEqual(started, [T + 300], 'mine started at its fire time, not a second later');
  });
});

test('a task defined after start() starts its waiting runs at once, not at the next wake-up cap', async () => {
  await withScheduler(async (scheduler, clock) => {
    scheduler.defineTask('other', () => {});
    await scheduler.start();
    await scheduler.addJob('late', new DateTrigger(new Date(T)), { id: 'job' });
    await clock.advance(0); // its run is created, and waits: no task here yet
    assert.deepEqual(
      (await scheduler.getRuns({ jobId: 'job' })).map((r) => r.status),
      ['pending'],
    );
    await clock.advance(100);
    const started: number[] = [];
    scheduler.defineTask('late', () => void started.push(clock.now()));
    await clock.advance(0);
    assert.deepEqual(started, [T + 100], 'started when the task was defined');
  });
});

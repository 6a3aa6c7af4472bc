// A heartbeat answers for the runs it asked about only: a run acquired while it was on its way is not "lost".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IntervalTrigger, MemoryStore, Scheduler, type TaskContext } from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';
import { captureLogger } from '../helpers/logger.js';
import { at } from '../helpers/time.js';

const T = at('2024-01-01T00:00:00Z');

/** A memory store whose heartbeats wait until the test lets them answer. */
class SlowHeartbeats extends MemoryStore {
  gate: Promise<void> | null = null;
  calls = 0;
  override async heartbeatRuns(
    owner: string,
    runs: { id: string; attempt: number }[],
    now: Date,
    leaseMs: number,
  ): Promise<string[]> {
    this.calls++;
    if (this.gate) await this.gate;
    return super.heartbeatRuns(owner, runs, now, leaseMs);
  }
}

test('a run acquired while a heartbeat is on its way keeps its lease, its signal and its outcome', async () => {
  const clock = new ManualClock(T);
  const store = new SlowHeartbeats();
  const scheduler = new Scheduler({ clock, store, logger: captureLogger(), heartbeatInterval: 1000 });
  const releases = new Map<string, () => void>();
  const aborted: string[] = [];
  const task = (name: string) => async (ctx: TaskContext) => {
    ctx.signal.addEventListener('abort', () => aborted.push(name));
    await new Promise<void>((resolve) => releases.set(name, resolve));
  };
  await scheduler.addJob(task('a'), new IntervalTrigger({ hours: 1, startDate: new Date(T) }), { id: 'a' });
  await scheduler.addJob(task('b'), new IntervalTrigger({ hours: 1, startDate: new Date(T + 1500) }), {
    id: 'b',
  });
  await scheduler.start();
  await clock.advance(0);
  assert.ok(releases.has('a'), 'run a started');
  let answer!: () => void;
  store.gate = new Promise<void>((resolve) => (answer = resolve));
  await clock.advance(1000); // the heartbeat asks about run a and waits
  assert.equal(store.calls, 1);
  await clock.advance(500); // run b is acquired meanwhile
  assert.ok(releases.has('b'), 'run b started');
  store.gate = null;
  answer();
  await clock.advance(0);
  assert.deepEqual(aborted, [], 'neither run is treated as lost');
  releases.get('b')!();
  releases.get('a')!();
  await clock.advance(0);
  const runs = await scheduler.getRuns({ limit: 10 });
  assert.deepEqual(
    runs.map((r) => [r.jobId, r.status]).sort(),
    [
      ['a', 'succeeded'],
      ['b', 'succeeded'],
    ],
    'both outcomes are recorded',
  );
  await scheduler.shutdown();
});

// A run whose lease ran out while its task was still going (the process's heartbeats stopped renewing it) and
// that was reaped meanwhile: when the task ends, its outcome is offered to the store once, refused (fenced by
// owner and attempt), reported and dropped. Nothing retries it, no event reports it as the run's outcome,
// and the loop keeps its usual pace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IntervalTrigger, MemoryStore, Scheduler, type RunOutcome } from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';
import { captureLogger } from '../helpers/logger.js';
import { at } from '../helpers/time.js';

const T = at('2024-01-01T00:00:00Z');

/** A memory store counting the calls the scheduler makes, whose heartbeats fail while `stalled`. */
class CountingStore extends MemoryStore {
  override readonly persistent: boolean;
  stalled = false;
  readonly calls = new Map<string, number>();
  constructor(persistent: boolean) {
    super();
    // A persistent store records final outcomes in groups (finishRuns), as PostgreSQL, SQLite and Redis do.
    this.persistent = persistent;
  }
  count(name: string): number {
    return this.calls.get(name) ?? 0;
  }
  private hit(name: string): void {
    this.calls.set(name, this.count(name) + 1);
  }
  override async heartbeatRuns(
    owner: string,
    runs: { id: string; attempt: number }[],
    now: Date,
    leaseMs: number,
  ): Promise<string[]> {
    this.hit('heartbeatRuns');
    if (this.stalled) throw new Error('store unreachable');
    return super.heartbeatRuns(owner, runs, now, leaseMs);
  }
  /** Inside finishRuns (the memory store's finishRuns calls finishRun per item): not a call of its own. */
  private grouped = false;
  override async finishRun(runId: string, owner: string, attempt: number, now: Date, outcome: RunOutcome) {
    if (!this.grouped) this.hit('finishRun');
    return super.finishRun(runId, owner, attempt, now, outcome);
  }
  override async finishRuns(
    owner: string,
    items: { runId: string; attempt: number; outcome: RunOutcome }[],
    now: Date,
  ): Promise<boolean[]> {
    this.hit('finishRuns');
    this.grouped = true;
    try {
      return await super.finishRuns(owner, items, now);
    } finally {
      this.grouped = false;
    }
  }
  override fireDueJobs(...args: Parameters<MemoryStore['fireDueJobs']>) {
    this.hit('fireDueJobs');
    return super.fireDueJobs(...args);
  }
}

/** A scheduler on a {@link CountingStore} with a 3 s lease renewed every second, and its clock and log. */
function setup(persistent: boolean) {
  const clock = new ManualClock(T);
  const store = new CountingStore(persistent);
  const logger = captureLogger();
  const scheduler = new Scheduler({
    clock,
    store,
    logger,
    leaseDuration: 3000,
    heartbeatInterval: 1000,
    maxWakeInterval: 5000,
    // No jitter on the loop's longest sleep (a shared store's idle nodes spread their polls by up to 500 ms).
    random: () => 0,
  });
  return { clock, store, logger, scheduler };
}

for (const persistent of [false, true]) {
  test(`an outcome refused for a run reaped while its task went on is offered once and dropped (${
    persistent ? 'grouped finishRuns' : 'finishRun'
  })`, async () => {
    const { clock, store, logger, scheduler } = setup(persistent);
    let release!: () => void;
    // The task ignores its signal, as a long task may.
    const long = () => new Promise<void>((resolve) => (release = resolve));
    await scheduler.addJob(long, new IntervalTrigger({ hours: 1, startDate: new Date(T) }), { id: 'long' });
    const abandoned: string[] = [];
    const executed: string[] = [];
    scheduler.on('job:abandoned', (e) => abandoned.push(e.runId));
    scheduler.on('job:executed', (e) => executed.push(e.runId));
    await scheduler.start();
    await clock.advance(0); // the run of T starts
    const [run] = scheduler.getRunningRuns();
    assert.ok(run);
    store.stalled = true; // from now on the heartbeats fail: the lease (T + 3 s) is not renewed
    await clock.advance(4000); // its lease ended at T + 3 s; the reaping at T + 4 s takes it
    assert.deepEqual(abandoned, [run.id]);
    assert.equal((await store.getRun(run.id))!.status, 'abandoned');

    const before = new Map(store.calls);
    const since = (name: string) => store.count(name) - (before.get(name) ?? 0);
    release(); // the task ends at T + 4 s, after its run was reaped
    await clock.advance(0);
    // One attempt to record the outcome, refused: the run is no longer this process's.
    assert.equal(since('finishRun') + since('finishRuns'), 1);
    assert.equal(
      logger
        .messages('warn')
        .filter(
          (m) =>
            m ===
            `Run ${run.id} was no longer held by this process; its outcome (succeeded) was not recorded`,
        ).length,
      1,
    );
    assert.equal((await store.getRun(run.id))!.status, 'abandoned');

    // The next minute: nothing is in flight, so no heartbeat and no further recording. The loop wakes at its
    // usual pace: nothing is due before T + 1 h, so every maxWakeInterval (5 s), 12 passes in 60 s.
    const beforeIdle = new Map(store.calls);
    const idle = (name: string) => store.count(name) - (beforeIdle.get(name) ?? 0);
    await clock.advance(60_000);
    assert.equal(idle('finishRun') + idle('finishRuns'), 0);
    assert.equal(idle('heartbeatRuns'), 0);
    assert.equal(idle('fireDueJobs'), 12);
    // Each said once: the signal aborted at T + 2 s (the lease ends within a heartbeat), the abandonment, the
    // refused outcome.
    assert.deepEqual(
      logger.messages('warn').filter((m) => m.includes(run.id)),
      [
        `Run ${run.id}: its lease could not be renewed and ends soon; its signal was aborted`,
        `Run ${run.id} of job "long" was abandoned: the lease of ${scheduler.nodeId} expired`,
        `Run ${run.id} was no longer held by this process; its outcome (succeeded) was not recorded`,
      ],
    );
    // The run's outcome is the abandonment: the task's success is not reported as the run's.
    assert.deepEqual(executed, []);
    await scheduler.shutdown();
  });
}

test('a failure refused for a run reaped while its task went on: no job:error, no retry of this process, the error still logged', async () => {
  const { clock, store, logger, scheduler } = setup(true);
  let fail!: (err: Error) => void;
  const long = () => new Promise<void>((_, reject) => (fail = reject));
  // A retry policy: a failure taken by the store would schedule attempt 2 a second later.
  await scheduler.addJob(long, new IntervalTrigger({ hours: 1, startDate: new Date(T) }), {
    id: 'long',
    retry: { attempts: 3, backoff: 'fixed', delay: 1000 },
  });
  const errors: string[] = [];
  scheduler.on('job:error', (e) => errors.push(e.runId));
  await scheduler.start();
  await clock.advance(0);
  const [run] = scheduler.getRunningRuns();
  assert.ok(run);
  store.stalled = true;
  await clock.advance(4000); // reaped at T + 4 s: with the job's retry policy, a retry is pending
  const reaped = await store.getRun(run.id);
  assert.equal(reaped!.status, 'pending');
  store.stalled = false;
  fail(new Error('boom'));
  await clock.advance(0);
  assert.deepEqual(errors, [], 'no job:error for an outcome the store refused');
  assert.ok(
    logger
      .messages('warn')
      .includes(`Run ${run.id} was no longer held by this process; its outcome (failed) was not recorded`),
  );
  // The task's error is logged, without a retry this process would not make.
  assert.deepEqual(
    logger.messages('error').filter((m) => m.startsWith('Job "long')),
    ['Job "long (trigger: interval[1:00:00], next run at: 2024-01-01 01:00:00 UTC)" raised an exception'],
  );
  // The stored run is as the reaping left it (its retry pending): this process's failure scheduled nothing.
  const after = await store.getRun(run.id);
  assert.deepEqual(
    [after!.status, after!.attempt, after!.notBefore.getTime(), after!.error],
    [reaped!.status, reaped!.attempt, reaped!.notBefore.getTime(), reaped!.error],
  );
  await scheduler.shutdown();
});

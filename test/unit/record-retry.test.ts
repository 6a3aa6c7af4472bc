// An outcome the store failed to take is recorded again by one pass at a time: the heartbeat and the loop
// both try, and a second pass over the same outcome found it recorded by the first and called it lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IntervalTrigger, MemoryStore, Scheduler, type RunOutcome } from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';
import { captureLogger } from '../helpers/logger.js';
import { at } from '../helpers/time.js';

const T = at('2024-01-01T00:00:00Z');

/** A memory store whose first finishRun of the first run fails, and whose retries of it wait for a gate. */
class FlakyFinish extends MemoryStore {
  first: string | null = null;
  failed = false;
  gate: Promise<void> | null = null;
  retries = 0;
  override async finishRun(runId: string, owner: string, attempt: number, now: Date, outcome: RunOutcome) {
    this.first ??= runId;
    if (runId === this.first) {
      if (!this.failed) {
        this.failed = true;
        throw new Error('store unavailable');
      }
      this.retries++;
      if (this.gate) await this.gate;
    }
    return super.finishRun(runId, owner, attempt, now, outcome);
  }
}

test('an outcome recorded again after a store failure is not reported lost by a second, concurrent retry', async () => {
  const clock = new ManualClock(T);
  const store = new FlakyFinish();
  const logger = captureLogger();
  const scheduler = new Scheduler({ clock, store, logger, heartbeatInterval: 1000 });
  await scheduler.addJob(() => 'done', new IntervalTrigger({ seconds: 2, startDate: new Date(T) }), {
    id: 'j',
  });
  let open!: () => void;
  store.gate = new Promise<void>((resolve) => (open = resolve));
  await scheduler.start();
  await clock.advance(0); // the run at T ends; recording its outcome fails
  assert.ok(store.failed);
  await clock.advance(1000); // the heartbeat tries again and waits at the gate
  await clock.advance(1000); // the loop's pass at T + 2 s finds the outcome still unrecorded
  open();
  await clock.advance(0);
  await clock.advance(0);
  assert.equal(store.retries, 1, 'one retry of the failed recording');
  assert.deepEqual(
    logger.messages('warn').filter((m) => m.includes('outcome was lost')),
    [],
  );
  assert.equal(logger.messages('info').filter((m) => m.startsWith('Recorded the outcome of run')).length, 1);
  assert.equal((await scheduler.getRun(store.first!))!.status, 'succeeded');
  await scheduler.shutdown();
});

/**
 * A memory store whose first finishRun records the outcome and then fails (a timeout after the commit), and
 * whose next one fails outright (the store still down when the loop tries again): the heartbeat is the first
 * to learn that the run is no longer held.
 */
class CommitThenThrow extends MemoryStore {
  calls = 0;
  get thrown(): boolean {
    return this.calls > 0;
  }
  override async finishRun(runId: string, owner: string, attempt: number, now: Date, outcome: RunOutcome) {
    this.calls++;
    if (this.calls === 2) throw new Error('store unavailable');
    const ok = await super.finishRun(runId, owner, attempt, now, outcome);
    if (this.calls === 1) throw new Error('store unavailable after the commit');
    return ok;
  }
}

test('an outcome whose recording failed after it was committed is reported recorded, not lost', async () => {
  const clock = new ManualClock(T);
  const store = new CommitThenThrow();
  const logger = captureLogger();
  const scheduler = new Scheduler({ clock, store, logger, heartbeatInterval: 1000 });
  await scheduler.addJob(() => 'done', new IntervalTrigger({ hours: 1, startDate: new Date(T) }), {
    id: 'j',
  });
  await scheduler.start();
  await clock.advance(0); // the run ends; its recording commits, then fails
  assert.ok(store.thrown);
  await clock.advance(1000); // the heartbeat finds the run no longer held: it was recorded
  await clock.advance(0);
  assert.deepEqual(
    logger.messages('warn').filter((m) => /lost|no longer held/.test(m)),
    [],
  );
  assert.equal(logger.messages('info').filter((m) => m.startsWith('Recorded the outcome of run')).length, 1);
  await scheduler.shutdown();
});

// A store's start-time warning (StoreStartContext.warn) reaches the scheduler's log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore, Scheduler } from '../../src/index.js';
import type { StoreStartContext } from '../../src/stores/store.js';
import { ManualClock } from '../../src/testing.js';
import { captureLogger } from '../helpers/logger.js';

class WarningStore extends MemoryStore {
  override async start(context: StoreStartContext): Promise<void> {
    context.warn?.('the backend keeps nothing on disk');
    return super.start(context);
  }
}

test("a store's warning at start is logged by the scheduler as a warning", async () => {
  const logger = captureLogger();
  const scheduler = new Scheduler({ clock: new ManualClock(0), store: new WarningStore(), logger });
  await scheduler.start();
  assert.deepEqual(
    logger.lines.filter((l) => l.level === 'warn').map((l) => [l.msg, l.obj]),
    [['the backend keeps nothing on disk', { store: 'memory' }]],
  );
  await scheduler.shutdown();
});

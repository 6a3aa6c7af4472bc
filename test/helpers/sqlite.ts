// A scheduler on a new SQLite file under a manual clock, for tests of stored rows and processes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Scheduler, silentLogger } from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';

/** Runs `body` with a scheduler (not started) on a new SQLite file, under a manual clock; removes the file. */
export async function onSqlite(
  body: (ctx: { clock: ManualClock; scheduler: Scheduler; path: string }) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tickwork-corrupt-'));
  const path = join(dir, 'jobs.db');
  try {
    const clock = new ManualClock('2024-01-01T00:00:00Z');
    const scheduler = new Scheduler({ clock, store: new SqliteStore({ path }), logger: silentLogger });
    await body({ clock, scheduler, path });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

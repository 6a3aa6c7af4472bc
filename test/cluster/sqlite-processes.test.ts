// Three processes on one SQLite file fire a 50 ms interval job for 3 s: every fire time in the window is
// executed exactly once across the three (SQLite's write lock makes the firing step atomic between them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDbFile } from '../contract/harness.js';

const run = promisify(execFile);
const NODE = fileURLToPath(new URL('./sqlite-node.ts', import.meta.url));

test(
  '3 processes on one SQLite file: a 50 ms job for 3 s, no duplicate, no missing fire time',
  { timeout: 60_000 },
  async () => {
    const { dir, file } = tempDbFile();
    try {
      const start = Date.now() + 5000; // usually after the processes have booted
      const end = start + 3000;
      // The schedule exists before any process boots: fire times that pass while they boot are owed all the
      // same (no grace limit, no coalescing), so a slow machine changes lateness, never the expected set.
      await run(process.execPath, ['--import', 'tsx', NODE, file, String(start), String(end), 'seed'], {
        timeout: 40_000,
      });
      const outputs = await Promise.all(
        [1, 2, 3].map(() =>
          run(process.execPath, ['--import', 'tsx', NODE, file, String(start), String(end)], {
            timeout: 40_000,
          }),
        ),
      );
      const all = outputs.flatMap((o) => JSON.parse(o.stdout) as number[]);
      const counts = new Map<number, number>();
      for (const t of all) counts.set(t, (counts.get(t) ?? 0) + 1);
      for (let t = start; t < end; t += 50) {
        assert.equal(counts.get(t) ?? 0, 1, `fire time ${t - start} ms executed ${counts.get(t) ?? 0} times`);
      }
      for (const t of counts.keys()) assert.equal((t - start) % 50, 0, 'an execution off the grid');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

// End to end: the real `npm start` server, as a user runs it. This test reads real output for about
// five seconds of wall time (a process cannot be driven by a manual clock); it asserts counts that hold
// with any timing jitter, not exact instants.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

test(
  'npm start serves, ticks, logs skipped executions and closes on SIGTERM',
  { timeout: 120_000 },
  async () => {
    const port = await freePort();
    const child = spawn('npm', ['start', '--silent'], {
      cwd: root,
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: false,
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 90_000;
      while (!out.includes('Server listening') && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        if (child.exitCode !== null) break;
      }
      assert.match(out, /Server listening at http:\/\/127\.0\.0\.1:\d+/, out.slice(-2000));
      const listenedAt = out.length;
      await new Promise((r) => setTimeout(r, 5500));
      const res = await fetch(`http://127.0.0.1:${port}/jobs`);
      assert.equal(res.status, 200);
      const jobs = (await res.json()) as { name: string; trigger: string }[];
      assert.equal(jobs[0]?.name, 'tick');
      assert.equal(jobs[0]?.trigger, 'interval[0:00:01]');
      const log = out.slice(listenedAt);
      const ticks = log.match(/Tick! The async time is \d{4}-\d\d-\d\dT/g) ?? [];
      const skips =
        log.match(
          /Execution of job \\"tick \(trigger: interval\[0:00:01\], next run at: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)\\" skipped: maximum number of running instances reached \(2\)/g,
        ) ?? [];
      // In ~5.5 s: fire times at +1 and +2 s run, +3 and +4 s are skipped (two runs of 3 s still going).
      assert.ok(ticks.length >= 2, `expected at least 2 ticks in:\n${log}`);
      assert.ok(skips.length >= 2, `expected at least 2 skipped executions in:\n${log}`);
    } finally {
      child.kill('SIGTERM');
    }
    const code = await exited;
    assert.equal(code, 0, out.slice(-2000));
    assert.match(out, /Scheduler has been shut down/);
  },
);

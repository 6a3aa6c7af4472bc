// End to end: the real `npm start` server, as a user runs it. This test reads real output for about
// five seconds of wall time (a process cannot be driven by a manual clock); it asserts counts that hold
// with any timing jitter, not exact instants.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test(
  'npm start serves, ticks, logs skipped executions and closes on SIGTERM',
  { timeout: 150_000 },
  async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'tickwork-e2e-'));
    const child = spawn('npm', ['start', '--silent'], {
      cwd: root,
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        // A store of its own, so no other server shares (and fires) this test's schedule.
        TICKWORK_STORE: `sqlite:${join(dir, 'e2e.db')}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    // npm runs the script in a process of its own that does not always pass signals on, so signal the
    // server itself: its pid is in every log line.
    const serverPid = (): number | null => Number(/"pid":(\d+)/.exec(out)?.[1]) || null;
    const stop = (signal: NodeJS.Signals): void => {
      for (const pid of [serverPid(), child.pid ?? null]) {
        try {
          if (pid !== null) process.kill(pid, signal);
        } catch {
          // already gone
        }
      }
    };
    let log = '';
    try {
      const deadline = Date.now() + 120_000;
      while (!out.includes('Server listening') && Date.now() < deadline && child.exitCode === null) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(out, /Server listening at http:\/\/127\.0\.0\.1:\d+/, out.slice(-2000));
      const listenedAt = out.length;
      await new Promise((r) => setTimeout(r, 5500));
      const res = await fetch(`http://127.0.0.1:${port}/jobs`);
      assert.equal(res.status, 200);
      const jobs = (await res.json()) as { name: string; trigger: string }[];
      assert.equal(jobs[0]?.name, 'tick');
      assert.equal(jobs[0]?.trigger, 'interval[0:00:01]');
      log = out.slice(listenedAt);
    } finally {
      stop('SIGTERM');
    }
    const killer = setTimeout(() => stop('SIGKILL'), 40_000);
    const pid = serverPid();
    while (pid !== null && alive(pid)) await new Promise((r) => setTimeout(r, 100));
    await exited;
    clearTimeout(killer);
    rmSync(dir, { recursive: true, force: true });

    const ticks = log.match(/Tick! The async time is \d{4}-\d\d-\d\dT/g) ?? [];
    const skips =
      log.match(
        /Execution of job \\"tick \(trigger: interval\[0:00:01\], next run at: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)\\" skipped: maximum number of running instances reached \(2\)/g,
      ) ?? [];
    // In ~5.5 s: fire times at +1 and +2 s run, +3 and +4 s are skipped (two runs of 3 s still going).
    assert.ok(ticks.length >= 2, `expected at least 2 ticks in:\n${log}`);
    assert.ok(skips.length >= 2, `expected at least 2 skipped executions in:\n${log}`);
    // The server closed gracefully: it waited for the running ticks and shut the scheduler down.
    assert.match(out, /SIGTERM received/, out.slice(-2000));
    assert.match(out, /Scheduler has been shut down/, out.slice(-2000));
  },
);

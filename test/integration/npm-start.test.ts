// End to end: the real `npm start` server, as a user runs it. This test reads real output for about
// five seconds of wall time (a process cannot be driven by a manual clock); it asserts counts that hold
// with any timing jitter, not exact instants.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
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
      // GET /jobs needs the token printed at start (as the API does); GET / answers without one.
      const token = /Dashboard: \S+ {2}token: (\S+)/.exec(out)?.[1];
      assert.ok(token, out.slice(-2000));
      assert.equal((await fetch(`http://127.0.0.1:${port}/jobs`)).status, 401);
      assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 200);
      const res = await fetch(`http://127.0.0.1:${port}/jobs`, {
        headers: { authorization: `Bearer ${token}` },
      });
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

/** Runs the server's entry point (from source) with `env` until it exits; its exit code and output. */
function runMain(
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const main = fileURLToPath(new URL('../../src/server/main.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', main], {
    cwd: root,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', TICKWORK_STORE: 'memory:', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    }),
  );
}

test(
  'npm start: a bad setting prints one line and exits 2, never a stack trace',
  { timeout: 120_000 },
  async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ PORT: 'abc' }, /PORT must be a port number/],
      [{ PORT: '65536' }, /PORT must be a port number/],
      [{ TICKWORK_LEASE_MS: 'abc' }, /TICKWORK_LEASE_MS must be an integer/],
      [{ TICKWORK_LEASE_MS: '500' }, /TICKWORK_LEASE_MS must be an integer/],
      [{ TICKWORK_LEASE_MS: '1e20' }, /TICKWORK_LEASE_MS must be an integer/],
      [
        { TICKWORK_STORE: 'mysql://user:secret@db/x' },
        /TICKWORK_STORE mysql:\/\/\*\*\*@db\/x: Expected `store`/,
      ],
      [{ TICKWORK_STORE: 'postgres://user:secret@[zz/x' }, /Expected `store` to be a valid URL/],
      [{ TICKWORK_STORE: 'redis://:secret@[zz' }, /Expected `store` to be a valid URL/],
      [{ TICKWORK_STORE: 'redis://:secret@127.0.0.1:1?prefx=a:' }, /did you mean `prefix`/],
      // A file where a directory is needed: its directory cannot be created.
      [{ TICKWORK_STORE: `sqlite:${join(root, 'package.json')}/x.db` }, /cannot create its directory/],
      [{ TICKWORK_TOKEN: 'short' }, /TICKWORK_TOKEN must be at least 16 characters/],
      [{ TICKWORK_TOKEN: 'has whitespace 0123456789' }, /TICKWORK_TOKEN must not contain whitespace/],
      [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of/],
      [
        { TICKWORK_TOKEN: 'same-token-0123456789', TICKWORK_READ_TOKEN: 'same-token-0123456789' },
        /TICKWORK_READ_TOKEN is the same as TICKWORK_TOKEN/,
      ],
    ];
    // A refused option of a sqlite: URL creates nothing (a directory named after the query was made).
    const scratch = mkdtempSync(join(tmpdir(), 'tickwork-npm-start-'));
    cases.push([
      { TICKWORK_STORE: `sqlite:${join(scratch, 'nd', 'x.db')}?maxRunsPerJob=a/b` },
      /maxRunsPerJob/,
    ]);
    try {
      for (const [env, message] of cases) {
        const r = await runMain(env);
        const what = JSON.stringify(env);
        assert.equal(r.code, 2, `${what}: ${r.stderr}${r.stdout}`);
        assert.match(r.stderr, message, what);
        assert.equal(r.stderr.trim().split('\n').length, 1, `${what}: ${r.stderr}`);
        assert.doesNotMatch(r.stderr + r.stdout, /\n\s+at /, what);
        assert.doesNotMatch(r.stderr, /secret/);
      }
      assert.deepEqual(readdirSync(scratch), [], 'nothing created for the refused sqlite: URL');
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  },
);

test(
  'npm start: a store that cannot be reached prints one line and exits 1',
  { timeout: 60_000 },
  async () => {
    const r = await runMain({ PORT: '0', TICKWORK_STORE: 'postgres://postgres:secret@127.0.0.1:1/test' });
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /cannot start the scheduler on postgres:\/\/\*\*\*@127\.0\.0\.1:1\/test: .*ECONNREFUSED/,
    );
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /secret/);
  },
);

test(
  'npm start: a Redis store that cannot be reached prints one line and exits 1',
  { timeout: 60_000 },
  async () => {
    const r = await runMain({ PORT: '0', TICKWORK_STORE: 'redis://:secret@127.0.0.1:1?prefix=twtest:none:' });
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /cannot start the scheduler on redis:\/\/\*\*\*@127\.0\.0\.1:1\?prefix=twtest:none:: .*ECONNREFUSED/,
    );
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /secret/);
  },
);

test(
  'npm start: a sqlite: path in a missing directory is created; a port in use starts nothing',
  { timeout: 120_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tickwork-busy-'));
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const { port } = blocker.address() as { port: number };
    try {
      const db = join(dir, 'missing', 'dir', 'x.db');
      const busy = await runMain({ PORT: String(port), TICKWORK_STORE: `sqlite:${db}` });
      assert.equal(busy.code, 1, busy.stderr);
      assert.match(busy.stderr, /cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
      assert.equal(busy.stderr.trim().split('\n').length, 1, busy.stderr);
      // The scheduler never started: the store was not opened, so no job was written and none ran.
      assert.ok(!existsSync(db));
      assert.doesNotMatch(busy.stdout, /Tick!|Added job/);
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
    // With a free port the same store works: the missing directories are created.
    const db = join(dir, 'other', 'nested', 'x.db');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('../../src/server/main.ts', import.meta.url))],
      {
        cwd: root,
        env: { ...process.env, HOST: '127.0.0.1', PORT: '0', TICKWORK_STORE: `sqlite:${db}` },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const closed = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    try {
      const deadline = Date.now() + 30_000;
      while (!out.includes('Dashboard:') && child.exitCode === null && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.match(out, /Dashboard: http:\/\/127\.0\.0\.1:\d+\/scheduler\//, out);
      assert.ok(existsSync(db));
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await closed, 0, out);
    rmSync(dir, { recursive: true, force: true });
  },
);

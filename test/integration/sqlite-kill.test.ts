// kill -9 of a real server process using SQLite in the middle of a run, then a restart: the interrupted
// run is found `abandoned` once its lease ends, the job is intact, and the fire times missed while the
// process was down get the misfire rules (coalesced: one run for them). Real processes and real time,
// with a 2 s lease so the test does not wait 30 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteStore } from '../../src/stores/sqlite/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

interface Server {
  child: ChildProcess;
  output: () => string;
  exited: Promise<void>;
}

async function startServer(db: string): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server/main.ts'], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      TICKWORK_STORE: `sqlite:${db}`,
      TICKWORK_LEASE_MS: '2000',
      TICKWORK_TOKEN: 'kill-test-token-0123456789',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const deadline = Date.now() + 60_000;
  while (!out.includes('Server listening') && Date.now() < deadline && child.exitCode === null)
    await sleep(50);
  assert.match(out, /Server listening/, out);
  return { child, output: () => out, exited };
}

test(
  'SIGKILL mid-run, restart: the run is abandoned, the job intact, the downtime coalesced',
  { timeout: 120_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tickwork-kill-'));
    const db = join(dir, 'kill.db');
    const servers: Server[] = [];
    try {
      const first = await startServer(db);
      servers.push(first);
      // Wait until a tick is running (each takes 3 s), then kill -9.
      const deadline = Date.now() + 20_000;
      while (!first.output().includes('Tick! The async time is') && Date.now() < deadline) await sleep(20);
      await sleep(200);
      first.child.kill('SIGKILL');
      await first.exited;
      const killedAt = Date.now();

      const store = new SqliteStore({ path: db });
      await store.start({ nodeId: 'inspector', now: () => Date.now() });
      const interrupted = (await store.getRuns({ jobId: 'tick', status: 'running' })).map((r) => r.id);
      assert.ok(interrupted.length >= 1, 'a run was going when the process was killed');

      await sleep(2500); // fire times at about +1 s and +2 s are missed while no process runs
      const second = await startServer(db);
      servers.push(second);
      // The lease (2 s) of the killed process ends; the new process reaps its runs.
      let abandoned: string[] = [];
      const until = Date.now() + 15_000;
      while (Date.now() < until) {
        abandoned = (await store.getRuns({ jobId: 'tick', status: 'abandoned' })).map((r) => r.id);
        if (interrupted.every((id) => abandoned.includes(id))) break;
        await sleep(200);
      }
      assert.deepEqual(abandoned.filter((id) => interrupted.includes(id)).sort(), [...interrupted].sort());
      await sleep(2500);

      const job = await store.getJob('tick');
      assert.ok(job, 'the job is intact');
      assert.equal(job.paused, false);
      assert.equal(job.taskId, 'tick');
      const runs = await store.getRuns({ jobId: 'tick', limit: 1000 });
      // Fire times that came due while no process ran (up to the restarted scheduler's first firing step):
      // coalesced into one run, for the latest of them.
      const firstFiring = Math.min(
        ...runs.filter((r) => r.createdAt.getTime() > killedAt).map((r) => r.createdAt.getTime()),
      );
      const owed = runs.filter(
        (r) => r.scheduledFireTime.getTime() > killedAt && r.scheduledFireTime.getTime() <= firstFiring,
      );
      assert.ok(firstFiring - killedAt > 2000, 'at least two fire times were missed');
      assert.equal(
        owed.length,
        1,
        JSON.stringify({
          killedAt,
          firstFiring,
          runs: runs.map((r) => [r.scheduledFireTime, r.status, r.createdAt]),
        }),
      );
      assert.ok(
        firstFiring - owed[0]!.scheduledFireTime.getTime() < 1000,
        'the run is for the latest owed fire time',
      );
      // The schedule goes on after the restart: ticks ran to completion.
      const after = runs.filter((r) => r.scheduledFireTime.getTime() > firstFiring);
      assert.ok(
        after.some((r) => r.status === 'succeeded' || r.status === 'running'),
        JSON.stringify(after),
      );
      await store.stop();
    } finally {
      for (const s of servers) if (s.child.exitCode === null) s.child.kill('SIGKILL');
      await Promise.all(servers.map((s) => s.exited));
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

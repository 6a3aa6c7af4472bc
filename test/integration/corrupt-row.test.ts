// A stored job whose row cannot be decoded (its trigger written by hand, or by a newer version) is
// quarantined: paused and reported, never deleted; the other jobs go on firing, and listing still works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { IntervalTrigger, Scheduler, isTickworkError, silentLogger } from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';
import { createApi } from '../../src/http/index.js';
import { onSqlite } from '../helpers/sqlite.js';

test('a corrupt job row is quarantined (paused, event), never deleted; other jobs keep firing', async () => {
  await onSqlite(async ({ clock, scheduler, path }) => {
    const ran: string[] = [];
    scheduler.defineTask('work', (name: string) => void ran.push(name));
    await scheduler.start();
    await scheduler.addJob('work', 'interval', { id: 'good', args: ['good'], seconds: 10 });
    await scheduler.addJob('work', 'interval', { id: 'bad', args: ['bad'], seconds: 10 });

    // Damage the stored trigger of `bad` behind the store's back.
    const db = new Database(path);
    db.prepare(
      'UPDATE jobs SET trigger = \'{"type": "interval", "milliseconds": \' WHERE id = \'bad\'',
    ).run();
    db.close();

    const quarantined: string[] = [];
    scheduler.on('job:quarantined', (e) => quarantined.push(e.jobId));
    await clock.advance(25_000);

    assert.deepEqual(ran, ['good', 'good']);
    assert.deepEqual(quarantined, ['bad']);
    const jobs = await scheduler.getJobs();
    assert.deepEqual(
      jobs.map((j) => j.id),
      ['bad', 'good'],
    );
    const bad = jobs.find((j) => j.id === 'bad')!;
    assert.equal(bad.paused, true);
    assert.equal(bad.nextRunTime, null);
    assert.match(bad.trigger.describe(), /^Cannot be read: /);
    await scheduler.shutdown();

    // Still there after a restart, with its damaged text kept for a human to repair.
    const check = new Database(path, { readonly: true });
    const row = check.prepare("SELECT trigger, paused FROM jobs WHERE id = 'bad'").get() as {
      trigger: string;
      paused: number;
    };
    check.close();
    assert.equal(row.trigger, '{"type": "interval", "milliseconds": ');
    assert.equal(row.paused, 1);
  });
});

test('SQLite columns with values tickwork never writes (untyped) are quarantined too, and listing still works', async () => {
  await onSqlite(async ({ clock, scheduler, path }) => {
    const ran: string[] = [];
    scheduler.defineTask('work', (name: string) => {
      ran.push(name);
      throw new Error('fails, to be retried');
    });
    await scheduler.start();
    // column -> the value written behind the store's back
    const damage: Record<string, string> = {
      max_instances: "'one'",
      misfire_grace_time: "'x'",
      timeout: '-1',
      jitter: '1e20', // a number, but beyond what the options accept
      retry: '\'{"attempts":3}\'', // parses, but is not a whole policy
      version: "'x'", // the compare-and-set column itself
      // BLOBs where text belongs; the id's bytes spell "id", the row's id before
      id: "X'6964'",
      name: "X'6e616d65'",
      task_id: "X'776f726b'",
    };
    for (const id of ['good', 'negative', ...Object.keys(damage), 'next_run_time', 'far'])
      await scheduler.addJob('work', 'interval', { id, args: [id], seconds: 10, retry: 2 });
    const db = new Database(path);
    for (const [column, value] of Object.entries(damage))
      db.prepare(`UPDATE jobs SET ${column} = ${value} WHERE id = ?`).run(column);
    db.prepare("UPDATE jobs SET next_run_time = '2024-01-01T00:00:10Z' WHERE id = 'next_run_time'").run();
    db.prepare('UPDATE jobs SET next_run_time = 9e15 WHERE id = ?').run('far'); // past the year 9999
    db.prepare("UPDATE jobs SET version = -1 WHERE id = 'negative'").run(); // odd, but an integer: fine
    db.close();

    const quarantined = new Map<string, string>();
    scheduler.on('job:quarantined', (e) => quarantined.set(e.jobId, e.reason));
    await clock.advance(25_000);

    // Only the good job ran (twice, as retried); each damaged one was paused, the reason naming its column:
    // those whose next_run_time is text or past the year 9999 too (never due by `<=`; SQLite sorts text
    // after every number).
    assert.deepEqual([...new Set(ran)].sort(), ['good', 'negative']);
    assert.deepEqual([...quarantined.keys()].sort(), [...Object.keys(damage), 'next_run_time', 'far'].sort());
    for (const [id, reason] of quarantined)
      assert.match(reason, new RegExp(`stored ${id === 'far' ? 'next_run_time' : id} cannot be read`));
    // Every job is listed and serialises (the API's job list), the undecodable ones as such; none deleted.
    const jobs = await scheduler.getJobs();
    assert.equal(jobs.length, 13);
    for (const j of jobs) assert.doesNotThrow(() => JSON.stringify(j), j.id);
    const listed = await createApi(scheduler, { auth: false }).handle(
      new Request('http://localhost/scheduler/jobs'),
    );
    assert.equal(listed.status, 200);
    assert.equal(((await listed.json()) as { items: unknown[] }).items.length, 13);
    const text = jobs.find((j) => j.id === 'next_run_time')!;
    assert.equal(text.nextRunTime, null);
    assert.match(text.quarantine ?? '', /next_run_time cannot be read/);
    for (const id of [...Object.keys(damage), 'next_run_time', 'far'])
      assert.equal(jobs.find((j) => j.id === id)!.paused, true, id);
    assert.equal(jobs.find((j) => j.id === 'good')!.paused, false);
    await scheduler.shutdown();
  });
});

test('a replaceExisting add repairs a row whose created_at could not be read: it fires again', async () => {
  await onSqlite(async ({ clock, scheduler, path }) => {
    const ran: number[] = [];
    scheduler.defineTask('work', () => void ran.push(clock.now()));
    await scheduler.start();
    const define = () =>
      scheduler.addJob('work', 'interval', { id: 'j', seconds: 10, replaceExisting: true });
    await define();
    const db = new Database(path);
    db.prepare("UPDATE jobs SET created_at = 'yesterday' WHERE id = 'j'").run();
    db.close();
    await clock.advance(10_000);
    assert.deepEqual(ran, [], 'quarantined at its fire time');
    assert.equal((await scheduler.getJob('j'))!.paused, true);
    await define(); // the boot's re-add
    const repaired = (await scheduler.getJob('j'))!;
    assert.equal(repaired.paused, false);
    assert.doesNotMatch(repaired.trigger.describe(), /cannot be read/);
    await clock.advance(10_000);
    assert.equal(ran.length, 1, 'fires again');
    await scheduler.shutdown();
  });
});

test('a job quarantined for a trigger that throws is not an operator pause: the boot re-add of the same definition brings it back', async () => {
  // A trigger whose fire-time search fails (a custom trigger's bug, here switched on and off).
  let broken = false;
  class Flaky extends IntervalTrigger {
    override getNextFireTime(previous: Date | null, now: Date): Date | null {
      if (broken) throw new Error('the fire-time search failed');
      return super.getNextFireTime(previous, now);
    }
  }
  const clock = new ManualClock('2024-01-01T00:00:00Z');
  const scheduler = new Scheduler({ clock, logger: silentLogger });
  const ran: number[] = [];
  scheduler.defineTask('work', () => void ran.push(clock.now()));
  await scheduler.start();
  const define = (options: { paused?: boolean } = {}) =>
    scheduler.addJob('work', new Flaky({ seconds: 10 }), { id: 'j', replaceExisting: true, ...options });
  await define();
  await scheduler.addJob('work', new Flaky({ seconds: 10 }), { id: 'held' });
  broken = true;
  await clock.advance(10_000);
  assert.deepEqual(ran, [], 'both quarantined when due');
  const quarantined = (await scheduler.getJob('j'))!;
  assert.deepEqual(
    [quarantined.paused, quarantined.quarantine],
    [true, 'its plan failed: the fire-time search failed'],
  );
  // An operator pauses `held` for good; then the process restarts with the bug fixed and re-adds its jobs.
  await scheduler.pauseJob('held');
  assert.equal((await scheduler.getJob('held'))!.quarantine, null);
  broken = false;
  await define();
  await scheduler.addJob('work', new Flaky({ seconds: 10 }), { id: 'held', replaceExisting: true });
  const back = (await scheduler.getJob('j'))!;
  assert.deepEqual(
    [back.paused, back.quarantine, back.nextRunTime?.toISOString()],
    [false, null, '2024-01-01T00:00:20.000Z'],
  );
  assert.equal((await scheduler.getJob('held'))!.paused, true, "the operator's pause is kept");
  await clock.advance(10_000);
  assert.deepEqual(ran, [Date.parse('2024-01-01T00:00:20Z')]);
  await scheduler.shutdown();
});

test('SQLite: the quarantine reason survives a restart, and the boot re-add ends it', async () => {
  await onSqlite(async ({ clock, scheduler, path }) => {
    const ran: string[] = [];
    scheduler.defineTask('work', (id: string) => void ran.push(id));
    await scheduler.start();
    await scheduler.addJob('work', 'interval', { id: 'j', args: ['j'], seconds: 10, replaceExisting: true });
    // A trigger that parses but that tickwork cannot build: an interval longer than the Date range.
    const db = new Database(path);
    db.prepare(`UPDATE jobs SET trigger = '{"type":"interval","version":1,"milliseconds":1e300}'`).run();
    db.close();
    await clock.advance(10_000);
    await scheduler.shutdown();
    const next = new Scheduler({ clock, store: new SqliteStore({ path }), logger: silentLogger });
    next.defineTask('work', (id: string) => void ran.push(id));
    await next.start();
    const stored = (await next.getJob('j'))!;
    assert.equal(stored.paused, true);
    // (the Date range is 8.64e15 ms either side of the epoch)
    assert.match(stored.quarantine ?? '', /^trigger cannot be read: .*at most 8640000000000000 ms/);
    await next.addJob('work', 'interval', { id: 'j', args: ['j'], seconds: 10, replaceExisting: true });
    assert.deepEqual([(await next.getJob('j'))!.paused, (await next.getJob('j'))!.quarantine], [false, null]);
    await clock.advance(10_000);
    assert.deepEqual(ran, ['j']);
    await next.shutdown();
  });
});

test("SQLite: text that Number() would read ('0x1', ' ') or a boolean that is not 0/1 is undecodable; the other jobs keep firing", async () => {
  await onSqlite(async ({ clock, scheduler, path }) => {
    const ran: string[] = [];
    scheduler.defineTask('work', (id: string) => void ran.push(id));
    await scheduler.start();
    for (const id of ['good', 'hex', 'blank', 'paused'])
      await scheduler.addJob('work', 'interval', { id, args: [id], seconds: 10 });
    const db = new Database(path);
    db.prepare("UPDATE jobs SET version = '0x1' WHERE id = 'hex'").run();
    db.prepare("UPDATE jobs SET max_instances = ' ' WHERE id = 'blank'").run();
    db.prepare("UPDATE jobs SET paused = 'no' WHERE id = 'paused'").run();
    db.close();
    const quarantined: string[] = [];
    const errors: unknown[] = [];
    scheduler.on('job:quarantined', (e) => quarantined.push(e.jobId));
    scheduler.on('scheduler:error', (e) => errors.push(e));
    await clock.advance(30_000);
    assert.deepEqual(ran, ['good', 'good', 'good'], 'firing never stopped');
    assert.deepEqual(errors, []);
    assert.deepEqual(quarantined.sort(), ['blank', 'hex']);
    // `paused = 'no'` is never due (the claim wants 0), so it is not quarantined, but it is listed as such.
    const paused = (await scheduler.getJob('paused'))!;
    assert.match(paused.trigger.describe(), /the stored paused cannot be read/);
    await scheduler.shutdown();
  });
});

test('SQLite: odd stored job ids and run rows with times that are not times leave the API answering', async () => {
  await onSqlite(async ({ clock, scheduler, path }) => {
    scheduler.defineTask('work', () => {});
    await scheduler.start();
    await scheduler.addJob('work', 'interval', { id: 'a', seconds: 10 });
    await clock.advance(10_000);
    const db = new Database(path);
    // Ids the API would refuse as input: empty, over 200 characters, a control character.
    for (const id of ['', 'x'.repeat(201), 'a\u0001b'])
      db.prepare(
        `INSERT INTO jobs (id, name, task_id, trigger, args, max_instances, misfire_grace_time, coalesce, jitter,
           timeout, retry, paused, next_run_time, version, created_at, updated_at)
         SELECT ?, name, task_id, trigger, args, max_instances, misfire_grace_time, coalesce, jitter, timeout, retry,
           1, NULL, 1, created_at, updated_at FROM jobs WHERE id = 'a'`,
      ).run(id);
    db.prepare(
      "UPDATE runs SET scheduled_fire_time = 'garbage', finished_at = 'later' WHERE job_id = 'a'",
    ).run();
    db.close();
    const api = createApi(scheduler, { auth: false });
    const get = async (path: string) => {
      const r = await api.handle(new Request(`http://localhost/scheduler${path}`));
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    };
    const jobs = await get('/jobs');
    assert.equal(jobs.status, 200, JSON.stringify(jobs.body));
    assert.equal((jobs.body.items as unknown[]).length, 4);
    // Paging one by one goes past them (the cursor carries the odd id).
    const paged: string[] = [];
    for (let cursor: string | null = '', i = 0; cursor !== null && i < 10; i++) {
      const page = await get(`/jobs?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      paged.push(...(page.body.items as { id: string }[]).map((j) => j.id));
      cursor = page.body.nextCursor as string | null;
    }
    assert.equal(paged.length, 4, JSON.stringify(paged));
    const runs = await get('/runs');
    assert.equal(runs.status, 200, JSON.stringify(runs.body));
    const [run] = runs.body.items as { id: string; scheduledFireTime: string; error: { message: string } }[];
    assert.equal(run!.scheduledFireTime, '1970-01-01T00:00:00.000Z');
    assert.match(run!.error.message, /the stored scheduled_fire_time cannot be read/);
    assert.equal((await get(`/runs/${run!.id}`)).status, 200);
    assert.equal((await get('/jobs/a')).status, 200);
    await scheduler.shutdown();
  });
});

test('a job whose stored args cannot be read is never run with stand-ins: runJob refuses, a pending run is cancelled', async () => {
  await onSqlite(async ({ clock, scheduler, path }) => {
    const calls: unknown[][] = [];
    scheduler.defineTask('delete-user', (...args: unknown[]) => void calls.push(args));
    await scheduler.start();
    await scheduler.addJob('delete-user', 'interval', { id: 'd', args: ['user-42'], hours: 1 });
    scheduler.pause(); // runs are created but not started
    const pending = await scheduler.runJob('d');
    const db = new Database(path);
    db.prepare("UPDATE jobs SET args = '[\"user-' WHERE id = 'd'").run();
    db.close();
    for (const call of [() => scheduler.runJob('d'), () => scheduler.resumeJob('d')]) {
      await assert.rejects(call(), (err: unknown) => {
        assert.ok(isTickworkError(err, 'JOB_UNREADABLE'), String(err));
        assert.match(err.message, /the stored args.*repair its row or re-add it/);
        return true;
      });
    }
    scheduler.resume();
    await clock.advance(1000);
    assert.deepEqual(calls, [], 'the task never ran with stand-in args');
    const run = (await scheduler.getRun(pending.id))!;
    assert.equal(run.status, 'cancelled');
    assert.equal(run.error?.code, 'JOB_UNREADABLE');
    await scheduler.shutdown();
  });
});

test('SQLite: a nodes row written by hand leaves GET /nodes answering', async () => {
  await onSqlite(async ({ scheduler, path }) => {
    await scheduler.start();
    const db = new Database(path);
    db.prepare(
      `INSERT INTO nodes (id, host, pid, started_at, last_seen_at, clock_offset) VALUES (X'6869', 'h', 1, 'yesterday', 1e300, 0)`,
    ).run();
    db.close();
    const r = await createApi(scheduler, { auth: false }).handle(
      new Request('http://localhost/scheduler/nodes'),
    );
    assert.equal(r.status, 200);
    const body = (await r.json()) as { items: { id: string; startedAt: string; self: boolean }[] };
    const odd = body.items.find((n) => n.id === 'hi')!;
    assert.equal(odd.startedAt, '1970-01-01T00:00:00.000Z');
    assert.equal(body.items.filter((n) => n.self).length, 1);
    await scheduler.shutdown();
  });
});

test('SQLite: a pending run whose fire time cannot be read is cancelled (RUN_UNREADABLE), never started with a stand-in time', async () => {
  await onSqlite(async ({ clock, scheduler, path }) => {
    const keys: string[] = [];
    scheduler.defineTask('charge', (ctx: { idempotencyKey: string }) => void keys.push(ctx.idempotencyKey));
    await scheduler.start();
    await scheduler.addJob('charge', 'interval', { id: 'c', hours: 1, maxInstances: 2 });
    scheduler.pause(); // runs are created but not started
    const bad = await scheduler.runJob('c');
    await clock.advance(1);
    const good = await scheduler.runJob('c');
    const db = new Database(path);
    db.prepare("UPDATE runs SET scheduled_fire_time = 'garbage' WHERE id = ?").run(bad.id);
    db.close();
    scheduler.resume();
    await clock.advance(1000);
    // Only the readable run ran, keyed by its own fire time (2024-01-01T00:00:00.001Z, the manual clock's).
    assert.deepEqual(keys, ['c@2024-01-01T00:00:00.001Z']);
    const run = (await scheduler.getRun(bad.id))!;
    assert.equal(run.status, 'cancelled');
    assert.equal(run.error?.code, 'RUN_UNREADABLE');
    assert.match(run.error?.message ?? '', /scheduled_fire_time/);
    assert.equal((await scheduler.getRun(good.id))!.status, 'succeeded');
    await scheduler.shutdown();
  });
});

test('SQLite: run rows with times that are not numbers (text, hex, empty) never hold a job up or run blind', async () => {
  await onSqlite(async ({ clock, scheduler, path }) => {
    const keys: string[] = [];
    scheduler.defineTask('t', (ctx: { idempotencyKey: string }) => void keys.push(ctx.idempotencyKey));
    await scheduler.start();
    await scheduler.addJob('t', 'interval', { id: 'k', seconds: 10, maxInstances: 1 });
    await scheduler.pauseJob('k');
    const t = clock.now();
    const db = new Database(path);
    const insert = db.prepare(
      `INSERT INTO runs (id, job_id, task_id, scheduled_fire_time, not_before, status, manual, attempt, owner,
         lease_expires_at, started_at, error, created_at) VALUES (?, 'k', 't', ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)`,
    );
    // A running run of a dead process whose lease is text: never `< now`, it held the only slot for good.
    insert.run('lease', t - 5000, t - 5000, 'running', 1, 'dead', 'garbage', t - 5000, null, t);
    // Pending runs: a not_before that is text (never `<= now`), fire times that Number() reads as 0 and 16,
    // and a retry (an error recorded) whose fire time is text.
    insert.run('not-before', t - 4000, 'garbage', 'pending', 0, null, null, null, null, t);
    insert.run('empty', '', t - 3000, 'pending', 0, null, null, null, null, t);
    insert.run('hex', '0x10', t - 3000, 'pending', 0, null, null, null, null, t);
    insert.run(
      'retry',
      'garbage',
      t - 3000,
      'pending',
      1,
      null,
      null,
      null,
      '{"name":"Error","message":"boom"}',
      t,
    );
    // Numbers past the year 9999 (and past JavaScript's dates): never `<= now` either.
    insert.run('far-lease', t - 6000, t - 6000, 'running', 1, 'dead', 1e20, t - 6000, null, t);
    insert.run('far-not-before', t - 7000, Number.POSITIVE_INFINITY, 'pending', 0, null, null, null, null, t);
    db.close();
    await scheduler.resumeJob('k');
    await clock.advance(60_000); // beyond the default lease: the dead process's run is reaped whatever
    for (const id of ['not-before', 'empty', 'hex', 'retry', 'far-not-before']) {
      const run = (await scheduler.getRun(id))!;
      assert.deepEqual([run.status, run.error?.code], ['cancelled', 'RUN_UNREADABLE'], id);
    }
    assert.match((await scheduler.getRun('retry'))!.error!.message, /its error: boom/);
    assert.equal((await scheduler.getRun('lease'))!.status, 'abandoned');
    assert.equal((await scheduler.getRun('far-lease'))!.status, 'abandoned');
    // No stand-in fire time was run (the epoch, 16 ms after it); the job's own fire times were (every 10 s
    // from its start, the manual clock's 2024-01-01T00:00:00Z).
    assert.ok(keys.length >= 4, `the job fires again: ${keys.join(' ')}`);
    for (const key of keys) assert.match(key, /^k@2024-01-01T00:0\d:\d0\.000Z$/);
    await scheduler.shutdown();
  });
});

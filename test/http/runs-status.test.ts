// Runs, status, metrics and the event stream of the HTTP API, through api.handle on a ManualClock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { READER, harness, readUntil } from './helpers.js';

test('GET /runs filters by job, status list and time range, and pages with limit/offset', async () => {
  const h = await harness();
  await h.call('POST', '/scheduler/jobs', {
    body: { id: 'ok', taskId: 'tick', trigger: { type: 'interval', seconds: 10 } },
  });
  await h.call('POST', '/scheduler/jobs', {
    body: { id: 'bad', taskId: 'boom', trigger: { type: 'interval', seconds: 15 } },
  });
  await h.clock.advance(30_000); // ok: 10, 20, 30; bad: 15, 30
  const all = await h.json('GET', '/scheduler/runs');
  assert.equal(all.status, 200);
  assert.equal(all.body.items.length, 5);
  assert.equal(all.body.nextOffset, null);
  const ok = await h.json('GET', '/scheduler/runs?jobId=ok');
  assert.deepEqual(
    ok.body.items.map((r: { scheduledFireTime: string }) => r.scheduledFireTime),
    ['2024-01-01T00:00:30.000Z', '2024-01-01T00:00:20.000Z', '2024-01-01T00:00:10.000Z'],
  );
  assert.equal(ok.body.items[0].duration, 0);
  assert.equal(ok.body.items[0].lateness, 0);
  const failed = await h.json('GET', '/scheduler/runs?status=failed,timed-out');
  assert.equal(failed.body.items.length, 2);
  assert.ok(
    failed.body.items.every(
      (r: { jobId: string; error: { message: string } }) => r.jobId === 'bad' && r.error.message === 'boom',
    ),
  );
  const range = await h.json('GET', '/scheduler/runs?from=2024-01-01T00:00:15Z&to=2024-01-01T00:00:30Z');
  assert.equal(range.body.items.length, 2); // 15 and 20
  const page = await h.json('GET', '/scheduler/runs?limit=2&offset=2');
  assert.equal(page.body.items.length, 2);
  assert.equal(page.body.nextOffset, 4);
  for (const [query, field] of [
    ['status=done', 'status'],
    ['from=yesterday', 'from'],
    ['limit=0', 'limit'],
    ['offset=-1', 'offset'],
  ]) {
    const res = await h.json('GET', `/scheduler/runs?${query}`);
    assert.equal(res.status, 400, query);
    assert.equal(res.body.code, 'INVALID_OPTION');
    assert.equal(res.body.details.field, field, query);
  }
  await h.close();
});

test('GET /runs/:id returns a run with its error; unknown id is 404 RUN_NOT_FOUND', async () => {
  const h = await harness();
  await h.call('POST', '/scheduler/jobs', {
    body: { id: 'bad', taskId: 'boom', trigger: { type: 'interval', seconds: 10 } },
  });
  await h.clock.advance(10_000);
  const [first] = (await h.json('GET', '/scheduler/runs?jobId=bad')).body.items;
  const run = await h.json('GET', `/scheduler/runs/${first.id}`);
  assert.equal(run.status, 200);
  assert.equal(run.body.status, 'failed');
  assert.equal(run.body.error.name, 'Error');
  assert.equal(run.body.error.message, 'boom');
  assert.equal(run.body.attempt, 1);
  const missing = await h.json('GET', '/scheduler/runs/nope');
  assert.equal(missing.status, 404);
  assert.equal(missing.body.code, 'RUN_NOT_FOUND');
  await h.close();
});

test('GET /status reports state, node, store health with latency, jobs and running runs', async () => {
  const h = await harness({ scheduler: { nodeId: 'node-a' } });
  await h.call('POST', '/scheduler/jobs', {
    body: { id: 's', taskId: 'slow', trigger: { type: 'interval', seconds: 10 } },
  });
  await h.clock.advance(11_000);
  const res = await h.json('GET', '/scheduler/status');
  assert.equal(res.status, 200);
  assert.equal(res.body.state, 'running');
  assert.equal(res.body.nodeId, 'node-a');
  assert.equal(res.body.timezone, 'UTC');
  assert.equal(res.body.time, '2024-01-01T00:00:11.000Z');
  assert.equal(res.body.store.kind, 'memory');
  assert.equal(res.body.store.persistent, false);
  assert.equal(res.body.store.health.ok, true);
  assert.equal(typeof res.body.store.health.latency, 'number');
  assert.equal(res.body.jobs, 1);
  assert.deepEqual(res.body.tasks.sort(), ['boom', 'slow', 'tick']);
  assert.equal(res.body.runningRuns.length, 1);
  assert.equal(res.body.runningRuns[0].jobId, 's');
  assert.equal(res.body.runningRuns[0].status, 'running');
  await h.clock.advance(5000);
  await h.close();
});

test('GET /status is 503 when the store does not answer, and null health before start', async () => {
  const stopped = await harness({ start: false });
  const before = await stopped.json('GET', '/scheduler/status');
  assert.equal(before.status, 200);
  assert.equal(before.body.state, 'stopped');
  assert.equal(before.body.store.health, null);
  await stopped.close();

  // After a shutdown (the server still up, as with autoStart: false or bindLifecycle): 200, stopped.
  const down = await harness();
  await down.call('POST', '/scheduler/jobs', {
    body: { id: 'ok', taskId: 'tick', trigger: { type: 'interval', seconds: 10 } },
  });
  await down.scheduler.shutdown();
  const after = await down.json('GET', '/scheduler/status');
  assert.equal(after.status, 200, JSON.stringify(after.body));
  assert.deepEqual([after.body.state, after.body.store.health, after.body.jobs], ['stopped', null, 0]);
  await down.close();

  const h = await harness();
  h.scheduler.store.getNextWakeTime = () => Promise.reject(new Error('connection refused'));
  const res = await h.json('GET', '/scheduler/status');
  assert.equal(res.status, 503);
  assert.equal(res.body.store.health.ok, false);
  assert.equal(res.body.store.health.error, 'connection refused');
  await h.close();

  // A store that still reads but cannot write (a full disk): the loop's failure makes the health not ok.
  const w = await harness();
  w.scheduler.store.fireDueJobs = () => Promise.reject(new Error('database or disk is full'));
  await w.clock.advance(31_000); // the next wake-up (an idle memory store: 30 s)
  assert.equal(w.scheduler.storeError?.message, 'database or disk is full');
  const full = await w.json('GET', '/scheduler/status');
  assert.equal(full.status, 503);
  assert.equal(full.body.store.health.ok, false);
  assert.match(full.body.store.health.error, /^database or disk is full \(failing since .*Z\)$/);
  await w.close();
});

test('GET /status and the jobs gauge count jobs in the store (paused and active), waiting ones included', async () => {
  const h = await harness({ start: false });
  const gauge = async (paused: boolean): Promise<number> => {
    const text = await (await h.call('GET', '/scheduler/metrics')).text();
    const line = `tickwork_jobs{paused="${paused}"} `;
    const found = text.split('\n').find((l) => l.startsWith(line));
    assert.ok(found, `metric line ${line} in\n${text}`);
    return Number(found.slice(line.length));
  };
  const status = async (): Promise<number> => {
    const res = await h.json('GET', '/scheduler/status');
    assert.equal(res.status, 200);
    return res.body.jobs;
  };
  await h.scheduler.addJob('tick', 'interval', { id: 'a', seconds: 10 });
  await h.scheduler.addJob('tick', 'interval', { id: 'b', seconds: 10 });
  await h.scheduler.addJob('slow', 'interval', { id: 'c', seconds: 10, paused: true });
  // Before start(): the jobs waiting for it.
  assert.equal(await status(), 3);
  assert.equal(await gauge(true), 1);
  assert.equal(await gauge(false), 2);

  await h.scheduler.start();
  // Counted by the store (count(*) in the SQL stores): listing jobs would fail.
  const store = h.scheduler.store;
  const getJobs = store.getJobs;
  store.getJobs = () => Promise.reject(new Error('status and metrics must count, not list'));
  assert.equal(await status(), 3);
  await h.call('POST', '/scheduler/jobs/a/pause');
  await h.call('DELETE', '/scheduler/jobs/b');
  await h.call('POST', '/scheduler/jobs', {
    body: { id: 'd', taskId: 'tick', trigger: { type: 'interval', seconds: 10 } },
  });
  await h.call('POST', '/scheduler/jobs', {
    body: { id: 'e', taskId: 'tick', trigger: { type: 'interval', seconds: 10 }, paused: true },
  });
  // a, c, e paused; d active.
  assert.equal(await status(), 4);
  assert.equal(await gauge(true), 3);
  assert.equal(await gauge(false), 1);

  // A store without countJobs: the scheduler counts the listed jobs instead.
  store.getJobs = getJobs;
  Object.defineProperty(store, 'countJobs', { value: undefined, configurable: true });
  assert.equal(await h.scheduler.countJobs(), 4);
  assert.equal(await status(), 4);
  assert.equal(await gauge(true), 3);
  assert.equal(await gauge(false), 1);
  await h.close();
});

test('GET /metrics serves Prometheus text with run counters, histograms and gauges after runs', async () => {
  const h = await harness();
  await h.call('POST', '/scheduler/jobs', {
    body: { id: 'ok', taskId: 'tick', trigger: { type: 'interval', seconds: 10 } },
  });
  await h.call('POST', '/scheduler/jobs', {
    body: { id: 'bad', taskId: 'boom', trigger: { type: 'interval', seconds: 10 } },
  });
  await h.call('POST', '/scheduler/jobs', {
    body: { id: 'slow', taskId: 'slow', trigger: { type: 'interval', seconds: 2 }, misfireGraceTime: null },
  });
  await h.clock.advance(20_000);
  const res = await h.call('GET', '/scheduler/metrics');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^text\/plain/);
  const text = await res.text();
  const value = (line: string): number => {
    const found = text.split('\n').find((l) => l.startsWith(line + ' '));
    assert.ok(found, `metric line ${line} in\n${text}`);
    return Number(found.slice(line.length + 1));
  };
  assert.equal(value('tickwork_runs_total{outcome="succeeded"}'), 2 + 3); // tick at 10, 20; slow at 2, 8, 14 done
  assert.equal(value('tickwork_runs_total{outcome="failed"}'), 2);
  assert.ok(value('tickwork_runs_total{outcome="skipped"}') > 0); // slow: maxInstances 1
  assert.equal(value('tickwork_runs_total{outcome="missed"}'), 0);
  assert.equal(value('tickwork_runs_total{outcome="timed-out"}'), 0);
  assert.equal(value('tickwork_runs_total{outcome="abandoned"}'), 0);
  assert.equal(value('tickwork_runs_started_total'), 2 + 2 + 4);
  assert.equal(value('tickwork_run_lateness_seconds_count'), 8);
  assert.equal(value('tickwork_run_duration_seconds_count{outcome="succeeded"}'), 5);
  assert.equal(value('tickwork_run_duration_seconds_sum{outcome="succeeded"}'), 15);
  assert.equal(value('tickwork_running_runs'), 1);
  assert.equal(value('tickwork_jobs{paused="false"}'), 3);
  await h.clock.advance(5000);
  await h.close();
});

test('each API has its own metrics registry (two in one process do not collide); metrics: false drops the route', async () => {
  const a = await harness();
  const b = await harness();
  assert.notEqual(a.api.metrics!.registry, b.api.metrics!.registry);
  const shared = new Registry();
  const c = await harness({ api: { metrics: { registry: shared, prefix: 'sched_' } } });
  assert.equal(c.api.metrics!.registry, shared);
  assert.match(await shared.metrics(), /sched_runs_total/);
  const off = await harness({ api: { metrics: false } });
  assert.equal((await off.json('GET', '/scheduler/metrics')).body.code, 'ROUTE_NOT_FOUND');
  for (const h of [a, b, c, off]) await h.close();
});

test('GET /events streams scheduler events as SSE, with heartbeats, and cleans up on disconnect', async () => {
  const h = await harness({ api: { heartbeatInterval: 15_000 } });
  const res = await h.call('GET', '/scheduler/events', {
    token: null,
    headers: { authorization: `Bearer read-token-0123456789abcdef` },
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  assert.equal(res.headers.get('cache-control'), 'no-cache, no-transform');
  const reader = res.body!.getReader();
  const hello = await readUntil(reader, (t) => t.includes(': connected'));
  assert.match(hello, /^retry: 5000\n: connected\n\n/);

  await h.call('POST', '/scheduler/jobs', {
    body: { id: 'e', taskId: 'tick', trigger: { type: 'interval', seconds: 10 } },
  });
  await h.clock.advance(10_000);
  const text = await readUntil(reader, (t) => t.includes('event: job:executed'));
  const events = text
    .split('\n\n')
    .filter((block) => block.includes('event: '))
    .map((block) => {
      const lines = Object.fromEntries(
        block.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]),
      );
      return { id: lines.id, event: lines.event, data: JSON.parse(lines.data!) };
    });
  assert.deepEqual(
    events.map((e) => e.event),
    ['job:added', 'job:submitted', 'job:executed'],
  );
  assert.deepEqual(
    events.map((e) => e.id),
    ['1', '2', '3'],
  );
  assert.equal(events[2]!.data.jobId, 'e');
  assert.equal(events[2]!.data.scheduledFireTime, '2024-01-01T00:00:10.000Z');

  await h.clock.advance(5_000); // heartbeat every 15 s since the stream opened
  assert.match(await readUntil(reader, (t) => t.includes(': heartbeat')), /^: heartbeat\n\n$/);

  const timers = h.clock.pendingTimers;
  await reader.cancel(); // the client goes away
  assert.equal(h.clock.pendingTimers, timers - 1, 'the heartbeat timer is cleared');
  await h.clock.advance(10_000);
  await h.close();
});

test('GET /events?events= filters by name; aborting the request ends the stream; close() ends them all', async () => {
  const h = await harness({ api: { maxEventStreams: 2 } });
  const controller = new AbortController();
  const filtered = await h.api.handle(
    new Request('http://localhost/scheduler/events?events=job:error', {
      headers: { authorization: 'Bearer admin-token-0123456789abcdef' },
      signal: controller.signal,
    }),
  );
  const other = await h.call('GET', '/scheduler/events');
  const third = await h.json('GET', '/scheduler/events');
  assert.equal(third.status, 503);
  assert.equal(third.body.code, 'TOO_MANY_STREAMS');

  await h.call('POST', '/scheduler/jobs', {
    body: { id: 'b', taskId: 'boom', trigger: { type: 'interval', seconds: 10 } },
  });
  await h.clock.advance(10_000);
  const reader = filtered.body!.getReader();
  const text = await readUntil(reader, (t) => t.includes('event: job:error'));
  assert.doesNotMatch(text, /job:added|job:submitted/);
  assert.match(text, /"status":"failed"/);
  controller.abort();
  assert.equal((await readUntil(reader, () => false)).includes('event:'), false);
  assert.equal((await reader.read()).done, true);

  h.api.close();
  const rest = other.body!.getReader();
  await readUntil(rest, () => false);
  assert.equal((await rest.read()).done, true);
  await h.close();
});

test('GET /events?events= with a name that is no event is 400 naming `events`', async () => {
  const h = await harness();
  const bogus = await h.json('GET', '/scheduler/events?events=job:executed,bogus');
  assert.equal(bogus.status, 400);
  assert.equal(bogus.body.code, 'INVALID_OPTION');
  assert.equal(bogus.body.details.field, 'events');
  assert.equal(bogus.body.details.value, 'bogus');
  const controller = new AbortController();
  const ok = await h.api.handle(
    new Request('http://localhost/scheduler/events?events=job:executed,job:task-missing', {
      headers: { authorization: 'Bearer admin-token-0123456789abcdef' },
      signal: controller.signal,
    }),
  );
  assert.equal(ok.status, 200);
  controller.abort();
  await h.close();
});

test('GET /runs with a cursor that decodes but lies outside the Date range is 400 naming `cursor`', async () => {
  const h = await harness();
  for (const t of [8.64e15, -8.64e15, 9_007_199_254_740_991]) {
    const cursor = Buffer.from(JSON.stringify({ t, k: 0 })).toString('base64url');
    const res = await h.json('GET', `/scheduler/runs?cursor=${cursor}`);
    assert.equal(res.status, 400, String(t));
    assert.equal(res.body.code, 'INVALID_OPTION');
    assert.equal(res.body.details.field, 'cursor');
  }
  const edge = Buffer.from(JSON.stringify({ t: 8.64e15 - 2, k: 0 })).toString('base64url');
  assert.equal((await h.json('GET', `/scheduler/runs?cursor=${edge}`)).status, 200);
  await h.close();
});

test('a retried run: lateness is from the time the retry was due; the lateness histogram counts first attempts only', async () => {
  const h = await harness();
  await h.call('POST', '/scheduler/jobs', {
    body: {
      id: 'flaky',
      taskId: 'boom',
      trigger: { type: 'interval', seconds: 60 },
      retry: { attempts: 3, backoff: 'fixed', delay: 5000 },
    },
  });
  await h.clock.advance(60_000); // attempt 1 at 60 s
  await h.clock.advance(5000); // attempt 2 at 65 s
  await h.clock.advance(5000); // attempt 3 at 70 s: failed for good
  const [run] = (await h.json('GET', '/scheduler/runs?jobId=flaky')).body.items;
  assert.equal(run.attempt, 3);
  const full = (await h.json('GET', `/scheduler/runs/${run.id}`)).body;
  // Started when due (fixed 5 s backoff, no jitter), 10 s after the fire time.
  assert.equal(Date.parse(full.startedAt) - Date.parse(full.scheduledFireTime), 10_000);
  assert.equal(full.lateness, 0);
  const text = await (await h.call('GET', '/scheduler/metrics')).text();
  assert.match(text, /^tickwork_run_lateness_seconds_count 1$/m);
  assert.match(text, /^tickwork_runs_started_total 3$/m);
  await h.close();
});

test('an abandoned run has no duration: its finishedAt is when the expired lease was found', async () => {
  const h = await harness();
  await h.scheduler.addJob('tick', 'interval', { id: 'j', hours: 1 });
  h.scheduler.pause(); // the run below is leased by a process that then dies, not by this one
  const run = await h.scheduler.runJob('j');
  const [leased] = await h.scheduler.store.acquireRuns('dead-node', new Date(h.clock.now()), 1, 1000);
  assert.equal(leased?.run.id, run.id);
  h.scheduler.resume();
  await h.clock.advance(30_000);
  const res = await h.json('GET', `/scheduler/runs/${run.id}`);
  assert.equal(res.body.status, 'abandoned');
  assert.equal(res.body.owner, 'dead-node');
  assert.ok(res.body.startedAt && res.body.finishedAt);
  assert.equal(res.body.duration, null);
  const list = await h.json('GET', '/scheduler/runs?jobId=j');
  assert.equal(list.body.items[0].duration, null);
  await h.close();
});

test('GET /nodes lists the processes sharing the store; with a memory store, this one alone', async () => {
  const h = await harness();
  const res = await h.json('GET', '/scheduler/nodes');
  assert.equal(res.status, 200);
  assert.equal(res.body.items.length, 1);
  const [node] = res.body.items;
  assert.deepEqual([node.id, node.pid, node.self], [h.scheduler.nodeId, process.pid, true]);
  assert.equal(node.startedAt, '2024-01-01T00:00:00.000Z');
  const reader = await h.json('GET', '/scheduler/nodes', { token: READER });
  assert.equal(reader.status, 200, 'a read token may list them');
  await h.close();
});

test('a run cancelled while it waited for a retry has no duration (its attempt had ended)', async () => {
  const h = await harness();
  await h.scheduler.addJob('boom', 'interval', {
    id: 'b',
    seconds: 10,
    retry: { attempts: 3, backoff: 'fixed', delay: 3_600_000 },
  });
  await h.clock.advance(10_000); // the first attempt fails; the retry is an hour away
  await h.scheduler.pause();
  await h.clock.advance(50 * 60_000);
  // Cancels the run waiting for its retry (it ran: it stays in the history, though it was fired ahead).
  await h.scheduler.removeJob('b');
  const list = await h.json('GET', '/scheduler/runs?jobId=b&status=cancelled');
  assert.equal(list.body.items.length, 1, JSON.stringify(list.body));
  assert.equal(list.body.items[0].duration, null);
  await h.close();
});

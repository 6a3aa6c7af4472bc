// The API mounted by each framework plugin: Fastify (inject), Hono (app.request), Express (ephemeral port).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import Fastify from 'fastify';
import { Hono } from 'hono';
import express from 'express';
import { Scheduler, isTickworkError, silentLogger } from '../../src/index.js';
import { createApi } from '../../src/http/api.js';
import { ManualClock } from '../../src/testing.js';
import { tickwork, tickworkFrameworkErrors } from '../../src/plugins/fastify.js';
import { tickworkApp } from '../../src/plugins/hono.js';
import { tickworkRouter, bindLifecycle } from '../../src/plugins/express.js';
import { ADMIN, AUTH, READER } from './helpers.js';

const auth = (token = ADMIN) => ({ authorization: `Bearer ${token}` });
const job = { id: 'j', taskId: 'tick', trigger: { type: 'interval', seconds: 10 } };

function makeScheduler(clock: ManualClock): Scheduler {
  const scheduler = new Scheduler({ clock, logger: silentLogger });
  scheduler.defineTask('tick', () => {});
  return scheduler;
}

test('fastify: the api option mounts the API under /scheduler, keeps the body unread, streams SSE', async () => {
  const clock = new ManualClock('2024-01-01T00:00:00Z');
  const app = Fastify({ logger: false });
  await app.register(tickwork, { scheduler: makeScheduler(clock), api: { auth: AUTH, bodyLimit: 2048 } });
  await app.ready();
  assert.ok(app.schedulerApi);
  const created = await app.inject({ method: 'POST', url: '/scheduler/jobs', headers: auth(), payload: job });
  assert.equal(created.statusCode, 201, created.body);
  assert.equal(created.headers.location, '/scheduler/jobs/j');
  const list = await app.inject({ method: 'GET', url: '/scheduler/jobs?limit=1', headers: auth(READER) });
  assert.equal(list.json().items[0].id, 'j');
  const forbidden = await app.inject({ method: 'DELETE', url: '/scheduler/jobs/j', headers: auth(READER) });
  assert.equal(forbidden.statusCode, 403);
  assert.equal(forbidden.json().code, 'FORBIDDEN');
  const unauthorized = await app.inject({ method: 'GET', url: '/scheduler/status' });
  assert.equal(unauthorized.statusCode, 401);
  const invalid = await app.inject({
    method: 'POST',
    url: '/scheduler/jobs',
    headers: auth(),
    payload: { ...job, id: 'k', maxInstances: -1 },
  });
  assert.equal(invalid.statusCode, 400);
  assert.equal(invalid.json().details.field, 'maxInstances');
  const big = await app.inject({
    method: 'POST',
    url: '/scheduler/jobs',
    headers: auth(),
    payload: { ...job, args: ['x'.repeat(5000)] },
  });
  assert.equal(big.statusCode, 413);
  assert.equal(big.json().code, 'PAYLOAD_TOO_LARGE');
  const text = await app.inject({
    method: 'POST',
    url: '/scheduler/jobs',
    headers: { ...auth(), 'content-type': 'text/plain' },
    payload: 'hello',
  });
  assert.equal(text.statusCode, 415);
  const deleted = await app.inject({ method: 'DELETE', url: '/scheduler/jobs/j', headers: auth() });
  assert.equal(deleted.statusCode, 204);
  const unknown = await app.inject({ method: 'GET', url: '/scheduler/nope', headers: auth() });
  assert.equal(unknown.statusCode, 404);
  assert.equal(unknown.json().code, 'ROUTE_NOT_FOUND');

  const sse = await app.inject({
    method: 'GET',
    url: '/scheduler/events',
    headers: auth(),
    payloadAsStream: true,
  });
  assert.equal(sse.statusCode, 200);
  assert.equal(sse.headers['content-type'], 'text/event-stream; charset=utf-8');
  const stream = sse.stream() as Readable;
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString()));
  await app.inject({ method: 'POST', url: '/scheduler/jobs', headers: auth(), payload: job });
  await clock.advance(10_000);
  assert.match(chunks.join(''), /event: job:executed\ndata: \{"jobId":"j"/);
  await app.close(); // ends the stream (preClose) and stops the scheduler
  assert.equal(app.scheduler.state, 'stopped');
});

test('fastify: without the api option nothing is mounted (the existing behaviour)', async () => {
  const app = Fastify({ logger: false });
  await app.register(tickwork, { clock: new ManualClock(0) });
  await app.ready();
  assert.equal(app.schedulerApi, null);
  assert.equal((await app.inject({ method: 'GET', url: '/scheduler/jobs' })).statusCode, 404);
  await app.close();
});

test('fastify: a custom prefix', async () => {
  const app = Fastify({ logger: false });
  await app.register(tickwork, {
    scheduler: makeScheduler(new ManualClock(0)),
    api: { auth: AUTH, prefix: '/ops/cron' },
  });
  await app.ready();
  const res = await app.inject({ method: 'GET', url: '/ops/cron/status', headers: auth() });
  assert.equal(res.statusCode, 200);
  assert.equal(res.json().state, 'running');
  const doc = await app.inject({ method: 'GET', url: '/ops/cron/openapi.json', headers: auth() });
  assert.deepEqual(doc.json().servers, [{ url: '/ops/cron' }]);
  await app.close();
});

test('fastify: registered in a context with a route prefix, the API answers under that prefix plus its own', async () => {
  const app = Fastify({ logger: false });
  await app.register(
    async (admin) => {
      await admin.register(tickwork, { scheduler: makeScheduler(new ManualClock(0)), api: { auth: AUTH } });
    },
    { prefix: '/admin' },
  );
  await app.ready();
  const status = await app.inject({ method: 'GET', url: '/admin/scheduler/status', headers: auth() });
  assert.equal(status.statusCode, 200, status.body);
  assert.equal(status.json().state, 'running');
  const created = await app.inject({
    method: 'POST',
    url: '/admin/scheduler/jobs',
    headers: auth(),
    payload: job,
  });
  assert.equal(created.statusCode, 201, created.body);
  assert.equal(created.headers.location, '/admin/scheduler/jobs/j');
  const doc = await app.inject({ method: 'GET', url: '/admin/scheduler/openapi.json', headers: auth() });
  assert.deepEqual(doc.json().servers, [{ url: '/admin/scheduler' }]);
  assert.equal((await app.inject({ method: 'GET', url: '/admin/scheduler/' })).statusCode, 200);
  await app.close();
});

test('hono: app.route(prefix, tickworkApp(...)) serves the API at that prefix (app.request, no sockets)', async () => {
  const clock = new ManualClock('2024-01-01T00:00:00Z');
  const scheduler = makeScheduler(clock);
  await scheduler.start();
  const app = new Hono();
  const sub = tickworkApp(scheduler, { auth: AUTH });
  app.route('/scheduler', sub);
  app.get('/', (c) => c.text('home'));
  const created = await app.request('/scheduler/jobs', {
    method: 'POST',
    headers: { ...auth(), 'content-type': 'application/json' },
    body: JSON.stringify(job),
  });
  assert.equal(created.status, 201);
  const got = await app.request('/scheduler/jobs/j', { headers: auth(READER) });
  assert.equal(((await got.json()) as { nextFireTimes: string[] }).nextFireTimes.length, 5);
  assert.equal((await app.request('/scheduler/jobs')).status, 401);
  assert.equal(await (await app.request('/')).text(), 'home');
  // Mounted elsewhere, the prefix follows the mount path.
  const other = new Hono();
  other.route('/admin/scheduler', tickworkApp(scheduler, { auth: AUTH }));
  const status = await other.request('/admin/scheduler/status', { headers: auth() });
  assert.equal(status.status, 200);
  const doc = (await (await other.request('/admin/scheduler/openapi.json', { headers: auth() })).json()) as {
    servers: unknown;
  };
  assert.deepEqual(doc.servers, [{ url: '/admin/scheduler' }]);
  // On its own, the sub-app answers under options.prefix.
  assert.equal((await sub.request('/scheduler/status', { headers: auth() })).status, 200);
  sub.api.close();
  await scheduler.shutdown();
});

test('express: tickworkRouter serves the API; bindLifecycle starts on listen and stops on close', async () => {
  const clock = new ManualClock('2024-01-01T00:00:00Z');
  const scheduler = makeScheduler(clock);
  const app = express();
  app.use(express.json()); // a body parsed before the router is re-serialised
  const router = tickworkRouter(scheduler, { auth: AUTH });
  app.use(router);
  app.get('/', (_req, res) => void res.send('home'));
  const server = app.listen(0, '127.0.0.1');
  const lifecycle = bindLifecycle(scheduler, server, { signals: [], api: router.api, exit: false });
  await lifecycle.started;
  assert.equal(scheduler.state, 'running');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const created = await fetch(`${base}/scheduler/jobs`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify(job),
    });
    assert.equal(created.status, 201);
    const list = (await (await fetch(`${base}/scheduler/jobs`, { headers: auth(READER) })).json()) as {
      items: { id: string }[];
    };
    assert.equal(list.items[0]?.id, 'j');
    assert.equal((await fetch(`${base}/scheduler/jobs`)).status, 401);
    assert.equal(await (await fetch(`${base}/`)).text(), 'home');
    const invalid = await fetch(`${base}/scheduler/jobs`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ ...job, trigger: { type: 'interval', seconds: 'x' } }),
    });
    assert.equal(invalid.status, 400);
    assert.equal(((await invalid.json()) as { details: { field: string } }).details.field, 'trigger.seconds');

    // SSE through a real socket: the first events, then the client disconnects.
    const controller = new AbortController();
    const sse = await fetch(`${base}/scheduler/events`, { headers: auth(), signal: controller.signal });
    assert.equal(sse.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const reader = sse.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes(': connected')) text += decoder.decode((await reader.read()).value);
    await clock.advance(10_000);
    while (!text.includes('event: job:executed')) text += decoder.decode((await reader.read()).value);
    assert.match(text, /event: job:submitted/);
    controller.abort();
  } finally {
    await lifecycle.shutdown();
  }
  assert.equal(scheduler.state, 'stopped');
  assert.equal(server.listening, false);
});

test("express: the router answers under its prefix wherever it is mounted (app.use('/scheduler', router) too)", async () => {
  const scheduler = makeScheduler(new ManualClock('2024-01-01T00:00:00Z'));
  await scheduler.start();
  const app = express();
  // Mounted at the prefix itself: Express hands the router `/jobs` for `/scheduler/jobs`.
  app.use('/scheduler', tickworkRouter(scheduler, { auth: AUTH }));
  // Mounted in a router of its own with other routes: only the prefix is the API's.
  const admin = express.Router();
  admin.use(tickworkRouter(scheduler, { auth: AUTH, prefix: '/admin/jobs-api' }));
  admin.get('/users', (_req, res) => void res.send('users'));
  app.use('/admin', admin);
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((r) => server.once('listening', () => r()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const created = await fetch(`${base}/scheduler/jobs`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify(job),
    });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('location'), '/scheduler/jobs/j');
    const list = (await (await fetch(`${base}/scheduler/jobs`, { headers: auth() })).json()) as {
      items: { id: string }[];
    };
    assert.deepEqual(
      list.items.map((j) => j.id),
      ['j'],
    );
    const dashboard = await fetch(`${base}/scheduler`, { redirect: 'manual' });
    assert.equal(dashboard.status, 308);
    assert.equal(dashboard.headers.get('location'), '/scheduler/');
    assert.equal((await fetch(`${base}/scheduler/`)).status, 200);
    assert.equal((await fetch(`${base}/admin/jobs-api/status`, { headers: auth() })).status, 200);
    assert.equal(await (await fetch(`${base}/admin/users`)).text(), 'users');
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    await scheduler.shutdown({ wait: false });
  }
});

test('express: a SIGTERM shuts down gracefully, waiting for a running job', async () => {
  const clock = new ManualClock('2024-01-01T00:00:00Z');
  const scheduler = new Scheduler({ clock, logger: silentLogger });
  let finished = false;
  scheduler.defineTask('slow', async () => {
    await clock.sleep(5000);
    finished = true;
  });
  await scheduler.addJob('slow', 'date', { runDate: '2024-01-01T00:00:01Z' });
  const app = express();
  const server = app.listen(0, '127.0.0.1');
  const lifecycle = bindLifecycle(scheduler, server, { signals: ['SIGTERM'], exit: false });
  await lifecycle.started;
  await clock.advance(1000);
  assert.equal(scheduler.getRunningRuns().length, 1);
  process.emit('SIGTERM', 'SIGTERM');
  const done = lifecycle.shutdown(); // the same shutdown the signal started
  await clock.advance(4000);
  assert.equal(scheduler.state, 'stopping');
  await clock.advance(1000);
  await done;
  assert.equal(finished, true);
  assert.equal(scheduler.state, 'stopped');
  assert.equal(server.listening, false);
  assert.equal(process.listenerCount('SIGTERM'), 0);
});

test('fastify: autoStart false leaves the start to the app (after listen); close still shuts down', async () => {
  const app = Fastify({ logger: false });
  await app.register(tickwork, {
    scheduler: makeScheduler(new ManualClock(0)),
    autoStart: false,
    api: { auth: AUTH },
  });
  await app.ready();
  assert.equal(app.scheduler.state, 'stopped');
  await app.scheduler.start();
  assert.equal(app.scheduler.state, 'running');
  await app.close();
  assert.equal(app.scheduler.state, 'stopped');
  // Never started: close is fine too.
  const idle = Fastify({ logger: false });
  await idle.register(tickwork, { scheduler: makeScheduler(new ManualClock(0)), autoStart: false });
  await idle.ready();
  await idle.close();
});

test('fastify: tickworkFrameworkErrors gives a path Fastify cannot decode (%FF) the API error shape', async () => {
  const app = Fastify({ logger: false, frameworkErrors: tickworkFrameworkErrors });
  await app.register(tickwork, { scheduler: makeScheduler(new ManualClock(0)), api: { auth: AUTH } });
  await app.ready();
  const bad = await app.inject({ method: 'GET', url: '/scheduler/jobs/%FF', headers: auth() });
  assert.equal(bad.statusCode, 400);
  assert.deepEqual(bad.json(), {
    code: 'INVALID_OPTION',
    message: 'Expected `id` in the path to be percent-encoded UTF-8',
    details: { field: 'id', value: '%FF' },
  });
  // Under the prefix the API answers, so authentication comes first.
  const anonymous = await app.inject({ method: 'POST', url: '/scheduler/jobs/%FF/run' });
  assert.equal(anonymous.statusCode, 401);
  assert.equal(anonymous.json().code, 'UNAUTHORIZED');
  const outside = await app.inject({ method: 'GET', url: '/elsewhere/%FF' });
  assert.equal(outside.statusCode, 400);
  assert.deepEqual(outside.json(), {
    code: 'INVALID_OPTION',
    message: 'The request path is not valid percent-encoded UTF-8',
    details: { field: 'path' },
  });
  await app.close();
});

test('hono and express: a path parameter with %FF gets the API error shape', async () => {
  const scheduler = makeScheduler(new ManualClock(0));
  const hono = new Hono();
  hono.route('/scheduler', tickworkApp(scheduler, { auth: AUTH }));
  await scheduler.start();
  const res = await hono.request('/scheduler/jobs/%FF', { headers: auth() });
  assert.equal(res.status, 400);
  assert.equal(((await res.json()) as { details: { field: string } }).details.field, 'id');

  const app = express();
  app.use(tickworkRouter(scheduler, { auth: AUTH }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((r) => server.once('listening', () => r()));
  try {
    const { port } = server.address() as AddressInfo;
    const viaExpress = await fetch(`http://127.0.0.1:${port}/scheduler/jobs/%FF`, { headers: auth() });
    assert.equal(viaExpress.status, 400);
    assert.equal(((await viaExpress.json()) as { code: string }).code, 'INVALID_OPTION');
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    await scheduler.shutdown({ wait: false });
  }
});

test("fastify: Fastify's register options are accepted (logLevel sets the scheduler logger's level); other keys are refused naming the plugin's options", async () => {
  const lines: { level: number; name?: string; msg: string }[] = [];
  const stream = { write: (line: string) => void lines.push(JSON.parse(line)) };
  for (const logLevel of [undefined, 'warn']) {
    lines.length = 0;
    const app = Fastify({ logger: { level: 'info', stream } });
    await app.register(tickwork, {
      clock: new ManualClock(0),
      prefix: '/ignored',
      ...(logLevel ? { logLevel } : {}),
      setup: (s) => s.addJob(() => {}, 'interval', { seconds: 1, id: 'a', name: 'a' }).then(() => undefined),
    } as Parameters<typeof tickwork>[1]);
    await app.ready();
    await app.scheduler.pauseJob('a');
    await app.close();
    const paused = lines.filter((l) => l.name === 'tickwork' && l.msg === 'Paused job "a"');
    // pino's info is 30: shown at the server's level, hidden at the plugin's `warn`.
    assert.equal(paused.length, logLevel ? 0 : 1, `logLevel ${logLevel}`);
  }
  const typo = Fastify({ logger: false });
  await assert.rejects(
    async () => {
      await typo.register(tickwork, { timezoen: 'UTC' } as never);
      await typo.ready();
    },
    (e: Error & { code?: string; details?: { field?: string } }) => {
      assert.equal(e.code, 'UNKNOWN_OPTION');
      assert.equal(e.details?.field, 'timezoen');
      assert.match(e.message, /`setup`/);
      assert.match(e.message, /`timezone`/);
      return true;
    },
  );
  const both = Fastify({ logger: false });
  await assert.rejects(
    async () => {
      await both.register(tickwork, {
        scheduler: makeScheduler(new ManualClock(0)),
        timezone: 'Europe/Paris',
      });
      await both.ready();
    },
    (e: Error & { code?: string; details?: { field?: string } }) =>
      e.code === 'INVALID_OPTION' && e.details?.field === 'timezone' && /constructor/.test(e.message),
  );
});

test("fastify: the plugin's own options are checked at registration, naming the option (a bad shutdown left the scheduler running after close)", async () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ shutdown: { wait: 'no' } }, 'shutdown.wait'],
    [{ shutdown: { timeout: -5 } }, 'shutdown.timeout'],
    [{ shutdown: { foo: 1 } }, 'shutdown.foo'],
    [{ shutdown: 'now' }, 'shutdown'],
    [{ autoStart: 'no' }, 'autoStart'],
    [{ startPaused: 'yes' }, 'startPaused'],
    [{ setup: 5 }, 'setup'],
    [{ api: true }, 'api'],
    [{ logLevel: 'loud' }, 'logLevel'],
  ];
  // The same with Fastify's logger on and off: the plugin's options do not depend on it.
  for (const logger of [{ level: 'info', stream: { write: () => {} } }, false] as const) {
    for (const [options, field] of cases) {
      const app = Fastify({ logger });
      let scheduler: Scheduler | undefined;
      await assert.rejects(
        async () => {
          await app.register(tickwork, { clock: new ManualClock(0), ...options } as never);
          await app.ready();
          scheduler = app.scheduler;
        },
        (e: Error & { code?: string; details?: { field?: string } }) => {
          assert.ok(['INVALID_OPTION', 'UNKNOWN_OPTION'].includes(e.code ?? ''), `${field}: ${e.message}`);
          assert.equal(e.details?.field, field, e.message);
          if (field === 'logLevel') {
            assert.equal(
              e.message,
              'Expected `logLevel` to be one of "trace", "debug", "info", "warn", "error", "fatal", "silent", got `"loud"`',
            );
          }
          return true;
        },
      );
      assert.equal(scheduler, undefined, `${field} (logger ${logger ? 'on' : 'off'}): no scheduler started`);
      await app.close();
    }
    // A known level is taken either way.
    const fine = Fastify({ logger });
    await fine.register(tickwork, { clock: new ManualClock(0), logLevel: 'warn' } as never);
    await fine.ready();
    await fine.close();
  }
});

test('a scheduler that is none is INVALID_OPTION naming `scheduler`, in every plugin and createApi', async () => {
  const refused = (err: unknown) =>
    isTickworkError(err, 'INVALID_OPTION') &&
    err.details.field === 'scheduler' &&
    /Expected `scheduler` to be a tickwork Scheduler/.test(err.message);
  for (const bad of [null, undefined, 5, {}, { start() {} }]) {
    assert.throws(() => tickworkRouter(bad as never, { auth: AUTH }), refused, String(bad));
    assert.throws(() => tickworkApp(bad as never, { auth: AUTH }), refused, String(bad));
    assert.throws(() => createApi(bad as never, { auth: AUTH }), refused, String(bad));
  }
  const app = Fastify({ logger: false });
  await assert.rejects(
    (async () => {
      await app.register(tickwork, { scheduler: 5 as never });
      await app.ready();
    })(),
    refused,
  );
  await app.close();
});

test('bindLifecycle checks its arguments before listening for anything, naming the option', async () => {
  const clock = new ManualClock('2024-01-01T00:00:00Z');
  const scheduler = makeScheduler(clock);
  const server = express().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const before = ['SIGINT', 'SIGTERM', 'SIGHUP'].map((s) => process.listenerCount(s));
  const listening = server.listenerCount('listening');
  try {
    const cases: [unknown, unknown, unknown, string, string][] = [
      [null, server, {}, 'INVALID_OPTION', 'scheduler'],
      [scheduler, {}, {}, 'INVALID_OPTION', 'server'],
      [scheduler, server, 'SIGINT', 'INVALID_OPTION', 'options'],
      [scheduler, server, { signal: ['SIGINT'] }, 'UNKNOWN_OPTION', 'signal'],
      [scheduler, server, { signals: 'SIGINT' }, 'INVALID_OPTION', 'signals'],
      [scheduler, server, { signals: ['SIGINT', 'x'] }, 'INVALID_OPTION', 'signals'],
      // (signals no process can listen for: process.on throws for them, after the others were bound)
      [scheduler, server, { signals: ['SIGINT', 'SIGKILL'] }, 'INVALID_OPTION', 'signals'],
      [scheduler, server, { signals: ['SIGINT', 'SIGSTOP'] }, 'INVALID_OPTION', 'signals'],
      [scheduler, server, { shutdown: { timeout: -1 } }, 'INVALID_OPTION', 'shutdown.timeout'],
      [scheduler, server, { shutdown: { wait: 'yes' } }, 'INVALID_OPTION', 'shutdown.wait'],
      [scheduler, server, { shutdown: { timout: 5 } }, 'UNKNOWN_OPTION', 'shutdown.timout'],
      [scheduler, server, { connectionGrace: '5s' }, 'INVALID_OPTION', 'connectionGrace'],
      [scheduler, server, { exit: 0 }, 'INVALID_OPTION', 'exit'],
      [scheduler, server, { startPaused: 'no' }, 'INVALID_OPTION', 'startPaused'],
      [scheduler, server, { api: {} }, 'INVALID_OPTION', 'api'],
    ];
    for (const [s, srv, options, code, field] of cases) {
      assert.throws(
        () => bindLifecycle(s as never, srv as never, options as never),
        (err: unknown) => isTickworkError(err) && err.code === code && err.details.field === field,
        `${code} ${field}`,
      );
    }
    // Nothing was listened for, and the scheduler was not started.
    assert.deepEqual(
      ['SIGINT', 'SIGTERM', 'SIGHUP'].map((s) => process.listenerCount(s)),
      before,
    );
    assert.equal(server.listenerCount('listening'), listening);
    assert.equal(scheduler.state, 'stopped');
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test("bindLifecycle takes every signal Node lets a process listen for, SIGBREAK (Windows' Ctrl+Break) on every platform", () => {
  const scheduler = makeScheduler(new ManualClock('2024-01-01T00:00:00Z'));
  const server = http.createServer();
  // Node's process documentation: SIGBREAK "can be listened on" outside Windows, though nothing sends it
  // there; a configuration shared by Windows and Linux hosts names it.
  const signals = ['SIGINT', 'SIGTERM', 'SIGBREAK', 'SIGHUP', 'SIGUSR2'] as NodeJS.Signals[];
  const before = signals.map((s) => process.listenerCount(s));
  const lifecycle = bindLifecycle(scheduler, server, { signals, exit: false });
  assert.deepEqual(
    signals.map((s) => process.listenerCount(s)),
    before.map((n) => n + 1),
  );
  lifecycle.dispose();
  assert.deepEqual(
    signals.map((s) => process.listenerCount(s)),
    before,
  );
});

/**
 * Three requests on one keep-alive connection (an agent with one socket): a small one, one whose body is
 * larger than `bodyLimit`, a small one again. Each gives up after 5 s (a connection left unusable hangs).
 */
async function keepAliveAfter413(port: number, prefix: string): Promise<string[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const send = (method: string, body?: string) =>
    new Promise<string>((resolve) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method,
          path: `${prefix}/${method === 'GET' ? 'status' : 'jobs'}`,
          agent,
          timeout: 5000,
          headers: {
            ...auth(),
            'content-type': 'application/json',
            ...(body === undefined ? {} : { 'content-length': Buffer.byteLength(body) }),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(`${res.statusCode} ${res.headers.connection}`));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (err) => resolve(`error ${(err as NodeJS.ErrnoException).code ?? err.message}`));
      req.end(body);
    });
  try {
    return [await send('GET'), await send('POST', 'x'.repeat(100_000)), await send('GET'), await send('GET')];
  } finally {
    agent.destroy();
  }
}

test('a body larger than bodyLimit is answered 413 with Connection: close, so a keep-alive client reconnects (Fastify, Express)', async () => {
  const expected = ['200 keep-alive', '413 close', '200 keep-alive', '200 keep-alive'];
  const fastify = Fastify({ logger: false });
  await fastify.register(tickwork, {
    scheduler: makeScheduler(new ManualClock('2024-01-01T00:00:00Z')),
    api: { auth: AUTH, bodyLimit: 1024 },
  });
  await fastify.listen({ port: 0, host: '127.0.0.1' });
  try {
    const port = (fastify.server.address() as AddressInfo).port;
    assert.deepEqual(await keepAliveAfter413(port, '/scheduler'), expected);
  } finally {
    await fastify.close();
  }
  const scheduler = makeScheduler(new ManualClock('2024-01-01T00:00:00Z'));
  const app = express();
  app.use(tickworkRouter(scheduler, { auth: AUTH, bodyLimit: 1024 }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  await scheduler.start();
  try {
    assert.deepEqual(await keepAliveAfter413((server.address() as AddressInfo).port, '/scheduler'), expected);
  } finally {
    await scheduler.shutdown();
    await new Promise((resolve) => server.close(resolve));
  }
});

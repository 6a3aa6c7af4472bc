// Authentication, roles, CORS, body limits and routing errors of the HTTP API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler, TickworkError, silentLogger, isTickworkError } from '../../src/index.js';
import { ApiError, TokenAuth, constantTimeEqual, createApi } from '../../src/http/index.js';
import { errorResponse } from '../../src/http/errors.js';
import { captureLogger } from '../helpers/logger.js';
import { ADMIN, AUTH, READER, harness } from './helpers.js';

test('constantTimeEqual compares secrets of any length through their digests', () => {
  assert.equal(constantTimeEqual('secret-token', 'secret-token'), true);
  assert.equal(constantTimeEqual('secret-token', 'secret-tokeN'), false);
  assert.equal(constantTimeEqual('short', 'a much longer secret value'), false); // no length error
  assert.equal(constantTimeEqual('', ''), true);
});

test('TokenAuth maps bearer tokens to roles and rejects everything else', () => {
  const auth = new TokenAuth(AUTH);
  assert.equal(auth.authenticate(`Bearer ${ADMIN}`), 'admin');
  assert.equal(auth.authenticate(`bearer ${READER}`), 'read');
  assert.equal(auth.authenticate(null), null);
  assert.equal(auth.authenticate(''), null);
  assert.equal(auth.authenticate(ADMIN), null);
  assert.equal(auth.authenticate(`Basic ${ADMIN}`), null);
  assert.equal(auth.authenticate(`Bearer ${ADMIN}x`), null);
  assert.equal(auth.authenticate(`Bearer ${ADMIN.slice(0, -1)}`), null);
  for (const [tokens, field] of [
    [[], 'auth.tokens'],
    [[{ token: 'short', role: 'admin' }], 'auth.tokens[0].token'],
    [[{ token: ADMIN, role: 'root' }], 'auth.tokens[0].role'],
    [
      [
        { token: ADMIN, role: 'admin' },
        { token: ADMIN, role: 'read' },
      ],
      'auth.tokens[1].token',
    ],
  ] as const) {
    assert.throws(
      () => new TokenAuth({ tokens: tokens as never }),
      (err: unknown) => isTickworkError(err, 'INVALID_OPTION') && err.details.field === field,
    );
  }
});

test('no token is 401 with WWW-Authenticate; an unknown one too; on every route', async () => {
  const h = await harness();
  for (const [method, path] of [
    ['GET', '/scheduler/jobs'],
    ['GET', '/scheduler/jobs/x'],
    ['POST', '/scheduler/jobs'],
    ['GET', '/scheduler/status'],
    ['GET', '/scheduler/metrics'],
    ['GET', '/scheduler/events'],
    ['GET', '/scheduler/openapi.json'],
    ['DELETE', '/scheduler/jobs/x'],
  ]) {
    const none = await h.json(method!, path!, { token: null });
    assert.equal(none.status, 401, `${method} ${path}`);
    assert.equal(none.body.code, 'UNAUTHORIZED');
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="tickwork"');
    const wrong = await h.json(method!, path!, { token: 'not-a-configured-token-at-all' });
    assert.equal(wrong.status, 401);
  }
  await h.close();
});

test('a read token may GET but gets 403 FORBIDDEN on mutations; admin may do both', async () => {
  const h = await harness();
  const body = { id: 'j', taskId: 'tick', trigger: { type: 'interval', seconds: 5 } };
  assert.equal((await h.call('POST', '/scheduler/jobs', { token: READER, body })).status, 403);
  assert.equal((await h.call('POST', '/scheduler/jobs', { token: ADMIN, body })).status, 201);
  assert.equal((await h.call('GET', '/scheduler/jobs/j', { token: READER })).status, 200);
  for (const [method, path, b] of [
    ['PATCH', '/scheduler/jobs/j', { name: 'x' }],
    ['POST', '/scheduler/jobs/j/pause', undefined],
    ['POST', '/scheduler/jobs/j/resume', undefined],
    ['POST', '/scheduler/jobs/j/run', undefined],
    ['DELETE', '/scheduler/jobs/j', undefined],
  ] as const) {
    const res = await h.json(method, path, { token: READER, body: b });
    assert.equal(res.status, 403, `${method} ${path}`);
    assert.equal(res.body.code, 'FORBIDDEN');
  }
  assert.equal((await h.call('DELETE', '/scheduler/jobs/j', { token: ADMIN })).status, 204);
  await h.close();
});

test('auth is required: no default; auth: false serves openly and warns once', async () => {
  const scheduler = new Scheduler({ logger: silentLogger });
  assert.throws(
    () => createApi(scheduler, {} as never),
    (err: unknown) => isTickworkError(err, 'INVALID_OPTION') && err.details.field === 'auth',
  );
  assert.throws(
    () => createApi(scheduler, { auth: false, bodyLimt: 1 } as never),
    (err: unknown) => isTickworkError(err, 'UNKNOWN_OPTION') && err.details.field === 'bodyLimt',
  );
  assert.throws(
    () => createApi(scheduler, { auth: false, prefix: 'scheduler' }),
    (err: unknown) => isTickworkError(err, 'INVALID_OPTION') && err.details.field === 'prefix',
  );
  const logger = captureLogger();
  const h = await harness({ api: { auth: false }, logger });
  const warnings = logger.messages('warn').filter((m) => m.includes('WITHOUT authentication'));
  assert.equal(warnings.length, 1);
  assert.equal((await h.call('GET', '/scheduler/jobs', { token: null })).status, 200);
  assert.equal((await h.call('GET', '/scheduler/status', { token: null })).status, 200);
  assert.equal(logger.messages('warn').filter((m) => m.includes('WITHOUT authentication')).length, 1);
  await h.close();
});

test('CORS is off by default: no Access-Control headers, preflight not answered', async () => {
  const h = await harness();
  const res = await h.call('GET', '/scheduler/jobs', { headers: { origin: 'https://evil.example' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('access-control-allow-origin'), null);
  const preflight = await h.call('OPTIONS', '/scheduler/jobs', {
    token: null,
    headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
  });
  assert.equal(preflight.headers.get('access-control-allow-origin'), null);
  assert.equal(preflight.status, 405);
  await h.close();
});

test('CORS with an origin list answers preflights and allowed origins only', async () => {
  const h = await harness({ api: { cors: { origins: ['https://ops.example'], maxAge: 60 } } });
  const preflight = await h.call('OPTIONS', '/scheduler/jobs', {
    token: null,
    headers: { origin: 'https://ops.example', 'access-control-request-method': 'POST' },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://ops.example');
  assert.match(preflight.headers.get('access-control-allow-headers')!, /authorization/);
  assert.equal(preflight.headers.get('access-control-max-age'), '60');
  assert.equal(preflight.headers.get('vary'), 'Origin'); // once, not "Origin, Origin"
  const ok = await h.call('GET', '/scheduler/jobs', { headers: { origin: 'https://ops.example' } });
  assert.equal(ok.headers.get('access-control-allow-origin'), 'https://ops.example');
  assert.equal(ok.headers.get('vary'), 'Origin');
  // A script on the allowed origin may read where a created job is.
  assert.equal(ok.headers.get('access-control-expose-headers'), 'Location');
  const created = await h.call('POST', '/scheduler/jobs', {
    headers: { origin: 'https://ops.example' },
    body: { id: 'c', taskId: 'tick', trigger: { type: 'interval', seconds: 1 } },
  });
  assert.equal(created.status, 201);
  assert.equal(created.headers.get('location'), '/scheduler/jobs/c');
  assert.equal(created.headers.get('access-control-expose-headers'), 'Location');
  const denied = await h.call('GET', '/scheduler/jobs', { headers: { origin: 'https://evil.example' } });
  assert.equal(denied.headers.get('access-control-allow-origin'), null);
  // Errors carry the headers too, so a browser can read them.
  const unauthorized = await h.call('GET', '/scheduler/jobs', {
    token: null,
    headers: { origin: 'https://ops.example' },
  });
  assert.equal(unauthorized.status, 401);
  assert.equal(unauthorized.headers.get('access-control-allow-origin'), 'https://ops.example');
  await h.close();
});

test('a body over the limit is 413 PAYLOAD_TOO_LARGE (declared or streamed)', async () => {
  const h = await harness({ api: { bodyLimit: 1024 } });
  const big = { taskId: 'tick', trigger: { type: 'interval', seconds: 1 }, args: ['x'.repeat(2000)] };
  const res = await h.json('POST', '/scheduler/jobs', { body: big });
  assert.equal(res.status, 413);
  assert.equal(res.body.code, 'PAYLOAD_TOO_LARGE');
  // A chunked body without Content-Length is counted as it streams.
  const chunks = [new TextEncoder().encode('{"args": ["'), new TextEncoder().encode('y'.repeat(2000))];
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = chunks.shift();
      if (next) controller.enqueue(next);
      else controller.close();
    },
  });
  const streamed = await h.api.handle(
    new Request('http://localhost/scheduler/jobs', {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit),
  );
  assert.equal(streamed.status, 413);
  const small = await h.json('POST', '/scheduler/jobs', { body: { ...big, args: [] } });
  assert.equal(small.status, 201);
  await h.close();
});

test('the default body limit is 64 KiB', async () => {
  const h = await harness();
  const body = { taskId: 'tick', trigger: { type: 'interval', seconds: 1 }, args: ['x'.repeat(65_536)] };
  assert.equal((await h.call('POST', '/scheduler/jobs', { body })).status, 413);
  body.args = ['x'.repeat(60_000)];
  assert.equal((await h.call('POST', '/scheduler/jobs', { body })).status, 201);
  await h.close();
});

test('unknown routes are 404 ROUTE_NOT_FOUND, wrong methods 405 with Allow, outside the prefix 404', async () => {
  const h = await harness();
  const unknown = await h.json('GET', '/scheduler/nope');
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.code, 'ROUTE_NOT_FOUND');
  assert.equal((await h.json('GET', '/scheduler/jobs/a/b/c')).status, 404);
  assert.equal((await h.json('GET', '/elsewhere/jobs')).status, 404);
  assert.equal((await h.json('GET', '/schedulerx/jobs')).status, 404);
  const method = await h.json('PUT', '/scheduler/jobs');
  assert.equal(method.status, 405);
  assert.equal(method.body.code, 'METHOD_NOT_ALLOWED');
  assert.equal(method.headers.get('allow'), 'GET, HEAD, POST'); // HEAD answers wherever GET does
  // A trailing slash is the same route; HEAD answers like GET without a body.
  assert.equal((await h.call('GET', '/scheduler/jobs/')).status, 200);
  const head = await h.call('HEAD', '/scheduler/status');
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');
  await h.close();
});

test('the assets hook serves static files under the prefix without a token; API routes win', async () => {
  const h = await harness({
    api: {
      assets: (path) =>
        path === '/' || path === '/app.js'
          ? new Response(`asset ${path}`, { headers: { 'content-type': 'text/plain' } })
          : null,
    },
  });
  const page = await h.call('GET', '/scheduler/', { token: null });
  assert.equal(page.status, 200);
  assert.equal(await page.text(), 'asset /');
  assert.equal(await (await h.call('GET', '/scheduler/app.js', { token: null })).text(), 'asset /app.js');
  assert.equal((await h.call('GET', '/scheduler/other.js', { token: null })).status, 404);
  assert.equal((await h.call('GET', '/scheduler/jobs', { token: null })).status, 401);
  await h.close();
});

test('an unexpected error is 500 INTERNAL_ERROR without details, and logged', async () => {
  const logger = captureLogger();
  const h = await harness({ logger });
  h.scheduler.getJobs = () => Promise.reject(new Error('secret internals'));
  const res = await h.json('GET', '/scheduler/jobs');
  assert.equal(res.status, 500);
  assert.deepEqual(res.body, { code: 'INTERNAL_ERROR', message: 'Internal error', details: {} });
  assert.ok(logger.lines.some((l) => l.level === 'error' && l.msg.includes('Unexpected error')));
  await h.close();
});

test('a store failure is 503 STORE_ERROR with its code', async () => {
  const h = await harness();
  const { TickworkError } = await import('../../src/index.js');
  h.scheduler.getJobs = () => Promise.reject(new TickworkError('STORE_ERROR', 'database is down'));
  const res = await h.json('GET', '/scheduler/jobs');
  assert.equal(res.status, 503);
  assert.equal(res.body.code, 'STORE_ERROR');
  await h.close();
});

test('a missing or short token is refused saying what was given, never the token itself', () => {
  for (const [token, got] of [
    [undefined, '`undefined`'], // `process.env.TICKWORK_TOKEN!` with the variable unset
    [null, '`null`'],
    ['short-secret', 'a string of 12 characters'],
  ] as const) {
    assert.throws(
      () => new TokenAuth({ tokens: [{ token: token as never, role: 'admin' }] }),
      (e: unknown) => {
        assert.ok(e instanceof TickworkError, String(e));
        assert.equal(e.code, 'INVALID_OPTION');
        assert.equal(e.details.field, 'auth.tokens[0].token');
        assert.equal(
          e.message,
          `Expected \`auth.tokens[0].token\` to be a string of at least 16 characters, got ${got}`,
        );
        assert.ok(!e.message.includes('short-secret'));
        return true;
      },
    );
  }
});

test('a token with whitespace is refused when the API is configured (it could never match)', () => {
  for (const token of [
    'contains a space 0123456789',
    'trailing-newline-0123456789\n',
    '\u00a0nbsp-0123456789abcdef',
  ]) {
    assert.throws(
      () => new TokenAuth({ tokens: [{ token, role: 'admin' }] }),
      (e: unknown) =>
        e instanceof TickworkError &&
        e.code === 'INVALID_OPTION' &&
        e.details.field === 'auth.tokens[0].token' &&
        /whitespace/.test(e.message),
    );
  }
});

test('a path segment that is not percent-encoded UTF-8 (%FF) is 400 naming the parameter, after auth', async () => {
  const h = await harness();
  for (const path of ['/scheduler/jobs/%FF', '/scheduler/jobs/%E0%A4%A/run', '/scheduler/runs/%C0']) {
    const method = path.endsWith('/run') ? 'POST' : 'GET';
    const res = await h.json(method, path);
    assert.equal(res.status, 400, path);
    assert.equal(res.body.code, 'INVALID_OPTION');
    assert.equal(res.body.details.field, 'id');
    assert.equal((await h.call(method, path, { token: null })).status, 401);
  }
  await h.close();
});

test('a body nested deeper than 64 levels is 400 naming the field; nothing is created', async () => {
  const h = await harness();
  let args: unknown = [];
  for (let i = 0; i < 2500; i++) args = [args];
  const res = await h.json('POST', '/scheduler/jobs', {
    body: { id: 'deep', taskId: 'tick', trigger: { type: 'interval', seconds: 1 }, args },
  });
  assert.equal(res.status, 400);
  assert.equal(res.body.code, 'INVALID_OPTION');
  assert.equal(res.body.details.field, 'args');
  assert.equal((await h.call('GET', '/scheduler/jobs/deep')).status, 404);
  const patch = await h.json('PATCH', '/scheduler/jobs/deep', { body: { args } });
  assert.equal(patch.body.details.field, 'args');
  let shallow: unknown = [];
  for (let i = 0; i < 60; i++) shallow = [shallow];
  const ok = await h.json('POST', '/scheduler/jobs', {
    body: { id: 'ok', taskId: 'tick', trigger: { type: 'interval', seconds: 1 }, args: [shallow] },
  });
  assert.equal(ok.status, 201);
  await h.close();
});

test('an error whose details cannot be serialised keeps its code, status, message and field', async () => {
  let value: unknown = [];
  for (let i = 0; i < 100_000; i++) value = [value];
  const logged: unknown[] = [];
  const res = errorResponse(
    new TickworkError('INVALID_OPTION', 'Expected `args` to be JSON', { field: 'args', value }),
    (e) => logged.push(e),
  );
  assert.equal(res.status, 400);
  assert.deepEqual(await res.json(), {
    code: 'INVALID_OPTION',
    message: 'Expected `args` to be JSON',
    details: { field: 'args' },
  });
  const api = errorResponse(new ApiError('INVALID_OPTION', 'bad', { field: 'x', value }, 400), () => {});
  assert.deepEqual(await api.json(), { code: 'INVALID_OPTION', message: 'bad', details: { field: 'x' } });
  assert.deepEqual(logged, []);
});

test('Location is never a reason to fail: ids no URL can address get none, the job is still answered', async () => {
  const h = await harness();
  for (const id of ['.', '..', '\ud800']) {
    const res = await h.json('POST', '/scheduler/jobs', {
      body: { id, taskId: 'tick', trigger: { type: 'interval', seconds: 1 } },
    });
    // The scheduler may refuse such ids (400); it must never be a 500 after the job was created.
    assert.ok(res.status === 201 || res.status === 400, `${JSON.stringify(id)}: ${res.status}`);
    if (res.status === 201) assert.equal(res.headers.get('location'), null);
  }
  await h.close();
});

test('a bad `metrics` option is INVALID_OPTION or UNKNOWN_OPTION naming its field, not a bare Error', async () => {
  const scheduler = new Scheduler({ logger: silentLogger });
  const { Registry } = await import('prom-client');
  // Prometheus metric names are [a-zA-Z_:][a-zA-Z0-9_:]*: a `-`, a space or a leading digit cannot start one.
  for (const prefix of ['bad-prefix', 'tick work_', '1tickwork_', 5]) {
    assert.throws(
      () => createApi(scheduler, { auth: false, metrics: { prefix } as never }),
      (err: unknown) => isTickworkError(err, 'INVALID_OPTION') && err.details.field === 'metrics.prefix',
    );
  }
  assert.throws(
    () => createApi(scheduler, { auth: false, metrics: { prefx: 'a_' } as never }),
    (err: unknown) => isTickworkError(err, 'UNKNOWN_OPTION') && err.details.field === 'metrics.prefx',
  );
  assert.throws(
    () => createApi(scheduler, { auth: false, metrics: { registry: {} } as never }),
    (err: unknown) => isTickworkError(err, 'INVALID_OPTION') && err.details.field === 'metrics.registry',
  );
  // A registry shared by two APIs with one prefix: the second cannot register its metrics.
  const registry = new Registry();
  const first = createApi(scheduler, { auth: false, metrics: { registry } });
  assert.throws(
    () => createApi(scheduler, { auth: false, metrics: { registry } }),
    (err: unknown) => isTickworkError(err, 'INVALID_OPTION') && err.details.field === 'metrics.registry',
  );
  first.close();
  // Valid prefixes: empty, underscores and colons.
  for (const prefix of ['', 'app:jobs_', '_x'])
    createApi(scheduler, { auth: false, metrics: { prefix } }).close();
});

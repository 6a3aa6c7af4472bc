import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { pino } from 'pino';
import { tickwork } from '../../src/plugins/fastify.js';
import { Scheduler } from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';
import { buildServer } from '../../src/server/app.js';

function memoryStream(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

test('the plugin decorates fastify.scheduler, starts on ready and stops on close', async () => {
  const clock = new ManualClock('2024-01-01T00:00:00Z');
  const app = Fastify({ logger: false });
  const seen: string[] = [];
  await app.register(tickwork, {
    clock,
    setup(scheduler) {
      scheduler.addJob(() => void seen.push(new Date(clock.now()).toISOString()), 'interval', {
        id: 'job',
        seconds: 10,
      });
    },
  });
  assert.ok(app.scheduler instanceof Scheduler);
  assert.equal(app.scheduler.state, 'stopped');
  await app.ready();
  assert.equal(app.scheduler.state, 'running');
  await clock.advance(25_000);
  assert.deepEqual(seen, ['2024-01-01T00:00:10.000Z', '2024-01-01T00:00:20.000Z']);
  await app.close();
  assert.equal(app.scheduler.state, 'stopped');
});

test('close waits for a job that is still running', async () => {
  const clock = new ManualClock('2024-01-01T00:00:00Z');
  const app = Fastify({ logger: false });
  let finished = false;
  await app.register(tickwork, {
    clock,
    setup(scheduler) {
      scheduler.addJob(
        async function slow() {
          await clock.sleep(5000);
          finished = true;
        },
        'date',
        { runDate: '2024-01-01T00:00:01Z' },
      );
    },
  });
  await app.ready();
  await clock.advance(1000); // the run starts and sleeps 5 s
  assert.equal(app.scheduler.getRunningRuns().length, 1);
  let closed = false;
  const closing = app.close().then(() => (closed = true));
  await clock.advance(4000);
  assert.equal(closed, false, 'close must wait for the running job');
  await clock.advance(1000);
  await closing;
  assert.equal(finished, true);
  assert.equal(closed, true);
});

test('the scheduler logs through fastify.log', async () => {
  const clock = new ManualClock('2024-04-25T07:37:40Z');
  const out = memoryStream();
  const app = Fastify({ loggerInstance: pino({ level: 'info' }, out.stream) });
  await app.register(tickwork, {
    clock,
    setup(scheduler) {
      scheduler.addJob(
        async function tick() {
          await clock.sleep(3000);
        },
        'interval',
        { seconds: 1, maxInstances: 2 },
      );
    },
  });
  await app.ready();
  await clock.advance(3500);
  const skipped = out
    .lines()
    .filter((l) => String(l.msg).includes('skipped: maximum number of running instances reached (2)'));
  assert.equal(skipped.length, 1); // fire times at 1, 2 run; 3 is skipped
  assert.equal(skipped[0]!.level, 40);
  assert.equal(skipped[0]!.name, 'tickwork');
  const closing = app.close();
  await clock.advance(3000);
  await closing;
});

test('the demo server lists its tick job at GET /jobs and answers GET /', async () => {
  const clock = new ManualClock('2024-04-25T07:37:40Z');
  const printed: string[] = [];
  const app = await buildServer({ logger: false, clock, print: (l) => printed.push(l) });
  await app.ready();
  const root = await app.inject({ method: 'GET', url: '/' });
  assert.equal(root.statusCode, 200);
  assert.equal(root.json().scheduler, 'running');
  const jobs = await app.inject({ method: 'GET', url: '/jobs' });
  assert.equal(jobs.statusCode, 200);
  assert.deepEqual(jobs.json(), [
    {
      id: 'tick',
      name: 'tick',
      trigger: 'interval[0:00:01]',
      description: 'Every second',
      maxInstances: 2,
      paused: false,
      nextRunTime: '2024-04-25T07:37:41.000Z',
    },
  ]);
  await clock.advance(8000);
  // Runs at 1, 2, 5, 6 s after start (fire times 3, 4, 7, 8 are skipped): four ticks.
  assert.deepEqual(printed, [
    'Tick! The async time is 2024-04-25T07:37:41.000Z',
    'Tick! The async time is 2024-04-25T07:37:42.000Z',
    'Tick! The async time is 2024-04-25T07:37:45.000Z',
    'Tick! The async time is 2024-04-25T07:37:46.000Z',
  ]);
  const closing = app.close();
  await clock.advance(3000);
  await closing;
});

test('the demo server with API tokens: GET /jobs needs one of them, GET / does not (it holds no job data)', async () => {
  const clock = new ManualClock('2024-04-25T07:37:40Z');
  const admin = 'demo-admin-token-0123456789';
  const reader = 'demo-read-token-0123456789';
  const app = await buildServer({
    logger: false,
    clock,
    print: () => {},
    api: {
      auth: {
        tokens: [
          { token: admin, role: 'admin' },
          { token: reader, role: 'read' },
        ],
      },
    },
  });
  await app.ready();
  const root = await app.inject({ method: 'GET', url: '/' });
  assert.equal(root.statusCode, 200);
  assert.deepEqual(Object.keys(root.json()).sort(), ['jobs', 'name', 'scheduler']);
  for (const headers of [{}, { authorization: 'Bearer not-a-configured-token' }, { authorization: admin }]) {
    const denied = await app.inject({ method: 'GET', url: '/jobs', headers });
    assert.equal(denied.statusCode, 401);
    assert.equal(denied.json().code, 'UNAUTHORIZED');
    assert.match(String(denied.headers['www-authenticate']), /^Bearer/);
  }
  for (const token of [reader, admin]) {
    const jobs = await app.inject({
      method: 'GET',
      url: '/jobs',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(jobs.statusCode, 200);
    assert.equal(jobs.json()[0].trigger, 'interval[0:00:01]');
  }
  // A path Fastify cannot decode gets the API's error shape, not Fastify's.
  const bad = await app.inject({ method: 'GET', url: '/scheduler/jobs/%FF' });
  assert.equal(bad.statusCode, 401);
  assert.equal(bad.json().code, 'UNAUTHORIZED');
  const closing = app.close();
  await clock.advance(3000);
  await closing;
});

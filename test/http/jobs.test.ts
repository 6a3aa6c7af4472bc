// The job endpoints of the HTTP API, through api.handle (no sockets), on a ManualClock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IntervalTrigger, MemoryStore, type JobFilter } from '../../src/index.js';
import { harness, type Harness } from './helpers.js';

const interval = { type: 'interval', seconds: 10 };

test('POST /jobs creates a job for a registered task: 201 with the job view and Location', async () => {
  const h = await harness();
  const res = await h.json('POST', '/scheduler/jobs', {
    body: { id: 'j1', name: 'Job one', taskId: 'tick', trigger: interval, args: [1, 'a'], maxInstances: 2 },
  });
  assert.equal(res.status, 201);
  assert.equal(res.headers.get('location'), '/scheduler/jobs/j1');
  assert.equal(res.body.id, 'j1');
  assert.equal(res.body.name, 'Job one');
  assert.equal(res.body.taskId, 'tick');
  assert.deepEqual(res.body.args, [1, 'a']);
  assert.equal(res.body.maxInstances, 2);
  assert.equal(res.body.description, 'Every 10 seconds');
  assert.equal(res.body.triggerText, 'interval[0:00:10]');
  assert.equal(res.body.trigger.type, 'interval');
  assert.equal(res.body.nextRunTime, '2024-01-01T00:00:10.000Z');
  assert.equal(res.body.lastRun, null);
  assert.equal(res.body.pending, false);
  assert.equal(res.body.quarantine, null);
  await h.close();
});

test('a quarantined job shows its reason; POST /jobs/:id/resume ends the quarantine', async () => {
  const h = await harness();
  let broken = false;
  class Flaky extends IntervalTrigger {
    override getNextFireTime(previous: Date | null, now: Date): Date | null {
      if (broken) throw new Error('no fire time');
      return super.getNextFireTime(previous, now);
    }
  }
  await h.scheduler.addJob('tick', new Flaky({ seconds: 10 }), { id: 'q' });
  broken = true;
  await h.clock.advance(10_000);
  const listed = await h.json('GET', '/scheduler/jobs');
  assert.deepEqual(
    listed.body.items.map((j: { id: string; paused: boolean; quarantine: string | null }) => [
      j.id,
      j.paused,
      j.quarantine,
    ]),
    [['q', true, 'its plan failed: no fire time']],
  );
  broken = false;
  const resumed = await h.json('POST', '/scheduler/jobs/q/resume');
  assert.equal(resumed.status, 200, JSON.stringify(resumed.body));
  assert.deepEqual([resumed.body.paused, resumed.body.quarantine], [false, null]);
  await h.close();
});

test('POST /jobs accepts every trigger form: cron, date, calendarInterval, and/or, full JSON', async () => {
  const h = await harness({ scheduler: { timezone: 'Europe/Paris' } });
  const forms: [unknown, string][] = [
    [{ type: 'cron', expression: '0 9 * * *', timezone: 'America/New_York' }, '2024-01-01T14:00:00.000Z'],
    [{ type: 'cron', expression: '0 9 * * *' }, '2024-01-01T08:00:00.000Z'], // the scheduler's zone
    [{ type: 'cron', hour: 9, minute: 30 }, '2024-01-01T08:30:00.000Z'],
    [{ type: 'date', runDate: '2024-02-01T12:00:00Z' }, '2024-02-01T12:00:00.000Z'],
    [{ type: 'calendarInterval', months: 1, hour: 6 }, '2024-01-01T05:00:00.000Z'],
    [{ type: 'interval', minutes: 1, startDate: '2024-01-01T00:00:30Z' }, '2024-01-01T00:00:30.000Z'],
    [
      {
        type: 'or',
        triggers: [
          { type: 'date', runDate: '2024-03-01T00:00:00Z' },
          { type: 'interval', hours: 1 },
        ],
      },
      '2024-01-01T01:00:00.000Z',
    ],
  ];
  for (const [i, [trigger, next]] of forms.entries()) {
    const res = await h.json('POST', '/scheduler/jobs', { body: { id: `f${i}`, taskId: 'tick', trigger } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    if (next) assert.equal(res.body.nextRunTime, next, JSON.stringify(trigger));
  }
  // The full JSON form round-trips: the API's own `trigger` output is accepted as input.
  const one = await h.json('GET', '/scheduler/jobs/f0');
  const copy = await h.json('POST', '/scheduler/jobs', {
    body: { id: 'copy', taskId: 'tick', trigger: one.body.trigger },
  });
  assert.equal(copy.status, 201);
  assert.equal(copy.body.nextRunTime, one.body.nextRunTime);
  await h.close();
});

test('POST /jobs refuses a task that is not registered (400 TASK_NOT_FOUND) and any field but a task id', async () => {
  const h = await harness();
  const res = await h.json('POST', '/scheduler/jobs', { body: { taskId: 'rm -rf /', trigger: interval } });
  assert.equal(res.status, 400);
  assert.equal(res.body.code, 'TASK_NOT_FOUND');
  assert.equal(res.body.details.field, 'taskId');
  assert.equal((await h.json('GET', '/scheduler/jobs')).body.items.length, 0);
  // Nothing but a task id: a function or command in the body is an unknown field.
  const code = await h.json('POST', '/scheduler/jobs', {
    body: { taskId: 'tick', trigger: interval, command: 'echo hi' },
  });
  assert.equal(code.status, 400);
  assert.equal(code.body.code, 'UNKNOWN_OPTION');
  assert.equal(code.body.details.field, 'command');
  await h.close();
});

test('validation errors are 400 with a stable code and the field', async () => {
  const h = await harness();
  const cases: [unknown, string, string][] = [
    [{ trigger: interval }, 'INVALID_OPTION', 'taskId'],
    [{ taskId: 'tick' }, 'INVALID_OPTION', 'trigger'],
    [{ taskId: 'tick', trigger: interval, maxInstances: 0 }, 'INVALID_OPTION', 'maxInstances'],
    [{ taskId: 'tick', trigger: interval, coalesce: 'yes' }, 'INVALID_OPTION', 'coalesce'],
    [{ taskId: 'tick', trigger: interval, args: 'x' }, 'INVALID_OPTION', 'args'],
    [{ taskId: 'tick', trigger: { type: 'interval', seconds: -1 } }, 'INVALID_OPTION', 'trigger.seconds'],
    [{ taskId: 'tick', trigger: { type: 'interval', secs: 1 } }, 'UNKNOWN_OPTION', 'trigger.secs'],
    [{ taskId: 'tick', trigger: { type: 'interval' } }, 'INVALID_TRIGGER', 'trigger.seconds'],
    [{ taskId: 'tick', trigger: { type: 'weekly' } }, 'INVALID_OPTION', 'trigger.type'],
    [
      { taskId: 'tick', trigger: { type: 'cron', expression: '61 * * * *' } },
      'INVALID_CRON',
      'trigger.minute',
    ],
    [
      { taskId: 'tick', trigger: { type: 'cron', expression: '0 9 * * *', timezone: 'Mars/Base' } },
      'INVALID_TIMEZONE',
      'trigger.timezone',
    ],
    [{ taskId: 'tick', trigger: { type: 'date', runDate: 'soon' } }, 'INVALID_OPTION', 'trigger.runDate'],
    [{ taskId: 'tick', trigger: { type: 'interval', version: 9 } }, 'INVALID_TRIGGER', 'trigger.version'],
    [
      { taskId: 'tick', trigger: { type: 'or', triggers: [{ type: 'interval', seconds: 'x' }] } },
      'INVALID_OPTION',
      'trigger.triggers.0.seconds',
    ],
    [[1, 2], 'INVALID_OPTION', 'body'],
  ];
  for (const [body, code, field] of cases) {
    const res = await h.json('POST', '/scheduler/jobs', { body });
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.code, code, JSON.stringify(res.body));
    assert.equal(res.body.details.field, field, JSON.stringify(res.body));
    assert.equal(typeof res.body.message, 'string');
  }
  const bad = await h.json('POST', '/scheduler/jobs', { body: '{"taskId": ' });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, 'INVALID_JSON');
  const text = await h.json('POST', '/scheduler/jobs', {
    body: 'taskId=tick',
    headers: { 'content-type': 'text/plain' },
  });
  assert.equal(text.status, 415);
  assert.equal(text.body.code, 'UNSUPPORTED_MEDIA_TYPE');
  const q = await h.json('GET', '/scheduler/jobs?limit=501');
  assert.equal(q.status, 400);
  assert.equal(q.body.details.field, 'limit');
  // The library's message shape, with the value in the details.
  assert.equal(q.body.message, 'Expected `limit` to be an integer <= 500, got `501`');
  assert.equal(q.body.details.value, 501);
  const zero = await h.json('POST', '/scheduler/jobs', {
    body: { taskId: 'tick', trigger: interval, maxInstances: 0 },
  });
  assert.equal(zero.body.message, 'Expected `maxInstances` to be an integer >= 1, got `0`');
  assert.equal(zero.body.details.value, 0);
  // As the library words it: an integer's bounds say integer (also below the bound with a fraction), a
  // number's say number.
  const fractionAttempts = await h.json('POST', '/scheduler/jobs', {
    body: { taskId: 'tick', trigger: interval, retry: { attempts: 0.5 } },
  });
  assert.equal(fractionAttempts.body.message, 'Expected `retry.attempts` to be an integer >= 1, got `0.5`');
  const grace = await h.json('POST', '/scheduler/jobs', {
    body: { taskId: 'tick', trigger: interval, misfireGraceTime: -1 },
  });
  assert.equal(grace.body.message, 'Expected `misfireGraceTime` to be a number >= 0, got `-1`');
  const textMax = await h.json('POST', '/scheduler/jobs', {
    body: { taskId: 'tick', trigger: interval, maxInstances: '1' },
  });
  assert.equal(textMax.body.message, 'Expected `maxInstances` to be an integer, got `"1"`');
  const missing = await h.json('POST', '/scheduler/jobs', { body: { taskId: 'tick' } });
  assert.equal(missing.body.message, 'Expected `trigger` to be given');
  const empty = await h.json('POST', '/scheduler/jobs', { body: { taskId: '', trigger: interval } });
  assert.equal(empty.body.message, 'Expected `taskId` to be a string of >= 1 characters, got `""`');
  // A union (retry: a number, an object or null) reports the option the value was closest to.
  const retryType = await h.json('POST', '/scheduler/jobs', {
    body: { taskId: 'tick', trigger: interval, retry: 'x' },
  });
  assert.equal(retryType.body.message, 'Expected `retry` to be of type number, object or null, got `"x"`');
  const backoff = await h.json('POST', '/scheduler/jobs', {
    body: { taskId: 'tick', trigger: interval, retry: { attempts: 2, backoff: 'linear' } },
  });
  assert.equal(
    backoff.body.message,
    'Expected `retry.backoff` to be one of "fixed", "exponential", got `"linear"`',
  );
  assert.deepEqual(backoff.body.details, { field: 'retry.backoff', value: 'linear' });
  const kind = await h.json('POST', '/scheduler/jobs', {
    body: { taskId: 'tick', trigger: { type: 'hourly' } },
  });
  assert.equal(
    kind.body.message,
    'Expected `trigger.type` to be one of "interval", "date", "cron", "calendarInterval", "and", "or", got `"hourly"`',
  );
  assert.deepEqual(kind.body.details, { field: 'trigger.type', value: 'hourly' });
  // A query parameter that is not a number is reported as sent (not as the NaN it was coerced to).
  const nan = await h.json('GET', '/scheduler/runs?limit=ten');
  assert.equal(nan.body.message, 'Expected `limit` to be an integer in decimal digits, got `"ten"`');
  assert.deepEqual(nan.body.details, { field: 'limit', value: 'ten' });
  // Only decimal digits (and a minus sign) are a number: JavaScript's other spellings (sign, fraction,
  // hex, exponent, padding) are refused as sent, not read as 5, 16, 1000 or 5.
  for (const [query, sent] of [
    ['limit=0x10', '0x10'],
    ['limit=1e3', '1e3'],
    ['limit=%205', ' 5'],
    ['offset=0b1', '0b1'],
    ['limit=%2B5', '+5'],
    ['limit=5.0', '5.0'],
    ['offset=%2B0', '+0'],
    ['offset=-0', '-0'],
    ['n=2.5', '2.5'],
  ] as const) {
    const odd = await h.json('GET', `/scheduler/${query.startsWith('n=') ? 'jobs/a' : 'runs'}?${query}`);
    assert.equal(odd.status, 400, query);
    const field = query.split('=')[0];
    assert.equal(
      odd.body.message,
      `Expected \`${field}\` to be an integer in decimal digits, got \`"${sent}"\``,
      query,
    );
    assert.deepEqual(odd.body.details, { field, value: sent }, query);
  }
  // Digits out of range get the range error, showing the digits as sent (not as 1e+23 or Infinity).
  const huge = await h.json('GET', '/scheduler/runs?limit=99999999999999999999999');
  assert.equal(huge.status, 400);
  assert.equal(huge.body.message, 'Expected `limit` to be an integer <= 500, got `99999999999999999999999`');
  assert.deepEqual(huge.body.details, { field: 'limit', value: '99999999999999999999999' });
  const digits400 = '1' + '0'.repeat(400);
  for (const path of ['/scheduler/runs', '/scheduler/jobs']) {
    const far = await h.json('GET', `${path}?offset=${digits400}`);
    assert.equal(far.status, 400, path);
    assert.equal(
      far.body.message,
      `Expected \`offset\` to be an integer <= 9007199254740991, got \`${digits400}\``,
    );
    assert.deepEqual(far.body.details, { field: 'offset', value: digits400 }, path);
  }
  const unsafe = await h.json('GET', '/scheduler/runs?offset=9007199254740992');
  assert.equal(
    unsafe.body.message,
    'Expected `offset` to be an integer <= 9007199254740991, got `9007199254740992`',
  );
  const negative = await h.json('GET', '/scheduler/runs?offset=-99999999999999999999');
  assert.equal(negative.body.message, 'Expected `offset` to be an integer >= 0, got `-99999999999999999999`');
  const safe = await h.json('GET', '/scheduler/runs?offset=9007199254740991');
  assert.deepEqual([safe.status, safe.body.items], [200, []]);
  const padded = await h.json('GET', '/scheduler/runs?limit=007');
  assert.equal(padded.status, 200, 'limit=007 is digits: 7');
  // A parameter given twice is refused: which value was meant is not known.
  const twice = await h.json('GET', '/scheduler/jobs?limit=1&limit=2');
  assert.equal(twice.status, 400);
  assert.equal(twice.body.message, 'Expected `limit` to be given once, got 2 values');
  assert.deepEqual(twice.body.details, { field: 'limit', value: ['1', '2'] });
  const fraction = await h.json('POST', '/scheduler/jobs', {
    body: { taskId: 'tick', trigger: interval, retry: 3.5 },
  });
  assert.equal(fraction.body.message, 'Expected `retry` to be of type integer, object or null, got `3.5`');
  const half = await h.json('POST', '/scheduler/jobs', {
    body: { taskId: 'tick', trigger: interval, maxInstances: 1.5 },
  });
  assert.equal(half.body.message, 'Expected `maxInstances` to be an integer, got `1.5`');
  const from = await h.json('GET', '/scheduler/runs?from=yesterday');
  assert.equal(
    from.body.message,
    'Expected `from` to be an ISO 8601 date-time with an offset, got `"yesterday"`',
  );
  for (const path of ['/scheduler/jobs?limit=', '/scheduler/runs?offset=']) {
    const empty = await h.json('GET', path);
    assert.equal(empty.status, 400, path);
    assert.match(empty.body.message, /^Expected `(limit|offset)` to have a value$/);
  }
  // An unknown key near a known one names it, in the query and in the body.
  const limt = await h.json('GET', '/scheduler/jobs?limt=5');
  assert.deepEqual(
    [limt.status, limt.body.code, limt.body.message],
    [400, 'UNKNOWN_OPTION', 'Unknown option `limt`; did you mean `limit`?'],
  );
  const maxInstance = await h.json('POST', '/scheduler/jobs', {
    body: { taskId: 'tick', trigger: interval, maxInstance: 2 },
  });
  assert.equal(maxInstance.body.message, 'Unknown option `maxInstance`; did you mean `maxInstances`?');
  const far = await h.json('POST', '/scheduler/jobs', {
    body: { taskId: 'tick', trigger: interval, zzz: 1 },
  });
  assert.equal(far.body.message, 'Unknown option `zzz`');
  // Inside a short trigger (the option its `type` picks) and inside `retry` (its one object form).
  const secnds = await h.json('POST', '/scheduler/jobs', {
    body: { taskId: 'tick', trigger: { type: 'interval', secnds: 5 } },
  });
  assert.equal(secnds.body.message, 'Unknown option `trigger.secnds`; did you mean `trigger.seconds`?');
  const backof = await h.json('POST', '/scheduler/jobs', {
    body: { taskId: 'tick', trigger: interval, retry: { attempts: 2, backof: 'fixed' } },
  });
  assert.equal(backof.body.message, 'Unknown option `retry.backof`; did you mean `retry.backoff`?');
  // A misspelt required key is named as unknown, with its near name, not reported as missing.
  const triger = await h.json('POST', '/scheduler/jobs', {
    body: { taskId: 'tick', triger: interval },
  });
  assert.deepEqual(
    [triger.status, triger.body.code, triger.body.details.field, triger.body.message],
    [400, 'UNKNOWN_OPTION', 'triger', 'Unknown option `triger`; did you mean `trigger`?'],
  );
  // Pausing is not a PATCH field: the answer points to the endpoints.
  await h.json('POST', '/scheduler/jobs', { body: { id: 'p', taskId: 'tick', trigger: interval } });
  const paused = await h.json('PATCH', '/scheduler/jobs/p', { body: { paused: true } });
  assert.deepEqual(
    [paused.status, paused.body.code, paused.body.details.field, paused.body.message],
    [
      400,
      'UNKNOWN_OPTION',
      'paused',
      'Unknown option `paused`; to pause or resume a job, send POST /scheduler/jobs/p/pause or POST /scheduler/jobs/p/resume',
    ],
  );
  const proto = await h.json('GET', '/scheduler/jobs?__proto__=1');
  assert.deepEqual(
    [proto.status, proto.body.code, proto.body.details.field],
    [400, 'UNKNOWN_OPTION', '__proto__'],
  );
  const unknownParam = await h.json('GET', '/scheduler/jobs?sortt=id');
  assert.equal(unknownParam.body.code, 'UNKNOWN_OPTION');
  assert.equal(unknownParam.body.details.field, 'sortt');
  await h.close();
});

test('a duplicate id is 409 JOB_CONFLICT; replaceExisting replaces', async () => {
  const h = await harness();
  const body = { id: 'dup', taskId: 'tick', trigger: interval };
  assert.equal((await h.call('POST', '/scheduler/jobs', { body })).status, 201);
  const again = await h.json('POST', '/scheduler/jobs', { body });
  assert.equal(again.status, 409);
  assert.equal(again.body.code, 'JOB_CONFLICT');
  assert.equal(again.body.details.field, 'id');
  const replaced = await h.json('POST', '/scheduler/jobs', {
    body: { ...body, name: 'renamed', replaceExisting: true },
  });
  assert.equal(replaced.status, 201);
  assert.equal(replaced.body.name, 'renamed');
  await h.close();
});

test('GET /jobs/:id shows the next fire times (n) and recent runs; unknown id is 404 JOB_NOT_FOUND', async () => {
  const h = await harness();
  await h.call('POST', '/scheduler/jobs', { body: { id: 'j', taskId: 'tick', trigger: interval } });
  await h.clock.advance(25_000); // runs at 10 s and 20 s
  const res = await h.json('GET', '/scheduler/jobs/j');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.nextFireTimes, [
    '2024-01-01T00:00:30.000Z',
    '2024-01-01T00:00:40.000Z',
    '2024-01-01T00:00:50.000Z',
    '2024-01-01T00:01:00.000Z',
    '2024-01-01T00:01:10.000Z',
  ]);
  assert.equal(res.body.recentRuns.length, 2);
  assert.equal(res.body.recentRuns[0].status, 'succeeded');
  assert.equal(res.body.recentRuns[0].scheduledFireTime, '2024-01-01T00:00:20.000Z');
  assert.deepEqual(res.body.recentRunCounts, { succeeded: 2 });
  assert.equal(res.body.lastRun.status, 'succeeded');
  assert.equal(res.body.lastRun.duration, 0);
  const two = await h.json('GET', '/scheduler/jobs/j?n=2');
  assert.equal(two.body.nextFireTimes.length, 2);
  const missing = await h.json('GET', '/scheduler/jobs/nope');
  assert.equal(missing.status, 404);
  assert.equal(missing.body.code, 'JOB_NOT_FOUND');
  assert.equal(missing.body.details.field, 'id');
  await h.close();
});

test('GET /jobs lists with filters, sorts and pages (cursor and offset)', async () => {
  const h = await harness();
  const names = ['delta', 'alpha', 'charlie', 'bravo', 'echo'];
  for (const [i, name] of names.entries()) {
    await h.call('POST', '/scheduler/jobs', {
      body: {
        id: `job-${i}`,
        name,
        taskId: i % 2 ? 'slow' : 'tick',
        trigger: { type: 'interval', seconds: 100 - i },
      },
    });
  }
  await h.call('POST', '/scheduler/jobs/job-4/pause');
  const all = await h.json('GET', '/scheduler/jobs');
  assert.deepEqual(
    all.body.items.map((j: { id: string }) => j.id),
    ['job-0', 'job-1', 'job-2', 'job-3', 'job-4'],
  );
  assert.equal(all.body.nextCursor, null);
  assert.ok('lastRun' in all.body.items[0]);
  const slow = await h.json('GET', '/scheduler/jobs?taskId=slow');
  assert.deepEqual(
    slow.body.items.map((j: { id: string }) => j.id),
    ['job-1', 'job-3'],
  );
  const paused = await h.json('GET', '/scheduler/jobs?paused=true');
  assert.deepEqual(
    paused.body.items.map((j: { id: string }) => j.id),
    ['job-4'],
  );
  const active = await h.json('GET', '/scheduler/jobs?paused=false');
  assert.equal(active.body.items.length, 4);
  const byName = await h.json('GET', '/scheduler/jobs?sort=name');
  assert.deepEqual(
    byName.body.items.map((j: { name: string }) => j.name),
    ['alpha', 'bravo', 'charlie', 'delta', 'echo'],
  );
  const byNext = await h.json('GET', '/scheduler/jobs?sort=nextRunTime');
  // job-3 fires first (97 s), ..., job-0 last; the paused job-4 (no next run time) comes last.
  assert.deepEqual(
    byNext.body.items.map((j: { id: string }) => j.id),
    ['job-3', 'job-2', 'job-1', 'job-0', 'job-4'],
  );

  // Keyset paging by id.
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { body: { items: { id: string }[]; nextCursor: string | null } } = await h.json(
      'GET',
      `/scheduler/jobs?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
    );
    assert.ok(page.body.items.length <= 2);
    seen.push(...page.body.items.map((j) => j.id));
    cursor = page.body.nextCursor;
  } while (cursor);
  assert.deepEqual(seen, ['job-0', 'job-1', 'job-2', 'job-3', 'job-4']);
  // Cursor paging on another sort, and plain offsets.
  const p1 = await h.json('GET', '/scheduler/jobs?sort=name&limit=3');
  const p2 = await h.json('GET', `/scheduler/jobs?sort=name&limit=3&cursor=${p1.body.nextCursor}`);
  assert.deepEqual(
    p2.body.items.map((j: { name: string }) => j.name),
    ['delta', 'echo'],
  );
  assert.equal(p2.body.nextCursor, null);
  const off = await h.json('GET', '/scheduler/jobs?offset=3&limit=1');
  assert.deepEqual(
    off.body.items.map((j: { id: string }) => j.id),
    ['job-3'],
  );
  const mixed = await h.json('GET', `/scheduler/jobs?sort=id&cursor=${p1.body.nextCursor}`);
  assert.equal(mixed.status, 400);
  assert.equal(mixed.body.details.field, 'cursor');
  await h.close();
});

/**
 * Seven jobs at 2024-01-01T00:00:00Z (the harness clock). Next run times: j6 +50 s, j2 and j4 +100 s, j3 +200 s,
 * j1 +300 s; j5 and j7 paused (none). By next run time: j6, j2, j4 (tie by id), j3, j1, then j5, j7 (none, by
 * id). By name in code point order: 'Gamma' (j3) < 'alpha' (j2, j4) < 'beta' (j1, j7) < 'delta' (j5) <
 * 'épsilon' (j6).
 */
const SORT_JOBS: [id: string, name: string, seconds: number, paused: boolean][] = [
  ['j1', 'beta', 300, false],
  ['j2', 'alpha', 100, false],
  ['j3', 'Gamma', 200, false],
  ['j4', 'alpha', 100, false],
  ['j5', 'delta', 400, true],
  ['j6', 'épsilon', 50, false],
  ['j7', 'beta', 500, true],
];
const BY_NEXT = ['j6', 'j2', 'j4', 'j3', 'j1', 'j5', 'j7'];
const BY_NAME = ['j3', 'j2', 'j4', 'j1', 'j7', 'j5', 'j6'];

type Page = { items: { id: string; pending: boolean }[]; nextCursor: string | null };
const cursorValue = (cursor: string): unknown =>
  JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));

/** Walks `GET /jobs?<query>` by `nextCursor`; resolves to the ids of each page and the cursors met. */
async function walk(h: Harness, query: string): Promise<{ pages: string[][]; cursors: unknown[] }> {
  const pages: string[][] = [];
  const cursors: unknown[] = [];
  let cursor: string | null = null;
  do {
    const res: { status: number; body: Page } = await h.json(
      'GET',
      `/scheduler/jobs?${query}${cursor ? `&cursor=${cursor}` : ''}`,
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    pages.push(res.body.items.map((j) => j.id));
    cursor = res.body.nextCursor;
    if (cursor) cursors.push(cursorValue(cursor));
  } while (cursor && pages.length < 20);
  return { pages, cursors };
}

test('GET /jobs sorted by nextRunTime or name pages in the store: offset cursors, nothing skipped or repeated', async () => {
  const h = await harness();
  for (const [id, name, seconds, paused] of SORT_JOBS)
    await h.scheduler.addJob('tick', 'interval', { id, name, seconds, paused });
  const filters: JobFilter[] = [];
  const store = h.scheduler.store;
  const getJobs = store.getJobs.bind(store);
  store.getJobs = (filter?: JobFilter) => {
    filters.push({ ...filter });
    return getJobs(filter);
  };

  const next = await walk(h, 'sort=nextRunTime&limit=3');
  assert.deepEqual(next.pages, [BY_NEXT.slice(0, 3), BY_NEXT.slice(3, 6), BY_NEXT.slice(6)]);
  // The cursor format is unchanged: `{ s: sort, o: offset }` for these sorts.
  assert.deepEqual(next.cursors, [
    { s: 'nextRunTime', o: 3 },
    { s: 'nextRunTime', o: 6 },
  ]);
  const name = await walk(h, 'sort=name&limit=3');
  assert.deepEqual(name.pages, [BY_NAME.slice(0, 3), BY_NAME.slice(3, 6), BY_NAME.slice(6)]);
  // Filtered: the active jobs only; a last page that is exactly full has no next cursor.
  const active = await walk(h, 'sort=nextRunTime&paused=false&limit=5');
  assert.deepEqual(active.pages, [['j6', 'j2', 'j4', 'j3', 'j1']]);
  const slow = await walk(h, 'sort=name&paused=true&limit=1');
  assert.deepEqual(slow.pages, [['j7'], ['j5']]);
  // Every read was one page in the store's order (limit = page + 1), never a read of all jobs.
  assert.ok(filters.length > 0);
  for (const f of filters) {
    assert.ok(f.limit !== undefined && f.limit <= 6, JSON.stringify(f));
    assert.ok(f.sort === 'nextRunTime' || f.sort === 'name', JSON.stringify(f));
  }
  assert.deepEqual(filters[1], { sort: 'nextRunTime', limit: 4, offset: 3 });

  // A cursor made by an earlier version (same format), and plain offsets.
  const old = Buffer.from(JSON.stringify({ s: 'name', o: 4 }), 'utf8').toString('base64url');
  const fromOld = await h.json('GET', `/scheduler/jobs?sort=name&limit=2&cursor=${old}`);
  assert.deepEqual(
    fromOld.body.items.map((j: { id: string }) => j.id),
    ['j7', 'j5'],
  );
  assert.deepEqual(cursorValue(fromOld.body.nextCursor), { s: 'name', o: 6 });
  const byOffset = await h.json('GET', '/scheduler/jobs?sort=nextRunTime&offset=5&limit=5');
  assert.deepEqual(
    byOffset.body.items.map((j: { id: string }) => j.id),
    ['j5', 'j7'],
  );
  assert.equal(byOffset.body.nextCursor, null);
  // Keyset paging by id is unchanged (`{ s: 'id', a: lastId }`).
  const byId = await walk(h, 'limit=4');
  assert.deepEqual(byId.pages, [
    ['j1', 'j2', 'j3', 'j4'],
    ['j5', 'j6', 'j7'],
  ]);
  assert.deepEqual(byId.cursors, [{ s: 'id', a: 'j4' }]);
  await h.close();
});

test('GET /jobs before start(): the waiting jobs are filtered, sorted and paged the same way', async () => {
  const h = await harness({ start: false });
  for (const [id, name, seconds, paused] of SORT_JOBS)
    await h.scheduler.addJob('tick', 'interval', { id, name, seconds, paused });
  for (const started of [false, true]) {
    if (started) await h.scheduler.start();
    const next = await walk(h, 'sort=nextRunTime&limit=3');
    assert.deepEqual(next.pages, [BY_NEXT.slice(0, 3), BY_NEXT.slice(3, 6), BY_NEXT.slice(6)], `${started}`);
    const name = await walk(h, 'sort=name&limit=4');
    assert.deepEqual(name.pages, [BY_NAME.slice(0, 4), BY_NAME.slice(4)], `${started}`);
    const paused = await walk(h, 'sort=nextRunTime&paused=true&limit=1');
    assert.deepEqual(paused.pages, [['j5'], ['j7']], `${started}`);
    const byId = await walk(h, 'limit=5');
    assert.deepEqual(byId.pages, [
      ['j1', 'j2', 'j3', 'j4', 'j5'],
      ['j6', 'j7'],
    ]);
    const page = await h.json('GET', '/scheduler/jobs?sort=name&limit=1');
    assert.equal(page.body.items[0].pending, !started);
    // The scheduler's own API: the same order and counts, waiting or stored.
    const jobs = await h.scheduler.getJobs({ sort: 'name', offset: 1, limit: 3 });
    assert.deepEqual(
      jobs.map((j) => j.id),
      BY_NAME.slice(1, 4),
    );
    assert.equal(await h.scheduler.countJobs(), 7);
    assert.equal(await h.scheduler.countJobs({ paused: true }), 2);
    assert.equal(await h.scheduler.countJobs({ paused: false, taskId: 'tick' }), 5);
    assert.equal(await h.scheduler.countJobs({ taskId: 'slow' }), 0);
  }
  await h.close();
});

test('PATCH with a body that is not an object (JSON null included) says so, as POST does', async () => {
  const h = await harness();
  await h.json('POST', '/scheduler/jobs', {
    body: { id: 'p', taskId: 'tick', trigger: { type: 'interval', seconds: 10 } },
  });
  for (const [body, shown] of [
    ['null', 'null'],
    ['[]', '[]'],
    ['5', '5'],
  ]) {
    const res = await h.json('PATCH', '/scheduler/jobs/p', { body });
    assert.equal(res.status, 400, body);
    assert.equal(res.body.code, 'INVALID_OPTION');
    assert.equal(res.body.message, `Expected \`body\` to be of type object, got \`${shown}\``);
    assert.equal(res.body.details.field, 'body');
  }
  // An empty object, or no body at all, changes nothing: that is what the message says.
  for (const options of [{ body: {} }, {}]) {
    const res = await h.json('PATCH', '/scheduler/jobs/p', options);
    assert.equal(res.status, 400);
    assert.match(res.body.message, /^Expected at least one of name, args, /);
  }
  await h.close();
});

test('PATCH modifies options and/or reschedules; a paused job stays paused', async () => {
  const h = await harness();
  await h.call('POST', '/scheduler/jobs', { body: { id: 'p', taskId: 'tick', trigger: interval } });
  const renamed = await h.json('PATCH', '/scheduler/jobs/p', {
    body: { name: 'new', args: [42], maxInstances: 3 },
  });
  assert.equal(renamed.status, 200);
  assert.equal(renamed.body.name, 'new');
  assert.deepEqual(renamed.body.args, [42]);
  assert.equal(renamed.body.maxInstances, 3);
  const resched = await h.json('PATCH', '/scheduler/jobs/p', {
    body: { trigger: { type: 'interval', minutes: 5 } },
  });
  assert.equal(resched.body.description, 'Every 5 minutes');
  assert.equal(resched.body.nextRunTime, '2024-01-01T00:05:00.000Z');
  await h.call('POST', '/scheduler/jobs/p/pause');
  const both = await h.json('PATCH', '/scheduler/jobs/p', {
    body: { name: 'both', trigger: { type: 'cron', expression: '0 * * * *' } },
  });
  assert.equal(both.body.name, 'both');
  assert.equal(both.body.trigger.type, 'cron');
  assert.equal(both.body.paused, true);
  // A bad trigger changes nothing (not even the other fields).
  const bad = await h.json('PATCH', '/scheduler/jobs/p', {
    body: { name: 'x', trigger: { type: 'cron', expression: 'nope' } },
  });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, 'INVALID_CRON');
  assert.equal((await h.json('GET', '/scheduler/jobs/p')).body.name, 'both');
  // A new trigger and a nextRunTime: the given time wins (rescheduling would recompute it).
  const both2 = await h.json('PATCH', '/scheduler/jobs/p', {
    body: { trigger: { type: 'interval', hours: 2 }, nextRunTime: '2031-01-01T00:00:00Z' },
  });
  assert.equal(both2.status, 200);
  assert.equal(both2.body.nextRunTime, '2031-01-01T00:00:00.000Z');
  assert.equal(both2.body.description, 'Every 2 hours');
  await h.call('POST', '/scheduler/jobs/p/pause');
  await h.json('PATCH', '/scheduler/jobs/p', {
    body: { trigger: { type: 'cron', expression: '0 * * * *' } },
  });
  // Nor does a trigger that never fires (30 February).
  const never = await h.json('PATCH', '/scheduler/jobs/p', {
    body: { name: 'x', maxInstances: 7, trigger: { type: 'cron', expression: '0 0 30 2 *' } },
  });
  assert.equal(never.status, 400);
  assert.equal(never.body.code, 'TRIGGER_NEVER_FIRES');
  const kept = (await h.json('GET', '/scheduler/jobs/p')).body;
  assert.equal(kept.name, 'both');
  assert.equal(kept.maxInstances, 3);
  assert.equal(kept.trigger.type, 'cron');
  const empty = await h.json('PATCH', '/scheduler/jobs/p', { body: {} });
  assert.equal(empty.status, 400);
  assert.equal(empty.body.details.field, 'body');
  const unknown = await h.json('PATCH', '/scheduler/jobs/p', { body: { taskId: 'slow' } });
  assert.equal(unknown.body.code, 'UNKNOWN_OPTION');
  assert.equal(unknown.body.details.field, 'taskId');
  const missing = await h.json('PATCH', '/scheduler/jobs/zzz', { body: { name: 'x' } });
  assert.equal(missing.status, 404);
  assert.equal(missing.body.code, 'JOB_NOT_FOUND');
  await h.close();
});

test('PATCH with a trigger is one write: a store write slow enough for its only fire time to pass applies all or nothing', async () => {
  // A memory store whose writes of a job's name or trigger take 10 s of the scheduler's (manual) clock once
  // armed (the scheduler's own writes, advancing next run times, stay instant).
  const store = new MemoryStore();
  let slow = false;
  const writes: string[][] = [];
  const updateJob = store.updateJob.bind(store);
  const h = await harness({
    scheduler: {
      store: Object.assign(store, {
        updateJob: async (...args: Parameters<MemoryStore['updateJob']>) => {
          const keys = Object.keys(args[1]).sort();
          if (slow && (keys.includes('name') || keys.includes('trigger'))) {
            writes.push(keys);
            await h.clock.sleep(10_000);
          }
          return updateJob(...args);
        },
      }),
    },
  });
  // (Hourly: it does not fire, changing its version, during the write.)
  await h.call('POST', '/scheduler/jobs', {
    body: { id: 'd', taskId: 'tick', trigger: { type: 'interval', hours: 1 } },
  });
  slow = true;
  // Now is 00:00:00; the new trigger's only fire time is 00:00:05, 5 s before the first write ends.
  const patching = h.json('PATCH', '/scheduler/jobs/d', {
    body: {
      name: 'renamed',
      maxInstances: 4,
      trigger: {
        type: 'interval',
        hours: 1,
        startDate: '2024-01-01T00:00:05Z',
        endDate: '2024-01-01T00:00:05Z',
      },
    },
  });
  // The clock moves a second at a time until the PATCH answers (a minute at most).
  let answered = false;
  void patching.then(() => (answered = true));
  for (let i = 0; i < 60 && !answered; i++) await h.clock.advance(1000);
  assert.ok(answered, 'the PATCH answered within a minute of the clock');
  const patched = await patching;
  slow = false;
  // One write, holding the trigger, its first fire time (checked before the write began) and the options.
  assert.deepEqual(writes, [['maxInstances', 'name', 'nextRunTime', 'trigger']]);
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.deepEqual(
    [patched.body.name, patched.body.maxInstances, patched.body.trigger.type, patched.body.nextRunTime],
    ['renamed', 4, 'interval', '2024-01-01T00:00:05.000Z'],
  );
  await h.close();
});

test('pause, resume, run now (202, then 409 MAX_INSTANCES_REACHED) and DELETE (204, then 404)', async () => {
  const h = await harness();
  await h.call('POST', '/scheduler/jobs', {
    body: { id: 's', taskId: 'slow', trigger: { type: 'interval', hours: 1 } },
  });
  const paused = await h.json('POST', '/scheduler/jobs/s/pause');
  assert.equal(paused.status, 200);
  assert.equal(paused.body.paused, true);
  assert.equal(paused.body.nextRunTime, null);
  await h.clock.advance(1000);
  const resumed = await h.json('POST', '/scheduler/jobs/s/resume');
  assert.equal(resumed.body.paused, false);
  assert.equal(resumed.body.nextRunTime, '2024-01-01T01:00:01.000Z');

  const run = await h.json('POST', '/scheduler/jobs/s/run');
  assert.equal(run.status, 202);
  assert.equal(run.body.jobId, 's');
  assert.equal(run.body.manual, true);
  assert.equal(run.headers.get('location'), `/scheduler/runs/${run.body.id}`);
  await h.clock.advance(0); // the run starts and sleeps 5 s
  assert.deepEqual(h.calls, ['slow']);
  const skipped = await h.json('POST', '/scheduler/jobs/s/run');
  assert.equal(skipped.status, 409);
  assert.equal(skipped.body.code, 'MAX_INSTANCES_REACHED');
  assert.equal(skipped.body.details.run.status, 'skipped');
  await h.clock.advance(5000);

  const gone = await h.call('DELETE', '/scheduler/jobs/s');
  assert.equal(gone.status, 204);
  assert.equal(await gone.text(), '');
  for (const [method, path] of [
    ['DELETE', '/scheduler/jobs/s'],
    ['POST', '/scheduler/jobs/s/pause'],
    ['POST', '/scheduler/jobs/s/resume'],
    ['POST', '/scheduler/jobs/s/run'],
  ] as const) {
    const res = await h.json(method, path);
    assert.equal(res.status, 404, `${method} ${path}`);
    assert.equal(res.body.code, 'JOB_NOT_FOUND');
  }
  await h.close();
});

test('resuming a job whose trigger has no fire time left removes it: 200 { id, removed: true }', async () => {
  const h = await harness();
  await h.call('POST', '/scheduler/jobs', {
    body: {
      id: 'ending',
      taskId: 'tick',
      trigger: { type: 'interval', seconds: 1, endDate: '2024-01-01T00:00:05Z' },
      paused: true,
    },
  });
  await h.clock.advance(10_000);
  const res = await h.json('POST', '/scheduler/jobs/ending/resume');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { id: 'ending', removed: true });
  assert.equal((await h.call('GET', '/scheduler/jobs/ending')).status, 404);
  await h.close();
});

test('before start, jobs wait (pending); run history needs a started scheduler (409)', async () => {
  const h = await harness({ start: false });
  const created = await h.json('POST', '/scheduler/jobs', {
    body: { id: 'early', taskId: 'tick', trigger: interval },
  });
  assert.equal(created.status, 201);
  assert.equal(created.body.pending, true);
  const list = await h.json('GET', '/scheduler/jobs');
  assert.deepEqual(
    list.body.items.map((j: { id: string }) => j.id),
    ['early'],
  );
  const runs = await h.json('GET', '/scheduler/runs');
  assert.equal(runs.status, 409);
  assert.equal(runs.body.code, 'SCHEDULER_NOT_RUNNING');
  const run = await h.json('POST', '/scheduler/jobs/early/run');
  assert.equal(run.body.code, 'SCHEDULER_NOT_RUNNING');
  await h.close();
});

test('lastRun counts only runs of the job itself, not those of an earlier job with the same id', async () => {
  const h = await harness();
  const body = { id: 'again', taskId: 'tick', trigger: { type: 'interval', hours: 1 } };
  assert.equal((await h.call('POST', '/scheduler/jobs', { body })).status, 201);
  assert.equal((await h.call('POST', '/scheduler/jobs/again/run')).status, 202);
  await h.clock.advance(1000);
  const before = await h.json('GET', '/scheduler/jobs/again');
  assert.equal(before.body.lastRun.status, 'succeeded');
  assert.equal((await h.call('DELETE', '/scheduler/jobs/again')).status, 204);
  await h.clock.advance(1000);
  assert.equal((await h.call('POST', '/scheduler/jobs', { body })).status, 201);
  const list = await h.json('GET', '/scheduler/jobs');
  assert.equal(list.body.items[0].id, 'again');
  assert.equal(list.body.items[0].lastRun, null);
  const one = await h.json('GET', '/scheduler/jobs/again');
  assert.equal(one.body.lastRun, null);
  assert.deepEqual(one.body.recentRuns, []);
  assert.deepEqual(one.body.recentRunCounts, {});
  // The old run is still in the history.
  assert.equal((await h.json('GET', '/scheduler/runs?jobId=again')).body.items.length, 1);
  // A run of the new job counts.
  assert.equal((await h.call('POST', '/scheduler/jobs/again/run')).status, 202);
  await h.clock.advance(0);
  const after = await h.json('GET', '/scheduler/jobs');
  assert.equal(after.body.items[0].lastRun.status, 'succeeded');
  assert.equal((await h.json('GET', '/scheduler/jobs/again')).body.recentRuns.length, 1);
  await h.close();
});

test('a memory-store job whose args or run result contain themselves is listed, the repeat cut as "[Circular]"', async () => {
  const h = await harness();
  const cyclic: Record<string, unknown> = { n: 1 };
  cyclic.self = cyclic;
  h.scheduler.defineTask('cyclic', () => cyclic);
  await h.scheduler.addJob('cyclic', 'interval', { id: 'c', seconds: 10, args: [cyclic, 2n] });
  await h.clock.advance(10_000);
  const job = await h.json('GET', '/scheduler/jobs/c');
  assert.equal(job.status, 200);
  assert.deepEqual(job.body.args, [{ n: 1, self: '[Circular]' }, '2']);
  const list = await h.json('GET', '/scheduler/jobs');
  assert.equal(list.status, 200);
  // Nesting deeper than the stack can serialise is cut too (the list still answers).
  let deep: unknown[] = [];
  for (let i = 0; i < 20_000; i++) deep = [deep];
  await h.scheduler.addJob('cyclic', 'interval', { id: 'deep', seconds: 10, args: [deep] });
  const withDeep = await h.json('GET', '/scheduler/jobs');
  assert.equal(withDeep.status, 200);
  assert.match(JSON.stringify(withDeep.body), /\[Too deep\]/);
  const runs = await h.json('GET', '/scheduler/runs?jobId=c');
  assert.equal(runs.status, 200);
  assert.equal(runs.body.items.length, 1);
  assert.deepEqual(runs.body.items[0].result, { n: 1, self: '[Circular]' });
  await h.close();
});

test('POST /jobs/{id}/pause, /resume and /run take no body: a field sent is UNKNOWN_OPTION and changes nothing', async () => {
  const h = await harness();
  await h.scheduler.addJob('tick', new IntervalTrigger({ seconds: 10 }), { id: 'a' });
  for (const action of ['pause', 'resume', 'run']) {
    const res = await h.json('POST', `/scheduler/jobs/a/${action}`, {
      body: { until: '2024-02-01T00:00:00Z' },
    });
    assert.equal(res.status, 400, action);
    assert.equal(res.body.code, 'UNKNOWN_OPTION');
    assert.equal(res.body.details.field, 'until');
    assert.equal(res.body.message, `Unknown option \`until\`: POST /jobs/{id}/${action} takes no body`);
    const notObject = await h.json('POST', `/scheduler/jobs/a/${action}`, { body: [1] });
    assert.equal(notObject.status, 400, action);
    assert.deepEqual([notObject.body.code, notObject.body.details.field], ['INVALID_OPTION', 'body']);
  }
  const job = await h.scheduler.getJob('a');
  assert.equal(job?.paused, false, 'the refused pause paused nothing');
  assert.equal((await h.scheduler.getRuns({ jobId: 'a' })).length, 0, 'the refused run ran nothing');
  // No body, an empty one, or {} is an action as before.
  assert.equal((await h.call('POST', '/scheduler/jobs/a/pause')).status, 200);
  assert.equal((await h.call('POST', '/scheduler/jobs/a/resume', { body: {} })).status, 200);
  const empty = await h.call('POST', '/scheduler/jobs/a/pause', {
    body: '',
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(empty.status, 200);
  assert.equal((await h.scheduler.getJob('a'))?.paused, true);
  await h.close();
});

/**
 * `tickwork serve` and `tickwork jobs ...` through runCli()/buildProgram() with captured output, against a
 * real server on an ephemeral port: config loading, stores, tokens, the dashboard, and exit codes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProgram, runCli, type CliIO, type ProgramOptions } from '../../src/cli/program.js';

const ADMIN = 'cli-admin-token-0123456789abcdef';
const READER = 'cli-read-token-0123456789abcdef';

function capture(): CliIO & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

const CONFIG = `
export default {
  tasks: {
    hello: async () => 'hi',
    report: async () => 'report',
  },
  jobs: [
    { id: 'hello', taskId: 'hello', trigger: { type: 'interval', hours: 1 } },
    { id: 'nightly', name: 'nightly report', taskId: 'report', trigger: { type: 'cron', expression: '0 3 * * *' } },
  ],
};
`;

function tempDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tickwork-cli-'));
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

interface Serving {
  url: string;
  io: ReturnType<typeof capture>;
  stop(): Promise<number>;
}

/** Runs `tickwork serve ...` until stopped; resolves once the dashboard line is printed. */
async function serve(args: string[], options: ProgramOptions): Promise<Serving> {
  const io = capture();
  const controller = new AbortController();
  const done = runCli(['serve', '--port', '0', ...args], io, { ...options, signal: controller.signal });
  let settled: number | null = null;
  void done.then((code) => (settled = code));
  const deadline = Date.now() + 30_000;
  let line: string | undefined;
  while (
    !(line = io.stderr.find((l) => l.startsWith('Dashboard:'))) &&
    settled === null &&
    Date.now() < deadline
  ) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(line, `serve did not start (exit ${settled}):\n${io.stderr.join('\n')}`);
  const url = /Dashboard: (http:\/\/\S+)\/scheduler\//.exec(line)![1]!;
  return {
    url,
    io,
    async stop() {
      controller.abort();
      return done;
    },
  };
}

/** Runs one CLI command; returns its exit code and output. */
async function cli(args: string[], env: Record<string, string> = {}) {
  const io = capture();
  const code = await runCli(args, io, { env });
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

describe('tickwork serve + jobs', () => {
  let dir: string;
  let server: Serving;
  let api: string;
  const env = (): Record<string, string> => ({ TICKWORK_URL: api, TICKWORK_TOKEN: ADMIN });

  before(async () => {
    dir = tempDir({ 'tickwork.config.js': CONFIG });
    server = await serve(['--store', 'memory:', '--token', ADMIN], {
      cwd: dir,
      env: { TICKWORK_READ_TOKEN: READER },
    });
    api = `${server.url}/scheduler`;
  });
  after(async () => {
    assert.equal(await server.stop(), 0);
    rmSync(dir, { recursive: true, force: true });
  });

  test('serve: the API, the dashboard and the config jobs; the given token is not printed', async () => {
    assert.ok(!server.io.stderr.join('\n').includes(ADMIN));
    const page = await fetch(`${api}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await page.text(), /dashboard\.js/);
    assert.equal((await fetch(`${api}/jobs`)).status, 401);
    const status = await fetch(`${api}/status`, { headers: { authorization: `Bearer ${READER}` } });
    assert.equal(status.status, 200);
    assert.deepEqual(((await status.json()) as { tasks: string[] }).tasks.sort(), ['hello', 'report']);
  });

  test('jobs list: a table, --json, filters', async () => {
    const list = await cli(['jobs', 'list'], env());
    assert.equal(list.code, 0, list.err);
    const lines = list.out.split('\n');
    assert.match(lines[0]!, /^ID\s+NAME\s+SCHEDULE\s+NEXT RUN\s+LAST RUN\s+STATE$/);
    assert.match(list.out, /^hello\s+hello\s+Every hour\s+\d{4}-\d\d-\d\dT\S+\s+never\s+active$/m);
    assert.match(list.out, /^nightly\s+nightly report\s+At 03:00/m);

    const json = await cli(['jobs', 'list', '--json', '--url', api, '--token', READER]);
    assert.equal(json.code, 0, json.err);
    assert.deepEqual(
      (JSON.parse(json.out) as { id: string }[]).map((j) => j.id),
      ['hello', 'nightly'],
    );
    const one = await cli(['jobs', 'list', '--json', '-n', '1'], env());
    assert.equal((JSON.parse(one.out) as unknown[]).length, 1);
    const task = await cli(['jobs', 'list', '--task', 'report'], env());
    assert.doesNotMatch(task.out, /^hello/m);
  });

  test('jobs add: --cron, --every, --at and --trigger; the policy options; errors exit 2 (1 for a conflict)', async () => {
    const cron = await cli(
      [
        'jobs',
        'add',
        '--task',
        'report',
        '--cron',
        '0 9 * * 1-5',
        '--timezone',
        'Europe/Paris',
        '--id',
        'weekday',
      ],
      env(),
    );
    assert.equal(cron.code, 0, cron.err);
    assert.match(
      cron.out,
      /^added weekday: At 09:00, Monday through Friday \(Europe\/Paris time\), next run at \d{4}-\d\d-\d\dT0[78]:00:00\.000Z$/,
    );
    const at = await cli(
      [
        'jobs',
        'add',
        '--task',
        'hello',
        '--at',
        '2030-01-02T03:04:05Z',
        '--id',
        'once',
        '--args',
        '["a", 1]',
        '--json',
      ],
      env(),
    );
    assert.equal(at.code, 0, at.err);
    const once = JSON.parse(at.out) as { nextRunTime: string; args: unknown[]; taskId: string };
    assert.deepEqual(
      [once.nextRunTime, once.args, once.taskId],
      ['2030-01-02T03:04:05.000Z', ['a', 1], 'hello'],
    );
    const every = await cli(
      [
        'jobs',
        'add',
        '--task',
        'hello',
        '--every',
        '1500',
        '--id',
        'tick',
        '--name',
        'ticker',
        '--max-instances',
        '2',
        '--misfire-grace-time',
        'none',
        '--no-coalesce',
        '--jitter',
        '250',
        '--timeout',
        '1000',
        '--retry',
        '3',
        '--paused',
        '--json',
      ],
      env(),
    );
    assert.equal(every.code, 0, every.err);
    const tick = JSON.parse(every.out) as Record<string, unknown>;
    assert.deepEqual(
      [
        tick.name,
        tick.triggerText,
        tick.maxInstances,
        tick.misfireGraceTime,
        tick.coalesce,
        tick.jitter,
        tick.timeout,
        tick.paused,
      ],
      ['ticker', 'interval[0:00:01.500000]', 2, null, false, 250, 1000, true],
    );
    assert.equal((tick.retry as { attempts: number }).attempts, 3);
    const trigger = await cli(
      [
        'jobs',
        'add',
        '--task',
        'hello',
        '--trigger',
        '{"type":"date","runDate":"2031-05-06T07:08:09Z"}',
        '--id',
        'json',
      ],
      env(),
    );
    assert.deepEqual(
      [trigger.code, trigger.out],
      [0, 'added json: Once, at 2031-05-06T07:08:09+00:00, next run at 2031-05-06T07:08:09.000Z'],
    );

    // Input the CLI refuses before asking the server.
    const none = await cli(['jobs', 'add', '--task', 'hello'], env());
    assert.equal(none.code, 2);
    assert.match(
      none.err,
      /expected a trigger: --cron <expression>, --every <ms>, --at <date> or --trigger <json>/,
    );
    const two = await cli(['jobs', 'add', '--task', 'hello', '--cron', '@daily', '--every', '5'], env());
    assert.equal(two.code, 2);
    assert.match(two.err, /--cron and --every exclude each other/);
    const args = await cli(['jobs', 'add', '--task', 'hello', '--every', '5', '--args', '{"a":1}'], env());
    assert.equal(args.code, 2);
    assert.match(args.err, /--args must be a JSON array/);
    const notJson = await cli(['jobs', 'add', '--task', 'hello', '--trigger', '{type:cron}'], env());
    assert.equal(notJson.code, 2);
    assert.match(notJson.err, /--trigger is not JSON/);
    const ms = await cli(['jobs', 'add', '--task', 'hello', '--every', '5s'], env());
    assert.equal(ms.code, 2);
    assert.match(ms.err, /expected a number of milliseconds >= 0/);
    // Input the server refuses: its code and message.
    const cronBad = await cli(['jobs', 'add', '--task', 'hello', '--cron', '61 * * * *'], env());
    assert.equal(cronBad.code, 2);
    assert.match(cronBad.err, /INVALID_CRON/);
    const task = await cli(['jobs', 'add', '--task', 'nope', '--every', '1000'], env());
    assert.equal(task.code, 2);
    assert.match(task.err, /TASK_NOT_FOUND/);
    const conflict = await cli(['jobs', 'add', '--task', 'hello', '--every', '1000', '--id', 'tick'], env());
    assert.equal(conflict.code, 1);
    assert.match(conflict.err, /JOB_CONFLICT/);
    const replaced = await cli(
      ['jobs', 'add', '--task', 'hello', '--every', '2000', '--id', 'tick', '--replace'],
      env(),
    );
    assert.equal(replaced.code, 0, replaced.err);
    // The job was paused (--paused): a replacing add keeps an operator's pause (docs/stores.md).
    assert.equal(replaced.out, 'added tick: Every 2 seconds, paused');
    const reader = await cli([
      'jobs',
      'add',
      '--task',
      'hello',
      '--every',
      '1000',
      '--url',
      api,
      '--token',
      READER,
    ]);
    assert.equal(reader.code, 1);
    assert.match(reader.err, /FORBIDDEN/);
    for (const id of ['weekday', 'once', 'tick', 'json'])
      assert.equal((await cli(['jobs', 'rm', id], env())).code, 0);
  });

  test('jobs show: schedule, state, policy, next fire times, recent runs; --json; 3 for a job that does not exist', async () => {
    const add = await cli(
      [
        'jobs',
        'add',
        '--task',
        'hello',
        '--cron',
        '30 4 * * *',
        '--timezone',
        'UTC',
        '--id',
        'shown',
        '--max-instances',
        '3',
        '--timeout',
        '5000',
      ],
      env(),
    );
    assert.equal(add.code, 0, add.err);
    assert.equal((await cli(['jobs', 'run', 'shown'], env())).code, 0);
    // The manual run (the task returns at once) is recorded.
    const deadline = Date.now() + 10_000;
    let shown = await cli(['jobs', 'show', 'shown', '-n', '3'], env());
    while (!/succeeded \(manual\)/.test(shown.out) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      shown = await cli(['jobs', 'show', 'shown', '-n', '3'], env());
    }
    assert.equal(shown.code, 0, shown.err);
    const lines = shown.out.split('\n');
    assert.match(
      shown.out,
      /^schedule\s+At 04:30 \(UTC\) \(cron\[expression='30 4 \* \* \*', timezone='UTC'\]\)$/m,
    );
    assert.match(shown.out, /^state\s+active$/m);
    assert.match(shown.out, /^maxInstances\s+3$/m);
    assert.match(shown.out, /^timeout\s+5000 ms$/m);
    assert.match(shown.out, /^retry\s+none$/m);
    // Three fire times, a day apart at 04:30 UTC.
    const from = lines.indexOf('next fire times:') + 1;
    const times = lines.slice(from, lines.indexOf('', from)).map((l) => Date.parse(l.trim()));
    assert.equal(times.length, 3);
    for (const t of times) assert.equal(new Date(t).toISOString().slice(11), '04:30:00.000Z');
    assert.deepEqual([times[1]! - times[0]!, times[2]! - times[1]!], [86_400_000, 86_400_000]);
    assert.match(shown.out, /^recent runs \(the newest 100: succeeded 1\):$/m);
    assert.match(shown.out, /^ {2}SCHEDULED\s+STATUS\s+STARTED\s+DURATION\s+RUN$/m);
    const json = await cli(['jobs', 'show', 'shown', '--json', '--url', api, '--token', READER]);
    assert.equal(json.code, 0, json.err);
    const detail = JSON.parse(json.out) as { id: string; nextFireTimes: string[] };
    assert.deepEqual([detail.id, detail.nextFireTimes.length], ['shown', 5]);
    const missing = await cli(['jobs', 'show', 'nope'], env());
    assert.equal(missing.code, 3);
    assert.match(missing.err, /JOB_NOT_FOUND/);
    const n = await cli(['jobs', 'show', 'shown', '-n', '101'], env());
    assert.equal(n.code, 2);
    assert.equal((await cli(['jobs', 'rm', 'shown'], env())).code, 0);
  });

  test('jobs pause, resume, run, remove; 3 for a job that does not exist', async () => {
    const pause = await cli(['jobs', 'pause', 'hello'], env());
    assert.deepEqual([pause.code, pause.out], [0, 'paused hello']);
    const paused = await cli(['jobs', 'list', '--paused'], env());
    assert.match(paused.out, /^hello\s.*paused$/m);
    assert.doesNotMatch(paused.out, /^nightly/m);
    const resume = await cli(['jobs', 'resume', 'hello'], env());
    assert.equal(resume.code, 0, resume.err);
    assert.match(resume.out, /^resumed hello, next run at \d{4}-/);
    const run = await cli(['jobs', 'run', 'hello'], env());
    assert.equal(run.code, 0, run.err);
    assert.match(run.out, /^started run \S+ of hello$/);
    const removed = await cli(['jobs', 'remove', 'nightly'], env());
    assert.deepEqual([removed.code, removed.out], [0, 'removed nightly']);
    const again = await cli(['jobs', 'rm', 'nightly'], env());
    assert.equal(again.code, 3);
    assert.match(again.err, /JOB_NOT_FOUND/);
    assert.equal((await cli(['jobs', 'pause', 'nope'], env())).code, 3);
    assert.equal((await cli(['jobs', 'run', 'nope'], env())).code, 3);
  });

  test('jobs show, pause, resume, run, remove refuse the ids "." and ".." (exit 2) instead of sending a path URLs resolve elsewhere', async () => {
    // `/jobs/..` is `/` and `/jobs/./run` is `/jobs/run` once a URL is parsed: no job can have these ids.
    for (const id of ['.', '..']) {
      for (const command of ['show', 'pause', 'resume', 'run', 'remove']) {
        const r = await cli(['jobs', command, id], env());
        assert.equal(r.code, 2, `jobs ${command} ${id}: ${r.err}`);
        assert.match(r.err, /^error: a job id is never "\." or "\.\."/, `jobs ${command} ${id}`);
      }
    }
  });

  test('exit codes: 1 for a refused token or an unreachable server, 2 for bad input', async () => {
    const none = await cli(['jobs', 'list', '--url', api]);
    assert.equal(none.code, 1);
    assert.match(none.err, /UNAUTHORIZED.*--token or TICKWORK_TOKEN/);
    const reader = await cli(['jobs', 'pause', 'hello', '--url', api, '--token', READER]);
    assert.equal(reader.code, 1);
    assert.match(reader.err, /FORBIDDEN.*admin token/);
    const closed = await closedPort();
    const down = await cli(['jobs', 'list', '--url', `http://127.0.0.1:${closed}/scheduler`]);
    assert.equal(down.code, 1);
    assert.match(down.err, /cannot reach/);
    assert.equal((await cli(['jobs', 'list', '--url', 'not a url'])).code, 2);
    assert.equal((await cli(['jobs', 'list', '--url', 'ftp://example.com/'])).code, 2);
    const prefix = await cli(['jobs', 'list', '--url', `${server.url}/elsewhere`], env());
    assert.equal(prefix.code, 2);
    assert.match(prefix.err, /is --url the API/);
    // A token that could never be accepted is bad input, with the message `serve` gives.
    for (const token of ['short', 'has a space 0123456789abcdef']) {
      const bad = await cli(['jobs', 'list', '--url', api, '--token', token]);
      assert.equal(bad.code, 2, bad.err);
      assert.match(
        bad.err,
        /--token \/ TICKWORK_TOKEN must (be at least 16 characters|not contain whitespace)/,
      );
    }
    assert.equal((await cli(['jobs', 'pause', 'hello'], { ...env(), TICKWORK_TOKEN: 'short' })).code, 2);
    assert.equal((await cli(['jobs', 'list', '--paused', '--active'], env())).code, 2);
    assert.equal((await cli(['jobs', 'list', '-n', 'zero'], env())).code, 2);
    assert.equal((await cli(['jobs', 'pause'], env())).code, 2);
    assert.equal((await cli(['jobs', 'frobnicate'], env())).code, 2);
    // A base URL with credentials, a query or a fragment: refused (they were glued to the path, and the
    // password printed with every error); an empty job id names no job.
    for (const url of [
      `http://user:s3cret@127.0.0.1:${closed}/scheduler`,
      `${api}?x=1`,
      `${api}#top`,
      `${api}?`,
      `${api}#`,
    ]) {
      const odd = await cli(['jobs', 'list', '--url', url]);
      assert.equal(odd.code, 2, url);
      assert.match(odd.err, /without user, query or fragment/, url);
      assert.doesNotMatch(odd.err, /s3cret/);
    }
    const empty = await cli(['jobs', 'pause', ''], env());
    assert.equal(empty.code, 2);
    assert.match(empty.err, /expected a job id/);
  });
});

async function closedPort(): Promise<number> {
  const srv: Server = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('tickwork serve: stores, tokens, configs', () => {
  test('defaults: SQLite at ./data/tickwork-serve.db, a generated admin token printed with the URL', async () => {
    const dir = tempDir({ 'tickwork.config.js': CONFIG });
    try {
      const server = await serve([], { cwd: dir, env: {} });
      const line = server.io.stderr.find((l) => l.startsWith('Dashboard:'))!;
      const token = /token: (\S+)$/.exec(line)![1]!;
      assert.ok(token.length >= 16);
      // Not npm start's ./data/tickwork.db: a serve there would inherit the demo's `tick` job.
      assert.ok(existsSync(join(dir, 'data', 'tickwork-serve.db')));
      assert.ok(!existsSync(join(dir, 'data', 'tickwork.db')));
      const list = await cli(['jobs', 'list', '--json'], {
        TICKWORK_URL: `${server.url}/scheduler`,
        TICKWORK_TOKEN: token,
      });
      assert.equal(list.code, 0, list.err);
      assert.equal((JSON.parse(list.out) as unknown[]).length, 2);
      assert.equal(await server.stop(), 0);
      // The jobs are in the file: a second start with the same config keeps them (replaced, not doubled).
      const again = await serve(['--token', ADMIN], {
        cwd: dir,
        env: { TICKWORK_STORE: 'sqlite:./data/tickwork-serve.db' },
      });
      const list2 = await cli(['jobs', 'list', '--json'], {
        TICKWORK_URL: `${again.url}/scheduler`,
        TICKWORK_TOKEN: ADMIN,
      });
      assert.equal((JSON.parse(list2.out) as unknown[]).length, 2);
      assert.equal(await again.stop(), 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a TypeScript config through --config, --no-auth, and the store named by the config', async () => {
    const dir = tempDir({
      'ops.config.ts': `
        const tasks: Record<string, () => Promise<string>> = { ping: async () => 'pong' };
        export default { tasks, store: 'memory:', jobs: [{ id: 'ping', taskId: 'ping', trigger: { type: 'interval', minutes: 5 } }] };
      `,
    });
    try {
      const server = await serve(['--config', 'ops.config.ts', '--no-auth'], { cwd: dir, env: {} });
      assert.ok(server.io.stderr.some((l) => l.includes('job store memory:')));
      assert.ok(!existsSync(join(dir, 'data')));
      const list = await cli(['jobs', 'list', '--url', `${server.url}/scheduler`]);
      assert.equal(list.code, 0, list.err);
      assert.match(list.out, /^ping\s+ping\s+Every 5 minutes/m);
      assert.equal(await server.stop(), 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('bad configs, tokens and options exit 2; a port in use exits 1', async () => {
    const empty = tempDir({});
    const bad = tempDir({ 'tickwork.config.js': 'export default { tasks: { a: 1 } };' });
    const unknown = tempDir({ 'tickwork.config.js': 'export default { tasks: {}, task: {} };' });
    const badJob = tempDir({
      'tickwork.config.js':
        "export default { tasks: { a() {} }, jobs: [{ taskId: 'a', trigger: { type: 'interval', seconds: -1 } }] };",
    });
    const missingTask = tempDir({
      'tickwork.config.js':
        "export default { tasks: {}, jobs: [{ taskId: 'a', trigger: { type: 'interval', seconds: 1 } }] };",
    });
    const noId = tempDir({
      'tickwork.config.js':
        "export default { tasks: { a() {} }, jobs: [{ taskId: 'a', trigger: { type: 'interval', seconds: 1 } }] };",
    });
    const twice = tempDir({
      'tickwork.config.js':
        "export default { tasks: { a() {} }, jobs: [{ id: 'x', taskId: 'a', trigger: { type: 'interval', seconds: 5 } }, { id: 'x', taskId: 'a', trigger: { type: 'interval', seconds: 7 } }] };",
    });
    const ok = tempDir({ 'tickwork.config.js': CONFIG });
    const run = async (cwd: string, args: string[] = ['--store', 'memory:', '--token', ADMIN]) => {
      const io = capture();
      const code = await runCli(['serve', '--port', '0', ...args], io, { cwd, env: {} });
      return { code, err: io.stderr.join('\n') };
    };
    try {
      let r = await run(empty);
      assert.equal(r.code, 2);
      assert.match(r.err, /no config found/);
      assert.match(r.err, /tickwork\.config\.js \(or \.mjs, \.ts, \.mts\)/);
      r = await run(empty, ['--config', 'nope.js']);
      assert.equal(r.code, 2);
      assert.match(r.err, /config file not found/);
      r = await run(bad);
      assert.equal(r.code, 2);
      assert.match(r.err, /`tasks\.a` to be a function/);
      r = await run(unknown);
      assert.equal(r.code, 2);
      assert.match(r.err, /Unknown option `task`; did you mean `tasks`\?/);
      r = await run(badJob);
      assert.equal(r.code, 2);
      assert.match(r.err, /jobs\[0\]/);
      r = await run(missingTask);
      assert.equal(r.code, 2);
      assert.match(r.err, /task "a" is not in `tasks`/);
      // A job without an id would be added again, with a new random id, at every start.
      r = await run(noId);
      assert.equal(r.code, 2);
      assert.match(r.err, /jobs\[0\]\.id: a config job needs an id/);
      r = await run(twice);
      assert.equal(r.code, 2);
      assert.match(r.err, /jobs\[1\]\.id: "x" is the id of jobs\[0\] already/);
      r = await run(ok, ['--store', 'memory:', '--token', 'short']);
      assert.equal(r.code, 2);
      assert.match(r.err, /at least 16 characters/);
      r = await run(ok, ['--store', 'memory:', '--token', 'white space 0123456789abcdef']);
      assert.equal(r.code, 2);
      assert.match(r.err, /--token \/ TICKWORK_TOKEN must not contain whitespace/);
      // One token for both roles: the two variables are named.
      const same = capture();
      const sameCode = await runCli(['serve', '--port', '0', '--store', 'memory:'], same, {
        cwd: ok,
        env: { TICKWORK_TOKEN: ADMIN, TICKWORK_READ_TOKEN: ADMIN },
      });
      assert.equal(sameCode, 2);
      assert.match(same.stderr.join('\n'), /TICKWORK_READ_TOKEN is the same as TICKWORK_TOKEN/);
      r = await run(ok, ['--store', 'mysql://x', '--token', ADMIN]);
      assert.equal(r.code, 2);
      r = await run(ok, ['--store', 'memory:?maxRuns=5', '--token', ADMIN]);
      assert.equal(r.code, 2);
      assert.match(r.err, /Unknown option `maxRuns`.*\(a query parameter of the store URL\)/);

      r = await run(ok, ['--store', 'postgres://postgres@[zz/test', '--token', ADMIN]);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, /valid URL/);
      // A store that cannot be reached is a server error, not bad input.
      r = await run(ok, ['--store', 'postgres://postgres@127.0.0.1:1/test', '--token', ADMIN]);
      assert.equal(r.code, 1, r.err);
      assert.match(r.err, /ECONNREFUSED/);
      assert.equal((await run(ok, ['--port', 'abc'])).code, 2);
      assert.equal((await run(ok, ['--frobnicate'])).code, 2);

      const blocker = createServer();
      await new Promise<void>((res) => blocker.listen(0, '127.0.0.1', res));
      const { port } = blocker.address() as { port: number };
      try {
        const io = capture();
        const code = await runCli(
          ['serve', '--store', 'sqlite:./data/busy/serve.db', '--token', ADMIN, '--port', String(port)],
          io,
          {
            cwd: ok,
            env: {},
          },
        );
        assert.equal(code, 1);
        assert.match(io.stderr.join('\n'), /cannot listen/);
        // It listens before it starts the scheduler: the store was never opened, so no job was written to
        // it (a store other servers share keeps its jobs) and none ran.
        assert.ok(!existsSync(join(ok, 'data', 'busy', 'serve.db')));
        // A host that does not resolve: the same message, not a bare getaddrinfo error.
        const nowhere = capture();
        assert.equal(
          await runCli(['serve', '--store', 'memory:', '--token', ADMIN, '--host', '256.0.0.1'], nowhere, {
            cwd: ok,
            env: {},
          }),
          1,
        );
        assert.match(
          nowhere.stderr.join('\n'),
          /cannot listen on 256\.0\.0\.1:8000: .*(ENOTFOUND|EAI_AGAIN)/,
        );
      } finally {
        await new Promise<void>((res) => blocker.close(() => res()));
      }
    } finally {
      for (const d of [empty, bad, unknown, badJob, missingTask, noId, twice, ok])
        rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('tickwork serve: config errors', () => {
  test('every config error names the file and the field path; an unknown key near a known one is named', async () => {
    const job = (extra: string, trigger = "{ type: 'interval', seconds: 5 }") =>
      `export default { tasks: { hello() {} }, jobs: [{ id: 'x', taskId: 'hello', trigger: ${trigger}${extra} }] };`;
    const cases: [config: string, args: string[], expected: string][] = [
      [
        job('').replace('trigger:', 'triger:'),
        ['--store', 'memory:'],
        'Unknown option `jobs[0].triger`; did you mean `jobs[0].trigger`?',
      ],
      [
        job(', maxInstance: 2'),
        ['--store', 'memory:'],
        'Unknown option `jobs[0].maxInstance`; did you mean `jobs[0].maxInstances`?',
      ],
      [
        job(', maxInstances: 0'),
        ['--store', 'memory:'],
        'Expected `jobs[0].maxInstances` to be an integer >= 1, got `0`',
      ],
      [
        job(", retry: { attempts: 2, backof: 'fixed' }"),
        ['--store', 'memory:'],
        'Unknown option `jobs[0].retry.backof`; did you mean `jobs[0].retry.backoff`?',
      ],
      [
        job('', "{ type: 'interval', secnds: 5 }"),
        ['--store', 'memory:'],
        'Unknown option `jobs[0].trigger.secnds`; did you mean `jobs[0].trigger.seconds`?',
      ],
      [
        job('', "{ type: 'interval', seconds: 1e300 }"),
        ['--store', 'memory:'],
        'jobs[0].trigger.seconds: Expected the interval to be at most 8640000000000000 ms (the range of a Date), got 1e+303 ms',
      ],
      [
        job('').replace("taskId: 'hello'", "taskId: 'helo'"),
        ['--store', 'memory:'],
        'jobs[0].taskId: task "helo" is not in `tasks`; did you mean "hello"?',
      ],
      [
        "export default { tasks: { hello() {} }, timezone: 'Europe/Pariss' };",
        ['--store', 'memory:'],
        'Expected `timezone` to be an IANA time zone name such as "Europe/Berlin" or "UTC", got `"Europe/Pariss"`',
      ],
      [
        'export default { tasks: { hello() {} }, timezone: 5 };',
        ['--store', 'memory:'],
        'Expected `timezone` to be an IANA time zone name such as "Europe/Berlin" or "UTC", got `5`',
      ],
      [
        "export default { tasks: { hello() {} }, timezon: 'UTC' };",
        ['--store', 'memory:'],
        'Unknown option `timezon`; did you mean `timezone`? (expected tasks, jobs, store, timezone, removeUnlistedJobs)',
      ],
      [
        "export default { tasks: { hello() {} }, store: 'mysql://x' };",
        [],
        'Expected `store` to be "memory:", "sqlite:PATH", a "postgres://" or a "redis://" URL, got "mysql://x"',
      ],
      [
        "export default { tasks: { hello() {} }, store: 'memory:?maxRuns=5' };",
        [],
        'store: Unknown option `maxRuns`; expected one of `maxRunsPerJob`, `maxRunAge` (a query parameter of the store URL)',
      ],
    ];
    for (const [config, args, expected] of cases) {
      const dir = tempDir({ 'tickwork.config.js': config });
      try {
        const io = capture();
        const code = await runCli(['serve', '--port', '0', '--token', ADMIN, ...args], io, {
          cwd: dir,
          env: {},
        });
        assert.equal(code, 2, config);
        const file = join(dir, 'tickwork.config.js');
        assert.equal(io.stderr.join('\n'), `error: invalid config ${file}: ${expected}`, config);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  test('a bad store given by --store or TICKWORK_STORE is not blamed on the config', async () => {
    const dir = tempDir({ 'tickwork.config.js': "export default { tasks: {}, store: 'memory:' };" });
    try {
      for (const [args, env] of [
        [['--store', 'mysql://x'], {}],
        [[], { TICKWORK_STORE: 'mysql://x' }],
      ] as const) {
        const io = capture();
        const code = await runCli(['serve', '--port', '0', '--token', ADMIN, ...args], io, { cwd: dir, env });
        assert.equal(code, 2);
        assert.equal(
          io.stderr.join('\n'),
          'error: Expected `store` to be "memory:", "sqlite:PATH", a "postgres://" or a "redis://" URL, got "mysql://x"',
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('tickwork --help', () => {
  for (const args of [
    ['--help'],
    ['serve', '--help'],
    ['jobs', '--help'],
    ['jobs', 'list', '--help'],
    ['jobs', 'run', '--help'],
  ]) {
    test(args.join(' '), async () => {
      const io = capture();
      assert.equal(await runCli(args, io), 0);
      const text = io.stdout.join('\n');
      assert.match(text, /^Usage: tickwork/);
      if (args[0] === 'serve') assert.match(text, /--config <path>[\s\S]*TICKWORK_TOKEN/);
      if (args.length === 2 && args[0] === 'jobs') assert.match(text, /list[\s\S]*pause[\s\S]*Exit codes/);
    });
  }

  test('buildProgram lists the commands', () => {
    const names = buildProgram(capture()).commands.map((c) => c.name());
    assert.deepEqual(names.sort(), ['jobs', 'next', 'serve']);
  });
});

describe('tickwork: more exit codes and output', () => {
  test('an ES module config in a .js file of a CommonJS package: exit 2 with how to fix it (built CLI, plain node)', () => {
    // Under the test runner's TypeScript loader any .js file may use `export`; plain Node reads this one as
    // CommonJS (the package says so), as a user's `npx tickwork serve` does.
    const dir = tempDir({ 'tickwork.config.js': CONFIG });
    try {
      writeFileSync(join(dir, 'package.json'), '{ "type": "commonjs" }\n'); // as `npm init -y` writes it
      const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
      const r = spawnSync(process.execPath, [cli, 'serve', '--port', '0', '--store', 'memory:'], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 30_000,
        env: { ...process.env, TICKWORK_TOKEN: ADMIN },
      });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /Unexpected token 'export'.*name it tickwork\.config\.mjs/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('removeUnlistedJobs: true removes the stored jobs the config no longer lists, before they fire; without it they stay', async () => {
    const dir = tempDir({ 'tickwork.config.js': CONFIG });
    // The config after `nightly` was taken out of it: `hello` alone.
    const only = (extra: string) => `
      export default {
        tasks: { hello: async () => 'hi', report: async () => 'report' },
        jobs: [{ id: 'hello', taskId: 'hello', trigger: { type: 'interval', hours: 1 } }],
        ${extra}
      };`;
    const env = { TICKWORK_STORE: 'sqlite:./data/jobs.db' };
    const ids = async (server: Serving) => {
      const list = await cli(['jobs', 'list', '--json'], {
        TICKWORK_URL: `${server.url}/scheduler`,
        TICKWORK_TOKEN: ADMIN,
      });
      assert.equal(list.code, 0, list.err);
      return (JSON.parse(list.out) as { id: string }[]).map((j) => j.id).sort();
    };
    // (Each config in a file of its own: a module is imported once per process.)
    writeFileSync(join(dir, 'kept.config.js'), only(''));
    writeFileSync(join(dir, 'pruned.config.js'), only('removeUnlistedJobs: true,'));
    writeFileSync(join(dir, 'bad.config.js'), only("removeUnlistedJobs: 'yes',"));
    try {
      const first = await serve(['--token', ADMIN], { cwd: dir, env });
      assert.deepEqual(await ids(first), ['hello', 'nightly']);
      assert.equal(await first.stop(), 0);
      const kept = await serve(['--config', 'kept.config.js', '--token', ADMIN], { cwd: dir, env });
      assert.deepEqual(await ids(kept), ['hello', 'nightly']);
      assert.equal(await kept.stop(), 0);
      const pruned = await serve(['--config', 'pruned.config.js', '--token', ADMIN], { cwd: dir, env });
      assert.deepEqual(await ids(pruned), ['hello']);
      assert.ok(
        pruned.io.stdout.some(
          (l) => l.includes('Removed job \\"nightly\\"') && l.includes('removeUnlistedJobs'),
        ),
        pruned.io.stdout.join('\n'),
      );
      assert.equal(await pruned.stop(), 0);
      const io = capture();
      const args = ['serve', '--port', '0', '--token', ADMIN, '--config', 'bad.config.js'];
      assert.equal(await runCli(args, io, { cwd: dir, env }), 2);
      assert.match(io.stderr.join('\n'), /`removeUnlistedJobs` to be true or false, got "yes"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('serve creates the directory of any sqlite: path', async () => {
    const dir = tempDir({ 'tickwork.config.js': CONFIG });
    try {
      const server = await serve(['--store', 'sqlite:./deep/er/jobs.db', '--token', ADMIN], {
        cwd: dir,
        env: {},
      });
      assert.ok(existsSync(join(dir, 'deep', 'er', 'jobs.db')));
      assert.equal(await server.stop(), 0);
      // A relative path is percent-decoded once (`%20` a space; `%2525` is the file `%25.db`, not `%.db`).
      const spaced = await serve(['--store', 'sqlite:./my%20data/%2525.db', '--token', ADMIN], {
        cwd: dir,
        env: {},
      });
      assert.ok(existsSync(join(dir, 'my data', '%25.db')));
      assert.ok(!existsSync(join(dir, 'my%20data')));
      assert.equal(await spaced.stop(), 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('serve refuses a sqlite: URL with a fragment (exit 2), creating nothing', async () => {
    const dir = tempDir({ 'tickwork.config.js': CONFIG });
    try {
      const io = capture();
      const code = await runCli(
        ['serve', '--port', '0', '--token', ADMIN, '--store', 'sqlite:./frag/jobs.db#2'],
        io,
        {
          cwd: dir,
          env: {},
          // (Stopped at once should it start: the old reading served on a file named `jobs.db#2`.)
          signal: AbortSignal.abort(),
        },
      );
      assert.equal(code, 2);
      assert.equal(
        io.stderr.join('\n'),
        'error: Expected `store` to have no fragment (a `#` ends a URL’s path: write `%23` for a `#` in the file name), got "sqlite:./frag/jobs.db#2"',
      );
      assert.ok(!existsSync(join(dir, 'frag')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('jobs list against a URL that answers JSON but is not the API exits 2 with a hint', async () => {
    const other = createHttpServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end('[{"id":"tick"}]'); // like npm start's GET /jobs
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const { port } = other.address() as { port: number };
    try {
      const r = await cli(['jobs', 'list', '--url', `http://127.0.0.1:${port}/`, '--token', ADMIN]);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, /did not answer like the tickwork API: is --url the API's base/);
      assert.doesNotMatch(r.err, /not iterable/);
    } finally {
      await new Promise<void>((r) => other.close(() => r()));
    }
  });

  test('--version prints the package version', async () => {
    const io = capture();
    assert.equal(await runCli(['--version'], io), 0);
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    assert.deepEqual(io.stdout, [version]);
  });

  test(
    'a reader that closes the pipe early (| head -1) ends the command quietly',
    { timeout: 60_000 },
    async () => {
      const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
      const child = spawn(process.execPath, ['--import', 'tsx', main, 'next', '* * * * * *', '-n', '10000'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      // Read the first line, then close the pipe, as `head -1` does.
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      child.stdout.destroy();
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      assert.equal(code, 0, stderr);
      assert.equal(stderr, '');
    },
  );
});

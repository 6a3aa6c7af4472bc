/** The `tickwork` CLI: `next`, through buildProgram()/runCli() with captured output, and one real spawn. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildProgram, runCli, type CliIO } from '../../../src/cli/program.js';
import { nextLines } from '../../../src/cli/commands/next.js';

function capture(): CliIO & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

describe('tickwork next', () => {
  test('prints the next fire times as ISO 8601 with offsets', async () => {
    const io = capture();
    const code = await runCli(
      ['next', '0 9 * * mon-fri', '--tz', 'Europe/Berlin', '-n', '3', '--after', '2024-03-29T00:00:00Z'],
      io,
    );
    assert.equal(code, 0);
    // 2024-03-29 is a Friday; Berlin switches to summer time on Sunday 31 March.
    assert.deepEqual(io.stdout, [
      '2024-03-29T09:00:00+01:00',
      '2024-04-01T09:00:00+02:00',
      '2024-04-02T09:00:00+02:00',
    ]);
    assert.deepEqual(io.stderr, []);
  });

  test('--timezone is the same as --tz (the library calls it timezone); both at once is refused', async () => {
    const io = capture();
    const args = ['next', '0 9 * * *', '-n', '1', '--after', '2024-01-01T00:00:00Z'];
    assert.equal(await runCli([...args, '--timezone', 'Europe/Berlin'], io), 0);
    assert.deepEqual(io.stdout, ['2024-01-01T09:00:00+01:00']);
    const both = capture();
    assert.equal(await runCli([...args, '--tz', 'UTC', '--timezone', 'Europe/Berlin'], both), 2);
    assert.match(both.stderr.join('\n'), /--timezone <zone>' cannot be used with option '--tz <zone>'/);
  });

  test('DST gap in New York: the fixed-time job runs at 03:00 EDT', () => {
    assert.deepEqual(
      nextLines('0 30 2 * * *', {
        tz: 'America/New_York',
        count: 2,
        after: new Date('2021-03-14T06:00:00Z'),
      }),
      ['2021-03-14T03:00:00-04:00', '2021-03-15T02:30:00-04:00'],
    );
  });

  test('an invalid expression: helpful message with a caret, exit code 2', async () => {
    const io = capture();
    const code = await runCli(['next', '0 9 * * mon-fryday'], io);
    assert.equal(code, 2);
    assert.deepEqual(io.stdout, []);
    assert.match(io.stderr[0]!, /day-of-week field: unknown name/);
    assert.equal(io.stderr[1], '  0 9 * * mon-fryday');
    assert.equal(io.stderr[2], '              ^');
  });

  test('an invalid zone or count: exit code 2', async () => {
    const a = capture();
    assert.equal(await runCli(['next', '* * * * *', '--tz', 'Nowhere/City'], a), 2);
    assert.match(a.stderr.join('\n'), /IANA time zone/);
    const b = capture();
    assert.equal(await runCli(['next', '* * * * *', '-n', '0'], b), 2);
    assert.match(b.stderr.join('\n'), /expected an integer from 1 to 10000/);
  });

  test('--after needs an offset and a real date (the host zone never matters); no year beyond 9999 is printed', async () => {
    for (const after of [
      '2024-01-01T09:30:00',
      '2024-02-30T00:00:00Z',
      'yesterday',
      '10000-01-01T00:00:00Z',
    ]) {
      const io = capture();
      assert.equal(await runCli(['next', '0 * * * *', '--after', after], io), 2, after);
      assert.match(io.stderr.join('\n'), /with an offset/, after);
    }
    const io = capture();
    assert.equal(await runCli(['next', '0 0 L * *', '-n', '3', '--after', '9999-11-15T00:00:00Z'], io), 0);
    assert.deepEqual(io.stdout, [
      '9999-11-30T00:00:00+00:00',
      '9999-12-31T00:00:00+00:00',
      '# no further fire times up to 9999-12-31',
    ]);
  });

  test('a schedule that never fires says so', async () => {
    const io = capture();
    assert.equal(await runCli(['next', '0 0 30 2 *'], io), 0);
    assert.deepEqual(io.stdout, ['# this schedule never fires']);
  });

  test('--help lists the commands', async () => {
    const io = capture();
    assert.equal(await runCli(['--help'], io), 0);
    assert.match(io.stdout.join('\n'), /next \[options\] <expression>/);
    const sub = capture();
    assert.equal(await runCli(['next', '--help'], sub), 0);
    assert.match(sub.stdout.join('\n'), /--tz <zone>/);
    assert.ok(buildProgram(capture()).commands.some((c) => c.name() === 'next'));
  });

  test('spawned: node --import tsx src/cli/main.ts next ...', () => {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'next',
        '@monthly',
        '--tz',
        'Asia/Kolkata',
        '-n',
        '2',
        '--after',
        '2024-01-31T00:00:00Z',
      ],
      { cwd: root, encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '2024-02-01T00:00:00+05:30\n2024-03-01T00:00:00+05:30\n');
    const bad = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'next', '* * *'], {
      cwd: root,
      encoding: 'utf8',
    });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /expected 5, 6 or 7 fields, got 3/);
  });
});

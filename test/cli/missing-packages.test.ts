// `tickwork serve` names every package it lacks at once (Fastify and the store's driver), not one per attempt.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { missingPackages, missingPackagesError } from '../../src/cli/commands/serve.js';
import { runCli } from '../../src/cli/program.js';

test('missingPackages: Fastify and the driver of the store URL, each with how to install it', () => {
  const none = () => false;
  assert.deepEqual(missingPackages('sqlite:./data/x.db', none), [
    { pkg: 'fastify', install: 'fastify' },
    { pkg: 'better-sqlite3', install: 'better-sqlite3@12' },
  ]);
  assert.deepEqual(
    missingPackages('./jobs.sqlite?busyTimeout=5', none).map((m) => m.pkg),
    ['fastify', 'better-sqlite3'],
  );
  assert.deepEqual(
    missingPackages('postgres://db/app', none).map((m) => m.install),
    ['fastify', 'pg'],
  );
  assert.deepEqual(
    missingPackages('rediss://cache:6380', none).map((m) => m.install),
    ['fastify', 'ioredis@6'],
  );
  assert.deepEqual(
    missingPackages('memory:', none).map((m) => m.pkg),
    ['fastify'],
  );
  // Only what is missing.
  assert.deepEqual(
    missingPackages('sqlite:x.db', (p) => p === 'fastify'),
    [{ pkg: 'better-sqlite3', install: 'better-sqlite3@12' }],
  );
  // Here everything is installed.
  for (const url of ['sqlite:x.db', 'postgres://db/app', 'redis://cache', 'memory:'])
    assert.deepEqual(missingPackages(url), [], url);
});

test('the error names every missing package and one install command (exit 1)', () => {
  const both = missingPackagesError(missingPackages('sqlite:x.db', () => false));
  assert.equal(
    both.message,
    'this needs the fastify and better-sqlite3 packages, which are not installed: npm install fastify better-sqlite3@12',
  );
  assert.equal(both.exitCode, 1);
  assert.equal(
    missingPackagesError([{ pkg: 'pg', install: 'pg' }]).message,
    'this needs the pg package, which is not installed: npm install pg',
  );
});

test('serve --help lists every key of the config', async () => {
  const out: string[] = [];
  const code = await runCli(['serve', '--help'], { out: (l) => out.push(l), err: () => {} }, { env: {} });
  assert.equal(code, 0);
  // (commander wraps the help at 80 columns)
  assert.match(
    out.join('\n').replace(/\s+/g, ' '),
    /\{ tasks, jobs\?, store\?, timezone\?, removeUnlistedJobs\? \}/,
  );
});

#!/usr/bin/env node
/**
 * `npm start`: runs the demo server on HOST:PORT (default 127.0.0.1:8000) until SIGINT or SIGTERM, with the
 * HTTP API and the dashboard at `/scheduler/`. The admin token is `TICKWORK_TOKEN`, or a random one made at
 * start and printed with the dashboard's URL; `TICKWORK_READ_TOKEN` adds a read-only token.
 *
 * It listens before it starts the scheduler, so a server that cannot listen never fires a job or replaces
 * the jobs of a shared store. A bad `PORT`, `TICKWORK_LEASE_MS`, `TICKWORK_STORE` or token prints one line
 * and exits 2; a port in use exits 1.
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { isTickworkError } from '../core/errors.js';
import { tokenProblem, type ApiToken } from '../http/auth.js';
import type { Store } from '../stores/store.js';
import { buildServer } from './app.js';
import { openStore, redactUrl, sqliteUrlParts } from '../stores/url.js';
import { ensureDirectory } from '../stores/common.js';
import { logSerializers } from '../core/logger.js';

/** Levels `LOG_LEVEL` may name (pino's). */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Shortest and longest `TICKWORK_LEASE_MS`: 1 s to 1 day. */
const LEASE_RANGE = [1000, 86_400_000] as const;

/** A URL with its password hidden. */
const redact = redactUrl;

/** Prints one line (no stack trace) and exits: 2 for a bad setting, 1 for anything else. */
function fail(message: string, code = 2): never {
  console.error(`tickwork: ${redact(message)}`);
  process.exit(code);
}

const host = process.env.HOST || '127.0.0.1';
const level = process.env.LOG_LEVEL || 'info';
if (!LOG_LEVELS.includes(level)) {
  fail(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`);
}
const portText = process.env.PORT || '8000';
if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65_535) {
  fail(`PORT must be a port number from 0 to 65535, got ${JSON.stringify(portText)}`);
}
const port = Number(portText);
// TICKWORK_LEASE_MS: how long a run stays leased to a process that stopped renewing it (killed, stalled).
const leaseText = process.env.TICKWORK_LEASE_MS || undefined;
if (
  leaseText !== undefined &&
  (!/^[0-9]{1,9}$/.test(leaseText) ||
    Number(leaseText) < LEASE_RANGE[0] ||
    Number(leaseText) > LEASE_RANGE[1])
) {
  fail(
    `TICKWORK_LEASE_MS must be an integer number of milliseconds from ${LEASE_RANGE[0]} to ${LEASE_RANGE[1]}, ` +
      `got ${JSON.stringify(leaseText)}`,
  );
}
const leaseDuration = leaseText === undefined ? undefined : Number(leaseText);
// Jobs and their run history live in SQLite by default, so a restart keeps them.
const storeUrl = process.env.TICKWORK_STORE || 'sqlite:./data/tickwork.db';
const envToken = process.env.TICKWORK_TOKEN || undefined;
const readToken = process.env.TICKWORK_READ_TOKEN || undefined;
for (const [name, value] of [
  ['TICKWORK_TOKEN', envToken],
  ['TICKWORK_READ_TOKEN', readToken],
] as const) {
  const problem = value === undefined ? null : tokenProblem(value);
  if (problem) fail(`${name} ${problem}`);
}
if (readToken !== undefined && readToken === envToken) {
  fail(
    'TICKWORK_READ_TOKEN is the same as TICKWORK_TOKEN: a token has one role; give the read-only token its own value',
  );
}

const token = envToken ?? randomBytes(24).toString('base64url');
const tokens: ApiToken[] = [{ token, role: 'admin' }];
if (readToken !== undefined) tokens.push({ token: readToken, role: 'read' });

let store: Store;
let app: FastifyInstance;
try {
  store = await openStore(storeUrl);
} catch (err) {
  fail(`TICKWORK_STORE ${storeUrl}: ${(err as Error).message}`, isTickworkError(err) ? 2 : 1);
}
// A SQLite file's directory is created (better-sqlite3 creates the file, not its directory), once the URL's
// options were accepted (a refused one creates nothing); the path ends at the first `?` and is percent-decoded.
// (The URL was accepted above, so reading it again does not throw.)
const sqlitePath = /^sqlite:/i.test(storeUrl.trim()) ? sqliteUrlParts(storeUrl)?.path : undefined;
if (sqlitePath !== undefined && sqlitePath !== ':memory:') {
  try {
    ensureDirectory(dirname(sqlitePath));
  } catch (err) {
    fail(`TICKWORK_STORE ${storeUrl}: cannot create its directory: ${(err as Error).message}`);
  }
}
try {
  app = await buildServer({
    logger: { level, serializers: logSerializers },
    store,
    api: { auth: { tokens } },
    autoStart: false, // started below, once the server listens
    ...(leaseDuration !== undefined ? { leaseDuration } : {}),
  });
} catch (err) {
  fail(`cannot set up the server: ${(err as Error).message}`, isTickworkError(err) ? 2 : 1);
}
app.log.info(`Job store: ${redact(storeUrl)}`);
let closing = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (closing) return;
    closing = true;
    app.log.info(`${signal} received; waiting for running jobs, then closing`);
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, 'Error while closing');
        process.exit(1);
      },
    );
  });
}
try {
  await app.listen({ host, port });
} catch (err) {
  await app.close().catch(() => {});
  fail(`cannot listen on ${host}:${port}: ${(err as Error).message}`, 1);
}
try {
  await app.scheduler.start();
} catch (err) {
  await app.close().catch(() => {});
  // A store that fails (unreachable, refused) exits 1, as any server error; a bad setting exits 2.
  fail(
    `cannot start the scheduler on ${storeUrl}: ${(err as Error).message}`,
    isTickworkError(err) && err.code !== 'STORE_ERROR' ? 2 : 1,
  );
}
const address = app.server.address() as AddressInfo;
const shown = ['0.0.0.0', '::'].includes(host) ? 'localhost' : host.includes(':') ? `[${host}]` : host;
console.log(
  `Dashboard: http://${shown}:${address.port}/scheduler/  token: ${envToken ? '(TICKWORK_TOKEN)' : token}`,
);

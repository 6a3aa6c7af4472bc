#!/usr/bin/env node
/**
 * `npm start`: runs the demo server on HOST:PORT (default 127.0.0.1:8000) until SIGINT or SIGTERM, with the
 * HTTP API and the dashboard at `/scheduler/`. The admin token is `TICKWORK_TOKEN`, or a random one made at
 * start and printed with the dashboard's URL; `TICKWORK_READ_TOKEN` adds a read-only token.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { ApiToken } from '../http/auth.js';
import { buildServer } from './app.js';
import { openStore } from '../stores/url.js';

const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 8000);
// Jobs and their run history live in SQLite by default, so a restart keeps them.
const storeUrl = process.env.TICKWORK_STORE ?? 'sqlite:./data/tickwork.db';
if (storeUrl === 'sqlite:./data/tickwork.db') mkdirSync('data', { recursive: true });

const envToken = process.env.TICKWORK_TOKEN || undefined;
const readToken = process.env.TICKWORK_READ_TOKEN || undefined;
for (const [name, value] of [
  ['TICKWORK_TOKEN', envToken],
  ['TICKWORK_READ_TOKEN', readToken],
] as const) {
  if (value !== undefined && value.length < 16) {
    console.error(`${name} must be at least 16 characters long (try: openssl rand -hex 32)`);
    process.exit(1);
  }
}
const token = envToken ?? randomBytes(24).toString('base64url');
const tokens: ApiToken[] = [{ token, role: 'admin' }];
if (readToken !== undefined) tokens.push({ token: readToken, role: 'read' });

const store = await openStore(storeUrl);
// TICKWORK_LEASE_MS: how long a run stays leased to a process that stopped renewing it (killed, stalled).
const leaseDuration = process.env.TICKWORK_LEASE_MS ? Number(process.env.TICKWORK_LEASE_MS) : undefined;
const app = await buildServer({
  store,
  api: { auth: { tokens } },
  ...(leaseDuration ? { leaseDuration } : {}),
});
app.log.info(`Job store: ${storeUrl.replace(/\/\/[^@/]*@/, '//***@')}`);
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
  const address = app.server.address() as AddressInfo;
  const shown = ['0.0.0.0', '::'].includes(host) ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  console.log(
    `Dashboard: http://${shown}:${address.port}/scheduler/  token: ${envToken ? '(TICKWORK_TOKEN)' : token}`,
  );
} catch (err) {
  app.log.error({ err }, 'Could not start the server');
  process.exit(1);
}

#!/usr/bin/env node
/**
 * `npm start`: runs the demo server on HOST:PORT (default 127.0.0.1:8000) until SIGINT or SIGTERM.
 * @module
 */
import { mkdirSync } from 'node:fs';
import { buildServer } from './app.js';
import { openStore } from '../stores/url.js';

const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 8000);
// Jobs and their run history live in SQLite by default, so a restart keeps them.
const storeUrl = process.env.TICKWORK_STORE ?? 'sqlite:./data/tickwork.db';
if (storeUrl === 'sqlite:./data/tickwork.db') mkdirSync('data', { recursive: true });

const store = await openStore(storeUrl);
const app = await buildServer({ store });
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
} catch (err) {
  app.log.error({ err }, 'Could not start the server');
  process.exit(1);
}

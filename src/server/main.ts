#!/usr/bin/env node
/**
 * `npm start`: runs the demo server on HOST:PORT (default 127.0.0.1:8000) until SIGINT or SIGTERM.
 * @module
 */
import { buildServer } from './app.js';

const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 8000);

const app = await buildServer();
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

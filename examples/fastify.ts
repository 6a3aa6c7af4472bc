/**
 * Fastify with a tick job every second (`maxInstances: 2`) and the HTTP API under /scheduler.
 * Run: `node --import tsx examples/fastify.ts`. Ctrl-C waits for running jobs, then exits.
 */
import Fastify from 'fastify';
import { tickwork } from '../src/plugins/fastify.js';
import { exampleTokens, tick } from './tokens.js';

const app = Fastify({ logger: true });
await app.register(tickwork, {
  api: { auth: { tokens: exampleTokens() } },
  autoStart: false, // started below, once the server listens
  async setup(scheduler) {
    scheduler.defineTask('tick', tick);
    // Awaited: a bad job fails the registration here instead of becoming an unhandled rejection.
    await scheduler.addJob('tick', 'interval', {
      id: 'tick',
      seconds: 1,
      maxInstances: 2,
      replaceExisting: true,
    });
  },
});
app.get('/', async () => ({ name: 'tickwork fastify example', api: '/scheduler' }));

let closing = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (closing) return;
    closing = true;
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
// A port in use throws here, before any job has run.
await app.listen({ port: Number(process.env.PORT ?? 8000), host: process.env.HOST ?? '127.0.0.1' });
await app.scheduler.start(); // it stops (waiting for running jobs) when the server closes

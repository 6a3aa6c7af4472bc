/**
 * Hono (on @hono/node-server) with a tick job every second (`maxInstances: 2`) and the HTTP API under
 * /scheduler. Run: `node --import tsx examples/hono.ts`. Ctrl-C waits for running jobs, then exits.
 */
import { serve } from '@hono/node-server';
import type { Server } from 'node:http';
import { Hono } from 'hono';
import { Scheduler } from '../src/index.js';
import { bindLifecycle, tickworkApp } from '../src/plugins/hono.js';
import { exampleTokens, tick } from './tokens.js';

const scheduler = new Scheduler();
scheduler.defineTask('tick', tick);
await scheduler.addJob('tick', 'interval', { id: 'tick', seconds: 1, maxInstances: 2 });

const app = new Hono();
const api = tickworkApp(scheduler, { auth: { tokens: exampleTokens() } });
app.route('/scheduler', api);
app.get('/', (c) => c.json({ name: 'tickwork hono example', api: '/scheduler' }));

const port = Number(process.env.PORT ?? 8000);
const server = serve({ fetch: app.fetch, port, hostname: process.env.HOST ?? '127.0.0.1' }, () => {
  console.log(`Listening on http://127.0.0.1:${port}; API at /scheduler`);
}) as Server;
bindLifecycle(scheduler, server, { api: api.api });

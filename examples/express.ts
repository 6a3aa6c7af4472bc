/**
 * Express with a tick job every second (`maxInstances: 2`) and the HTTP API under /scheduler.
 * Run: `node --import tsx examples/express.ts`, then `curl -H "Authorization: Bearer $TICKWORK_TOKEN"
 * http://127.0.0.1:8000/scheduler/jobs`. Ctrl-C waits for running jobs, then exits.
 */
import express from 'express';
import { Scheduler } from '../src/index.js';
import { bindLifecycle, tickworkRouter } from '../src/plugins/express.js';
import { exampleTokens, tick } from './tokens.js';

const scheduler = new Scheduler();
scheduler.defineTask('tick', tick);
await scheduler.addJob('tick', 'interval', { id: 'tick', seconds: 1, maxInstances: 2 });

const app = express();
const router = tickworkRouter(scheduler, { auth: { tokens: exampleTokens() } });
app.use(router);
app.get('/', (_req, res) => void res.json({ name: 'tickwork express example', api: '/scheduler' }));

const port = Number(process.env.PORT ?? 8000);
const server = app.listen(port, process.env.HOST ?? '127.0.0.1', () => {
  console.log(`Listening on http://127.0.0.1:${port}; API at /scheduler`);
});
bindLifecycle(scheduler, server, { api: router.api });

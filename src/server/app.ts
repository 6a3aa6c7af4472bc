/**
 * The demo server: Fastify with a `tick` job every second (`maxInstances: 2`) whose body takes 3 s, so
 * its log shows two runs, then two skipped fire times, repeating, as APScheduler's does. With the `api`
 * option, the HTTP API and the dashboard are served under `/scheduler`.
 * @module
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { tickwork, tickworkFrameworkErrors } from '../plugins/fastify.js';
import type { Scheduler } from '../core/scheduler.js';
import type { Clock } from '../core/clock.js';
import type { Store } from '../stores/store.js';
import type { ApiOptions } from '../http/api.js';
import { TokenAuth } from '../http/auth.js';
import { logSerializers } from '../core/logger.js';

/** Options of {@link buildServer}. */
export interface ServerOptions {
  /** Fastify's logger option. @defaultValue pino at level info, with tickwork's {@link logSerializers} */
  logger?: FastifyServerOptions['logger'];
  /** How long a tick takes, in ms. @defaultValue 3000 */
  tickDuration?: number;
  /** Clock for the scheduler (tests). */
  clock?: Clock;
  /** Where ticks print. @defaultValue console.log */
  print?: (line: string) => void;
  /** The job store. @defaultValue a new `MemoryStore` */
  store?: Store;
  /** Lease of a running run, in ms (how soon a run of a killed process is taken back). @defaultValue 30,000 */
  leaseDuration?: number;
  /**
   * Start the scheduler when the server is ready (the plugin's `autoStart`); `false`: call
   * `app.scheduler.start()` yourself, after `listen`. @defaultValue true
   */
  autoStart?: boolean;
  /**
   * The HTTP API and the dashboard under `/scheduler` (the plugin's `api` option; `auth` is required). Its
   * tokens protect `GET /jobs` too (a `read` or `admin` token); without tokens, `GET /jobs` is open.
   * @defaultValue false (not mounted)
   */
  api?: ApiOptions | false;
}

/** Builds the demo server (not listening yet). */
export async function buildServer(options: ServerOptions = {}): Promise<FastifyInstance> {
  // frameworkErrors: a path Fastify cannot decode (`%FF`) gets the API's error shape.
  const app = Fastify({
    logger: options.logger ?? { serializers: logSerializers },
    frameworkErrors: tickworkFrameworkErrors,
  });
  const tickDuration = options.tickDuration ?? 3000;
  const print = options.print ?? ((line: string) => console.log(line));
  await app.register(tickwork, {
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.store ? { store: options.store } : {}),
    ...(options.leaseDuration ? { leaseDuration: options.leaseDuration } : {}),
    ...(options.autoStart === false ? { autoStart: false } : {}),
    ...(options.api ? { api: options.api } : {}),
    setup(scheduler: Scheduler) {
      const clock = scheduler.clock;
      async function tick(context: { signal: AbortSignal }): Promise<void> {
        print(`Tick! The async time is ${new Date(clock.now()).toISOString()}`);
        await clock.sleep(tickDuration, context.signal);
      }
      // `replaceExisting`: with a persistent store the job is there from the last start; an unchanged
      // trigger keeps its next run time, so the misfire rules apply to the fire times missed meanwhile.
      void scheduler.addJob(tick, 'interval', {
        id: 'tick',
        seconds: 1,
        maxInstances: 2,
        replaceExisting: true,
      });
    },
  });
  // GET /jobs lists every job (those created through the API too): it needs the API's token when there is
  // one. GET / holds no job data and stays open.
  const auth = options.api && options.api.auth ? new TokenAuth(options.api.auth) : null;
  app.get('/', async () => ({
    name: 'tickwork demo server',
    scheduler: app.scheduler.state,
    jobs: '/jobs',
  }));
  app.get('/jobs', async (request, reply) => {
    if (auth && !auth.authenticate(request.headers.authorization ?? null)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="tickwork"')
        .send({ code: 'UNAUTHORIZED', message: 'A valid bearer token is required', details: {} });
    }
    const jobs = await app.scheduler.getJobs();
    return jobs.map((job) => ({
      id: job.id,
      name: job.name,
      trigger: String(job.trigger),
      description: job.trigger.describe(),
      maxInstances: job.maxInstances,
      paused: job.paused,
      nextRunTime: job.nextRunTime?.toISOString() ?? null,
    }));
  });
  return app;
}

/**
 * Fastify plugin: `tickwork/fastify`. Starts the scheduler when the server is ready and shuts it down
 * (waiting for running jobs, bounded) when the server closes; decorates `fastify.scheduler`; with the `api`
 * option, mounts the HTTP API (`tickwork/http`) under a prefix.
 * @module
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Scheduler, type SchedulerOptions, type ShutdownOptions } from '../core/scheduler.js';
import type { Logger } from '../core/logger.js';
import { createApi, type ApiOptions, type TickworkApi } from '../http/api.js';
import { clientGone, isStream, toNodeReadable, toWebRequest } from '../http/node.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The tickwork scheduler registered by `tickwork/fastify`. */
    scheduler: Scheduler;
  }
}

/** Options of the Fastify plugin. */
export interface TickworkFastifyOptions extends SchedulerOptions {
  /** Use this scheduler instead of creating one (the other scheduler options are then ignored). */
  scheduler?: Scheduler;
  /** Called once the scheduler exists and before it starts: define tasks and add jobs here. */
  setup?: (scheduler: Scheduler, fastify: FastifyInstance) => void | Promise<void>;
  /** Start the scheduler paused. @defaultValue false */
  startPaused?: boolean;
  /**
   * How to shut down on `close`: wait for running jobs, at most `timeout` ms.
   * @defaultValue `{ wait: true, timeout: 30_000 }`
   */
  shutdown?: ShutdownOptions;
  /**
   * Mount the HTTP API under `api.prefix` (default `/scheduler`); `auth` is required (tokens, or `false`).
   * The API is also reachable as `fastify.schedulerApi`. @defaultValue false (not mounted)
   */
  api?: ApiOptions | false;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The HTTP API mounted by `tickwork/fastify`'s `api` option, or `null`. */
    schedulerApi: TickworkApi | null;
  }
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** Registers the API's routes in an encapsulated context whose body stays unread for the API. */
async function mountApi(fastify: FastifyInstance, api: TickworkApi): Promise<void> {
  await fastify.register(async (child) => {
    // The API reads (and size-limits) the body itself: leave the stream unread.
    child.removeAllContentTypeParsers();
    child.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
      const response = await api.handle(
        toWebRequest(request.raw, { url: request.raw.url ?? request.url, signal: clientGone(reply.raw) }),
      );
      reply.code(response.status);
      response.headers.forEach((value, key) => void reply.header(key, value));
      if (!response.body) return reply.send();
      if (isStream(response)) return reply.send(toNodeReadable(response.body));
      return reply.send(Buffer.from(await response.arrayBuffer()));
    };
    const base = api.prefix;
    for (const url of [base || '/', `${base}/*`]) {
      child.route({ method: [...METHODS], url, handler, exposeHeadRoute: false });
    }
  });
}

const plugin: FastifyPluginAsync<TickworkFastifyOptions> = async (fastify, options) => {
  const { scheduler: given, setup, startPaused, shutdown, api: apiOptions, ...schedulerOptions } = options;
  const scheduler =
    given ??
    new Scheduler({
      ...schedulerOptions,
      logger: schedulerOptions.logger ?? (fastify.log.child({ name: 'tickwork' }) as unknown as Logger),
    });
  fastify.decorate('scheduler', scheduler);
  const api = apiOptions ? createApi(scheduler, apiOptions) : null;
  fastify.decorate('schedulerApi', api);
  if (api) {
    await mountApi(fastify, api);
    // End event streams before the server waits for its connections to close.
    fastify.addHook('preClose', async () => api.close());
  }
  if (setup) await setup(scheduler, fastify);
  fastify.addHook('onReady', async () => {
    await scheduler.start({ paused: startPaused ?? false });
  });
  fastify.addHook('onClose', async () => {
    api?.close();
    await scheduler.shutdown({ wait: true, timeout: 30_000, ...shutdown });
  });
};

/**
 * Registers a scheduler with a Fastify server.
 *
 * @example
 * ```ts
 * await app.register(tickwork, {
 *   setup(scheduler) {
 *     scheduler.addJob(tick, 'interval', { seconds: 1, maxInstances: 2 });
 *   },
 * });
 * ```
 */
export const tickwork = fp(plugin, { fastify: '>=4', name: 'tickwork' });
export default tickwork;

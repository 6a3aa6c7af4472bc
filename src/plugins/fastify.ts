/**
 * Fastify plugin: `tickwork/fastify`. Starts the scheduler when the server is ready and shuts it down
 * (waiting for running jobs, bounded) when the server closes; decorates `fastify.scheduler`; with the `api`
 * option, mounts the HTTP API (`tickwork/http`) under a prefix.
 * @module
 */
import type {
  FastifyError,
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
} from 'fastify';
import fp from 'fastify-plugin';
import { TickworkError, invalidOption } from '../core/errors.js';
import {
  SCHEDULER_KEYS,
  Scheduler,
  checkScheduler,
  type SchedulerOptions,
  type ShutdownOptions,
} from '../core/scheduler.js';
import { boolean, duration, optionsObject, rejectUnknownKeys } from '../core/validate.js';
import type { Logger } from '../core/logger.js';
import { createApi, type ApiOptions, type TickworkApi } from '../http/api.js';
import { clientGone, isStream, toNodeReadable, toWebRequest } from '../http/node.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The tickwork scheduler registered by `tickwork/fastify`. */
    scheduler: Scheduler;
  }
}

/**
 * Options of the Fastify plugin: its own, and the {@link SchedulerOptions} of the scheduler it creates.
 * Fastify's register options (`prefix`, `logLevel`, `logSerializers`) are accepted too: `logLevel` sets the
 * level of the scheduler's logger when the plugin makes it from `fastify.log`; `prefix` does not apply (the
 * plugin is not encapsulated; the API mounts at `api.prefix`, below the route prefix of the context the
 * plugin is registered in: `/admin/scheduler` inside `app.register(ctx, { prefix: '/admin' })`).
 *
 * @throws TickworkError (when registered) `UNKNOWN_OPTION` for any other key, naming the plugin's and the
 *   scheduler's options; `INVALID_OPTION` for a scheduler option given with `scheduler`.
 */
export interface TickworkFastifyOptions extends SchedulerOptions {
  /**
   * Use this scheduler instead of creating one. The scheduler options (`store`, `timezone`, ...) then belong
   * in its constructor: given here too, they are refused (`INVALID_OPTION`), never silently dropped.
   */
  scheduler?: Scheduler;
  /** Called once the scheduler exists and before it starts: define tasks and add jobs here. */
  setup?: (scheduler: Scheduler, fastify: FastifyInstance) => void | Promise<void>;
  /** Start the scheduler paused. @defaultValue false */
  startPaused?: boolean;
  /**
   * Start the scheduler when the server is ready. `false`: start it yourself (`await app.scheduler.start()`),
   * e.g. after `app.listen()` succeeded, so that a server that cannot listen never fires a job or writes
   * its jobs to a shared store. It is shut down on `close` either way. @defaultValue true
   */
  autoStart?: boolean;
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

/** Sends a Web `Response` through Fastify's reply (an event stream is streamed, never buffered). */
async function sendResponse(reply: FastifyReply, response: Response): Promise<FastifyReply> {
  reply.code(response.status);
  response.headers.forEach((value, key) => void reply.header(key, value));
  if (!response.body) return reply.send();
  if (isStream(response)) return reply.send(toNodeReadable(response.body));
  return reply.send(Buffer.from(await response.arrayBuffer()));
}

/** Registers the API's routes in an encapsulated context whose body stays unread for the API. */
async function mountApi(fastify: FastifyInstance, api: TickworkApi): Promise<void> {
  await fastify.register(async (child) => {
    // The API reads (and size-limits) the body itself: leave the stream unread.
    child.removeAllContentTypeParsers();
    child.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    const base = api.prefix;
    // Registered in a context with a route prefix (`app.register(ctx, { prefix: '/admin' })`), the routes
    // below answer under `/admin/scheduler`: the API is told so, since it sees the whole path.
    const mounted = child.prefix + base;
    const handleOptions = mounted === base ? {} : { prefix: mounted };
    const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
      const response = await api.handle(
        toWebRequest(request.raw, { url: request.raw.url ?? request.url, signal: clientGone(reply.raw) }),
        handleOptions,
      );
      return sendResponse(reply, response);
    };
    for (const url of [base || '/', `${base}/*`]) {
      child.route({ method: [...METHODS], url, handler, exposeHeadRoute: false });
    }
  });
}

/** The plugin's own option names. */
const PLUGIN_KEYS = ['scheduler', 'setup', 'startPaused', 'autoStart', 'shutdown', 'api'];

/** pino's levels (`pino.levels.values`), which Fastify's logger has unless it was given custom ones. */
const PINO_LEVELS: Record<string, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
};

/** Fastify's register options, which Fastify passes to the plugin with its own. */
interface RegisterOptions {
  prefix?: string;
  logLevel?: string;
  logSerializers?: unknown;
}

const plugin: FastifyPluginAsync<TickworkFastifyOptions> = async (fastify, options) => {
  const {
    scheduler: given,
    setup,
    startPaused,
    autoStart,
    shutdown,
    api: apiOptions,
    prefix: _prefix,
    logLevel,
    logSerializers: _logSerializers,
    ...schedulerOptions
  } = options as TickworkFastifyOptions & RegisterOptions;
  rejectUnknownKeys(schedulerOptions, [...PLUGIN_KEYS, ...SCHEDULER_KEYS]);
  // The plugin's own options are checked here, at registration: a bad `shutdown` found only by the close
  // hook would leave the scheduler running after `app.close()`.
  if (setup !== undefined && typeof setup !== 'function') throw invalidOption('setup', 'a function', setup);
  if (startPaused !== undefined) boolean(startPaused, 'startPaused');
  if (autoStart !== undefined) boolean(autoStart, 'autoStart');
  if (shutdown !== undefined) {
    const o = optionsObject(shutdown, 'shutdown');
    rejectUnknownKeys(o, ['wait', 'timeout'], 'shutdown.');
    if (o.wait !== undefined) boolean(o.wait, 'shutdown.wait');
    if (o.timeout !== undefined) duration(o.timeout, 'shutdown.timeout');
  }
  if (apiOptions !== undefined && apiOptions !== false) optionsObject(apiOptions, 'api');
  if (logLevel !== undefined) {
    // The logger's levels (with its custom ones); pino's when Fastify has no logger (`logger: false`), so
    // that a bad `logLevel` is refused whether or not logging is on.
    const levels =
      (fastify.log as { levels?: { values?: Record<string, number> } }).levels?.values ?? PINO_LEVELS;
    if (typeof logLevel !== 'string' || (logLevel !== 'silent' && !Object.hasOwn(levels, logLevel))) {
      const names = [...Object.keys(levels), 'silent'];
      throw invalidOption('logLevel', `one of ${names.map((n) => `"${n}"`).join(', ')}`, logLevel);
    }
  }
  if (given !== undefined) {
    checkScheduler(given);
    const field = Object.keys(schedulerOptions)[0];
    if (field !== undefined) {
      throw new TickworkError(
        'INVALID_OPTION',
        `\`${field}\` is an option of the scheduler the plugin creates; with \`scheduler\` given, set it in that scheduler's constructor`,
        { field },
      );
    }
  }
  const logger = (): Logger =>
    fastify.log.child(
      { name: 'tickwork' },
      logLevel !== undefined ? { level: logLevel } : undefined,
    ) as unknown as Logger;
  const scheduler =
    given ?? new Scheduler({ ...schedulerOptions, logger: schedulerOptions.logger ?? logger() });
  fastify.decorate('scheduler', scheduler);
  const api = apiOptions ? createApi(scheduler, apiOptions) : null;
  fastify.decorate('schedulerApi', api);
  if (api) {
    await mountApi(fastify, api);
    // End event streams before the server waits for its connections to close.
    fastify.addHook('preClose', async () => api.close());
  }
  if (setup) await setup(scheduler, fastify);
  if (autoStart !== false) {
    fastify.addHook('onReady', async () => {
      await scheduler.start({ paused: startPaused ?? false });
    });
  }
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
 *   async setup(scheduler) {
 *     await scheduler.addJob(tick, 'interval', { seconds: 1, maxInstances: 2 });
 *   },
 * });
 * ```
 */
export const tickwork = fp(plugin, { fastify: '>=4', name: 'tickwork' });

/**
 * A `frameworkErrors` option for `Fastify()`: Fastify's router answers a path it cannot decode (`%FF`) in
 * Fastify's own error shape before any plugin sees it. With this option such a request goes to the tickwork
 * API when it is under the API's prefix (so it gets the API's `{ code, message, details }` answer, after
 * authentication), and gets a 400 `INVALID_OPTION` (`field: "path"`) in the same shape elsewhere.
 *
 * @example
 * ```ts
 * const app = Fastify({ frameworkErrors: tickworkFrameworkErrors });
 * await app.register(tickwork, { api: { auth } });
 * ```
 */
export function tickworkFrameworkErrors(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const api = (request.server as Partial<FastifyInstance>).schedulerApi ?? null;
  const url = request.raw.url ?? '/';
  const path = url.split('?')[0] ?? '/';
  if (error.code !== 'FST_ERR_BAD_URL') {
    reply.send(error); // Fastify's own answer
    return;
  }
  if (api && (api.prefix === '' || path === api.prefix || path.startsWith(`${api.prefix}/`))) {
    api
      .handle(toWebRequest(request.raw, { url, signal: clientGone(reply.raw) }))
      .then((response) => sendResponse(reply, response))
      .catch((err: unknown) => reply.send(err));
    return;
  }
  reply.code(400).send({
    code: 'INVALID_OPTION',
    message: 'The request path is not valid percent-encoded UTF-8',
    details: { field: 'path' },
  });
}
export default tickwork;

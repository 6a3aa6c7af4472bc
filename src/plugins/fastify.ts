/**
 * Fastify plugin: `tickwork/fastify`. Starts the scheduler when the server is ready and shuts it down
 * (waiting for running jobs, bounded) when the server closes; decorates `fastify.scheduler`.
 * @module
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { Scheduler, type SchedulerOptions, type ShutdownOptions } from '../core/scheduler.js';
import type { Logger } from '../core/logger.js';

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
}

const plugin: FastifyPluginAsync<TickworkFastifyOptions> = async (fastify, options) => {
  const { scheduler: given, setup, startPaused, shutdown, ...schedulerOptions } = options;
  const scheduler =
    given ??
    new Scheduler({
      ...schedulerOptions,
      logger: schedulerOptions.logger ?? (fastify.log.child({ name: 'tickwork' }) as unknown as Logger),
    });
  fastify.decorate('scheduler', scheduler);
  if (setup) await setup(scheduler, fastify);
  fastify.addHook('onReady', async () => {
    await scheduler.start({ paused: startPaused ?? false });
  });
  fastify.addHook('onClose', async () => {
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

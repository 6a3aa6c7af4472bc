/**
 * tickwork: a job scheduler for Node.js.
 * @packageDocumentation
 */
export {
  Scheduler,
  firstFireTime,
  type SchedulerOptions,
  type SchedulerState,
  type ShutdownOptions,
  type TaskContext,
  type TaskFunction,
  type TaskOptions,
} from './core/scheduler.js';
export { Job, DEFAULT_POLICY, type JobOptions, type JobPolicy, type JobChanges } from './core/job.js';
export {
  TickworkError,
  isTickworkError,
  ERROR_CODES,
  type ErrorCode,
  type ErrorDetails,
} from './core/errors.js';
export { SystemClock, type Clock, type TimerHandle } from './core/clock.js';
export {
  defaultLogger,
  guardLogger,
  logSerializers,
  silentLogger,
  type Logger,
  type LogFn,
} from './core/logger.js';
export type {
  SchedulerEvents,
  SchedulerEventName,
  Listener,
  EventError,
  JobEventBase,
  RunEventBase,
} from './core/events.js';
export type { JobRecord, RunRecord, RunStatus, RunError, RetryPolicy } from './core/structures.js';
export { MemoryStore, type MemoryStoreOptions } from './stores/memory/index.js';
export type * from './stores/store.js';
export * from './triggers/index.js';

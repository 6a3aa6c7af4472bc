/**
 * The scheduler: job management, the fire-time loop (APScheduler 3's `_process_jobs`, made atomic by the
 * store), and the in-process executor.
 * @module
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { CappedTimers, MAX_TIMER_DELAY, SystemClock, type Clock, type TimerHandle } from './clock.js';
import { TickworkError, invalidOption, isTickworkError, show } from './errors.js';
import {
  EVENT_NAMES,
  EventHub,
  errorToJSON,
  type Listener,
  type SchedulerEventName,
  type SchedulerEvents,
} from './events.js';
import {
  DEFAULT_POLICY,
  JOB_OPTION_KEYS,
  Job,
  describeJob,
  retryDelay,
  validateJobOptions,
  validatePolicy,
  type JobChanges,
  type JobOptions,
  type JobOwner,
  type JobPolicy,
  type ResolvedPolicy,
} from './job.js';
import { defaultLogger, guardLogger, type Logger } from './logger.js';
import type { JobRecord, RunRecord } from './structures.js';
import { checkTimeZone, formatTimedelta, formatIsoInZone } from './timezone.js';
import {
  boolean,
  closest,
  duration,
  identifier,
  identifierList,
  integer,
  MAX_INSTANT,
  nonEmptyString,
  optionsObject,
  rejectUnknownKeys,
  runFilter,
  timeZoneType,
} from './validate.js';
import { MemoryStore } from '../stores/memory/index.js';
import type {
  AcquiredRun,
  AddJobResult,
  FirePlan,
  FireContext,
  FiredJob,
  JobFilter,
  NodeInfo,
  PlannedRun,
  RunFilter,
  RunOutcome,
  Store,
} from '../stores/store.js';
import { createTrigger, isTrigger, triggerFromJSON, type TriggerOptionsByKind } from '../triggers/index.js';
import type { Trigger, TriggerJSON } from '../triggers/trigger.js';
import { InvalidTrigger } from '../triggers/invalid.js';
import { IntervalTrigger } from '../triggers/interval.js';
import {
  checkJobPage,
  compareCodePoints,
  freezeTrigger,
  jobComparator,
  isInvalidTrigger,
  stableStringify,
  unchangedByReplace,
} from '../stores/common.js';

/** Trigger kinds whose shorthand options take the scheduler's `timezone` when they give none. */
const ZONED_KINDS: readonly string[] = ['date', 'cron', 'calendarInterval'];
/** Most run outcomes recorded in one {@link Store.finishRuns} call. */
const OUTCOME_GROUP_SIZE = 500;
/** Largest `fireAhead`, in ms: decisions for a fire time are never made more than this before it. */
const MAX_FIRE_AHEAD = 100;
/** Jobs fired in the first batch of a wake-up; each next batch doubles, up to `batchSize`. */
const FIRST_FIRE_BATCH = 4;
/**
 * How long, in ms, a halved claim size stays in force after a claim failed where smaller ones of the same
 * wake-up had succeeded (see `fireCeiling`); each such period without a failing claim doubles it again.
 */
const FIRE_CEILING_PERIOD = 30_000;
/**
 * The smallest failed claim that sets a ceiling: a failure of a smaller one (a connection lost on its way)
 * says nothing of the size, and a ceiling that low would take minutes to grow back to `batchSize`.
 */
const FIRE_CEILING_FROM = 128;

/**
 * How often, in ms, a scheduler re-measures its clock against the store's and reports itself in the store's
 * `nodes` table (from its loop, which wakes at least every `maxWakeInterval`).
 */
export const NODE_REPORT_INTERVAL = 10_000;

/** What a task receives after its `args`. */
export interface TaskContext {
  /** The job's id. */
  jobId: string;
  /** The run's id. */
  runId: string;
  /** The fire time this run is for (for a manual run, when it was requested). */
  scheduledFireTime: Date;
  /** Fires when the run times out, loses its lease, or the scheduler shuts down without waiting. */
  signal: AbortSignal;
  /** 1 for the first attempt, then 2, 3, ... for retries. */
  attempt: number;
  /** `jobId@scheduledFireTime`: the same for every attempt of a run, for idempotent side effects. */
  idempotencyKey: string;
  /** Whether the run was requested with `runJob` rather than fired by the trigger. */
  manual: boolean;
}

/** A task function: its job's `args`, then the {@link TaskContext}. */
export type TaskFunction = (...args: any[]) => unknown; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Options of `defineTask`: defaults for the policy of jobs that run this task. */
export type TaskOptions = JobPolicy;

interface TaskDefinition {
  id: string;
  fn: TaskFunction;
  policy: Partial<ResolvedPolicy>;
}

/** Options of {@link Scheduler}. Durations are milliseconds. */
export interface SchedulerOptions {
  /** Where jobs and runs live. @defaultValue a new `MemoryStore` */
  store?: Store;
  /** Source of time and timers. @defaultValue a `SystemClock` */
  clock?: Clock;
  /** A pino-compatible logger (Fastify's `fastify.log` fits). @defaultValue pino at level `warn` */
  logger?: Logger;
  /**
   * IANA zone for log lines and for triggers created with the shorthand form without a `timezone`.
   * @defaultValue `"UTC"`
   */
  timezone?: string;
  /** Defaults for the policy of every job (overridden by the task's, then the job's own). */
  jobDefaults?: JobPolicy;
  /** Most runs this process executes at once; further due runs wait (pending). @defaultValue 100 */
  maxConcurrentRuns?: number;
  /**
   * Longest sleep between checks of the store, in ms (1 to 2^31-1); no timer is ever armed for longer.
   * @defaultValue the store's `maxWakeInterval` (30,000 for memory)
   */
  maxWakeInterval?: number;
  /** Most fire times enumerated for one job in one wake-up (a clock jump of a year cannot explode). @defaultValue 1000 */
  maxCatchUp?: number;
  /** Most jobs fired in one store call. @defaultValue the store's `fireBatchSize`, else 500 */
  batchSize?: number;
  /**
   * How long before a fire time the job is fired, in ms (memory store only: `Store.firesAhead`): its run is
   * created (`pending` until the fire time) and its next fire time computed this much early, and the run
   * starts at its fire time, never before. The work of firing many jobs due at one instant is so done before
   * that instant instead of delaying their starts. A fire time is fired ahead only when its job has a free
   * `maxInstances` slot then (slots only free up before the fire time); otherwise it is decided at the fire
   * time, as without firing ahead. Backlogs are coalesced as at the fire time. What happens early: a date
   * job's removal (and its `job:removed`); `pauseJob` and `rescheduleJob` in the window apply from the next
   * fire time (`modifyJob` and a replacing `addJob` apply to the run fired ahead: it runs the job as it is at
   * its fire time); a `runJob` in the window finds the run fired ahead counted against `maxInstances` (and
   * if the manual run took the slot, the run fired ahead is `skipped` at its fire time); runs fired ahead of
   * a `pause()` still start; a run fired ahead before a wall-clock step runs late, as a run waiting for a
   * slot does. 0 fires at the fire time (APScheduler's loop). Persistent stores (SQLite, PostgreSQL, Redis)
   * fire at the fire time: a run fired ahead that a shutdown left pending would start late at the next start,
   * and other processes' runs count against `maxInstances`.
   * @defaultValue 10 (ignored by stores that do not fire ahead)
   * @throws TickworkError `INVALID_OPTION` (field `fireAhead`) for a value that is not a number of ms in
   * [0, 100].
   */
  fireAhead?: number;
  /** Lease of a running run, in ms; at least 1,000. @defaultValue 30,000 */
  leaseDuration?: number;
  /**
   * How often leases are renewed and expired ones reaped, in ms; at least 100 and less than `leaseDuration`.
   * @defaultValue the lesser of 10,000 and a third of `leaseDuration`
   */
  heartbeatInterval?: number;
  /** This process's id in the store. @defaultValue `host:pid:random` */
  nodeId?: string;
  /**
   * Random source in [0, 1): the jitter of run starts and of retry delays, and the spread of idle wake-ups.
   * @defaultValue `Math.random`
   */
  random?: () => number;
}

/** The option names of {@link SchedulerOptions} (plugins that pass options on check against them). */
export const SCHEDULER_KEYS = [
  'store',
  'clock',
  'logger',
  'timezone',
  'jobDefaults',
  'maxConcurrentRuns',
  'maxWakeInterval',
  'maxCatchUp',
  'batchSize',
  'fireAhead',
  'leaseDuration',
  'heartbeatInterval',
  'nodeId',
  'random',
];

/** Options of {@link Scheduler.shutdown}. */
export interface ShutdownOptions {
  /** Wait for running runs to finish. @defaultValue true */
  wait?: boolean;
  /**
   * Longest wait in ms; then remaining runs are aborted (their `signal.reason` is `SHUTDOWN_TIMEOUT`) and
   * recorded `cancelled`, or, on a persistent store with attempts left in the job's retry policy, put back to
   * `pending` for another process or the next start (as a killed process's runs are retried).
   * @defaultValue 30,000
   */
  timeout?: number;
}

/** The scheduler's state. */
export type SchedulerState = 'stopped' | 'running' | 'paused' | 'stopping';

interface RunningRun {
  run: RunRecord;
  job: JobRecord | null;
  /** Created on first use (most tasks never read their signal). */
  controller: AbortController | null;
  done: Promise<void>;
  /** Set once the run's outcome was recorded (completion, timeout or loss). */
  settled: boolean;
  timeoutTimer: TimerHandle | null;
  /** Clock time of the last successful lease renewal (or of the acquisition). */
  renewedAt: number;
  /** Set once the signal was aborted because the lease could not be renewed in time. */
  leaseLost: boolean;
}

interface UnrecordedOutcome {
  entry: RunningRun;
  outcome: RunOutcome;
}

interface PendingJob {
  record: JobRecord;
  trigger: Trigger;
  explicitNextRunTime: boolean;
  conflict: 'error' | 'replace' | 'keep';
}

/**
 * Runs jobs on schedules inside this process (APScheduler's `AsyncIOScheduler`, with a pluggable store).
 *
 * @example
 * ```ts
 * const scheduler = new Scheduler();
 * await scheduler.addJob(tick, 'interval', { seconds: 1, maxInstances: 2 });
 * await scheduler.start();
 * // ...
 * await scheduler.shutdown();
 * ```
 *
 * @throws TickworkError `UNKNOWN_OPTION`, `INVALID_OPTION` (naming the option), `INVALID_TIMEZONE`.
 */
export class Scheduler implements JobOwner {
  /** The store. */
  readonly store: Store;
  /** The clock. */
  readonly clock: Clock;
  /**
   * The logger given (or the default), guarded: a call that throws loses its line (see {@link guardLogger}).
   */
  readonly logger: Logger;
  /** Zone for log lines and shorthand triggers. */
  readonly timezone: string;
  /** This process's id. */
  readonly nodeId: string;

  private readonly events: EventHub;
  private readonly jobDefaults: Partial<ResolvedPolicy>;
  private readonly maxConcurrentRuns: number;
  private readonly maxWakeInterval: number;
  private readonly maxCatchUp: number;
  private readonly batchSize: number;
  /** {@link SchedulerOptions.fireAhead} when the store supports it, else 0. */
  private readonly fireAhead: number;
  /** The latest horizon jobs were fired up to (runs fired ahead may be due until then). */
  private firedAheadUntil = -Infinity;
  /**
   * Set by the planner when a job due within the horizon was left for its fire time (no free slot): the rest
   * of the pass fires without a horizon, so that job is not claimed again and again.
   */
  private deferredAhead = false;
  private readonly leaseDuration: number;
  private readonly heartbeatInterval: number;
  private readonly random: () => number;
  /** Run timeouts, heartbeats and the shutdown wait, in timers no longer than `maxWakeInterval`. */
  private readonly timers: CappedTimers;

  private readonly tasks = new Map<string, TaskDefinition>();
  private readonly taskIdsByFn = new WeakMap<TaskFunction, string>();
  /** Next `#n` suffix to try per function name (memory store: several functions of one name). */
  private readonly nextSuffix = new Map<string, number>();
  /** `[...tasks.keys()]`, made once and appended to as tasks are defined (one array per acquire would be O(tasks)). */
  private taskIdList: string[] | null = null;
  /**
   * Tasks made for jobs' own functions under ids of the scheduler's making (`anonymous-<uuid>`, `name#n`):
   * dropped by {@link sweepTasks} once nothing refers to them.
   */
  private readonly generatedTasks = new Set<string>();
  /** Generated tasks of `addJob` calls under way (their jobs may not be stored yet), with a count per id. */
  private readonly heldTasks = new Map<string, number>();
  /** The generated tasks the current `addJob` call refers to (set while it runs synchronously). */
  private taskHolds: string[] | null = null;
  /** {@link generatedTasks} size at which the next {@link sweepTasks} runs. */
  private sweepAt = 1024;
  private readonly pendingJobs = new Map<string, PendingJob>();
  /** Jobs whose missing task was reported already (once per job and process). */
  private readonly missingTaskReported = new Set<string>();
  private readonly inFlight = new Map<string, RunningRun>();
  /** Runs in {@link inFlight} per job id (a run fired ahead checks its job's maxInstances when it starts). */
  private readonly runningByJob = new Map<string, number>();
  /** Runs whose task ended and whose outcome is being recorded: their leases are still renewed. */
  private readonly recording = new Map<string, RunningRun>();
  /** Final outcomes waiting for the next group (see {@link Scheduler.recordOutcome}). */
  private readonly outcomes: {
    entry: RunningRun;
    outcome: RunOutcome;
    resolve: (ok: boolean) => void;
    reject: (err: unknown) => void;
  }[] = [];
  private flushingOutcomes = false;
  /** Outcomes the store could not record yet (an outage); retried, and their leases kept, until it can. */
  private readonly unrecorded = new Map<string, UnrecordedOutcome>();
  /** Trigger objects of stored jobs by job id (see {@link Scheduler.triggerFor}); a removed job's is dropped. */
  private readonly triggerCache = new Map<string, { key: string; trigger: Trigger }>();
  private readonly triggerByJson = new WeakMap<TriggerJSON, Trigger>();

  private _state: SchedulerState = 'stopped';
  /** The shutdown under way, so a second `shutdown()` waits for the same one. */
  private stopping: Promise<void> | null = null;
  private timer: TimerHandle | null = null;
  private heartbeatTimer: TimerHandle | null = null;
  /** Whether the next pass of the loop reaps expired leases before firing (the first pass after start). */
  private reapFirst = true;
  /** While {@link Scheduler.start} opens the store and stores the queued jobs: the loop does not run yet. */
  private opening = false;
  /** When the previous pass of the loop began (wall clock), to notice a step of the clock. */
  private lastPassAt: number | null = null;
  /** This process's clock at the last look, to notice a step back (see {@link Scheduler.noticeStepBack}). */
  private lastLocal = -Infinity;
  /** Reaping waits until this time (wall clock) after a step of the clock (see {@link Scheduler.process}). */
  private reapHoldUntil = 0;
  /** The heartbeat being sent, if any (shutdown lets it finish before the store closes). */
  private heartbeating: Promise<void> | null = null;
  private wakeInProgress = false;
  private wakeAgain = false;
  private backlog = false;
  private failures = 0;
  private lastStoreError: { message: string; since: string } | null = null;
  /**
   * The largest claim while smaller claims than `batchSize` are in force: set to half a claim that failed
   * after smaller claims of the same wake-up had succeeded (a claim too large for the store, e.g. one that
   * runs past a statement timeout, would otherwise fail at every wake-up), doubled again after each
   * {@link FIRE_CEILING_PERIOD} without such a failure (`at`: when it was last set or doubled), dropped at
   * `batchSize`.
   */
  private fireCeiling: { size: number; at: number } | null = null;
  /**
   * How many ended runs may wait for their outcomes to be recorded before they count against
   * `maxConcurrentRuns` (see `acquire`): `maxConcurrentRuns`, plus two groups of outcomes (one being recorded,
   * one filling up) with a store that records them in groups, so that group commit keeps its pace.
   */
  private get outcomeAllowance(): number {
    const grouped = this.store.persistent && this.store.finishRuns !== undefined;
    return this.maxConcurrentRuns + (grouped ? 2 * OUTCOME_GROUP_SIZE : 0);
  }
  private lastReap = 0;
  /** Clock time of the last lease renewal of this process's runs (a heartbeat, or the first acquisition). */
  private lastRenewal = 0;
  private unsubscribe: (() => void) | null = null;
  /** Removes the listener for steps of the wall clock ({@link Clock.onStep}) while running. */
  private unlistenSteps: (() => void) | null = null;
  /** The store's clock minus `clock`, in ms (0 for stores that use our clock). */
  private offset = 0;
  /** Store time of the last claim and the local clock time its answer arrived (see `process()`). */
  private anchor: { store: number; local: number } | null = null;
  /** Local clock time of the last node report (and clock measurement); -Infinity before the first. */
  private lastNodeReport = -Infinity;
  /** When `start()` was called, in the store's time frame. */
  private startedAt = 0;
  /** Shut down since the last `start()`: reads then throw instead of answering from the queued jobs. */
  private shutDown = false;
  /** The `start()` in progress, if any. */
  private starting: Promise<void> | null = null;

  constructor(options: SchedulerOptions = {}) {
    const opts = optionsObject(options, 'options');
    rejectUnknownKeys(opts, SCHEDULER_KEYS);
    // Duck-typed objects (a store, clock or logger of the caller's own): the methods the scheduler calls.
    const methods = (value: unknown, field: string, names: readonly string[], what: string): void => {
      if (value === undefined) return;
      const o = value as Record<string, unknown> | null;
      if (
        o === null ||
        (typeof o !== 'object' && typeof o !== 'function') ||
        names.some((n) => typeof o[n] !== 'function')
      )
        throw invalidOption(field, what, value);
    };
    methods(
      options.store,
      'store',
      STORE_METHODS,
      'a Store (MemoryStore, SqliteStore, PostgresStore, RedisStore)',
    );
    methods(
      options.clock,
      'clock',
      ['now', 'setTimeout', 'clearTimeout'],
      'a Clock (now, setTimeout, clearTimeout)',
    );
    const onStep = (options.clock as { onStep?: unknown } | undefined)?.onStep;
    if (onStep !== undefined && typeof onStep !== 'function') {
      throw invalidOption('clock', 'a Clock whose onStep, if any, is a method', options.clock);
    }
    methods(
      options.logger,
      'logger',
      ['debug', 'info', 'warn', 'error'],
      'a logger (pino-like: debug, info, warn, error)',
    );
    this.store = options.store ?? new MemoryStore();
    this.clock = options.clock ?? new SystemClock();
    // Guarded: a logger that throws loses its line, never the scheduler's work.
    this.logger = guardLogger(options.logger ?? defaultLogger());
    this.events = new EventHub(() => this.logger);
    timeZoneType(options.timezone, 'timezone');
    this.timezone = checkTimeZone(options.timezone ?? 'UTC', 'timezone');
    const defaults = optionsObject(options.jobDefaults, 'jobDefaults');
    rejectUnknownKeys(
      defaults,
      ['maxInstances', 'misfireGraceTime', 'coalesce', 'jitter', 'timeout', 'retry'],
      'jobDefaults.',
    );
    this.jobDefaults = validatePolicy(defaults, 'jobDefaults.');
    this.maxConcurrentRuns =
      options.maxConcurrentRuns === undefined
        ? 100
        : integer(options.maxConcurrentRuns, 'maxConcurrentRuns', 1);
    this.maxWakeInterval =
      options.maxWakeInterval === undefined
        ? this.store.maxWakeInterval
        : duration(options.maxWakeInterval, 'maxWakeInterval', 1);
    if (this.maxWakeInterval > MAX_TIMER_DELAY) {
      throw invalidOption(
        'maxWakeInterval',
        `at most ${MAX_TIMER_DELAY} ms (Node's longest timer)`,
        this.maxWakeInterval,
      );
    }
    this.maxCatchUp = options.maxCatchUp === undefined ? 1000 : integer(options.maxCatchUp, 'maxCatchUp', 1);
    this.batchSize =
      options.batchSize === undefined
        ? (this.store.fireBatchSize ?? 500)
        : integer(options.batchSize, 'batchSize', 1);
    const fireAhead = options.fireAhead === undefined ? 10 : duration(options.fireAhead, 'fireAhead', 0);
    if (fireAhead > MAX_FIRE_AHEAD) {
      throw invalidOption('fireAhead', `at most ${MAX_FIRE_AHEAD} ms`, fireAhead);
    }
    // Only a store of this process alone: a run fired ahead is checked against maxInstances by the runs in
    // flight here, and none is left pending by a shutdown.
    this.fireAhead = this.store.firesAhead && !this.store.persistent ? fireAhead : 0;
    this.leaseDuration =
      options.leaseDuration === undefined ? 30_000 : duration(options.leaseDuration, 'leaseDuration', 1000);
    this.heartbeatInterval =
      options.heartbeatInterval === undefined
        ? Math.min(10_000, Math.floor(this.leaseDuration / 3))
        : duration(options.heartbeatInterval, 'heartbeatInterval', 100);
    if (this.heartbeatInterval >= this.leaseDuration) {
      throw invalidOption(
        'heartbeatInterval',
        `less than leaseDuration (${this.leaseDuration})`,
        this.heartbeatInterval,
      );
    }
    this.nodeId =
      options.nodeId === undefined
        ? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
        : nonEmptyString(options.nodeId, 'nodeId', 200);
    // It is written in log lines and the nodes table: one printable line.
    if (/\p{Cc}/u.test(this.nodeId))
      throw invalidOption('nodeId', 'a name without control characters', this.nodeId);
    if (options.random !== undefined && typeof options.random !== 'function') {
      throw invalidOption('random', 'a function returning a number in [0, 1)', options.random);
    }
    this.random = options.random ?? Math.random;
    this.timers = new CappedTimers(this.clock, this.maxWakeInterval);
  }

  /** Current state. */
  get state(): SchedulerState {
    return this._state;
  }

  /** Whether the scheduler was started and not shut down (it may be paused). */
  get running(): boolean {
    return this._state === 'running' || this._state === 'paused';
  }

  /**
   * The store's clock minus this process's `clock`, in milliseconds, as last measured (at start, then every
   * {@link NODE_REPORT_INTERVAL} ms). 0 for stores that use the scheduler's clock (memory, SQLite). Fire
   * times, retry times and misfire checks are computed in the store's time frame with it; the store still
   * decides alone what is due.
   */
  get clockOffset(): number {
    return this.offset;
  }

  /**
   * The store failure the loop is backing off from, or `null` when its last pass succeeded: the error's
   * message, when the failures began (ISO 8601) and how many passes in a row failed. A health check that only
   * reads can miss a store that cannot write (a full disk); this cannot.
   */
  get storeError(): { message: string; since: string; failures: number } | null {
    return this.lastStoreError === null ? null : { ...this.lastStoreError, failures: this.failures };
  }

  /**
   * The processes sharing the store (id, host, pid, start, last report, clock offset, running runs), from
   * the store's `nodes` table; with a store that keeps none (memory), this process alone. Observability
   * only: nodes report themselves every {@link NODE_REPORT_INTERVAL} ms from their loop.
   * @throws TickworkError (as a rejection) `SCHEDULER_NOT_RUNNING` before `start()` and after `shutdown()`.
   */
  async getNodes(): Promise<NodeInfo[]> {
    this.assertRunning('getNodes');
    if (this.store.getNodes) return this.store.getNodes();
    return [
      {
        id: this.nodeId,
        host: hostname(),
        pid: process.pid,
        startedAt: new Date(this.startedAt),
        lastSeenAt: new Date(this.now()),
        clockOffset: this.offset,
        runningRuns: this.inFlight.size,
      },
    ];
  }

  /** Current time in the store's time frame: the clock corrected by the measured offset. */
  private now(): number {
    return this.clock.now() + this.offset;
  }

  /** Measures the clock offset against the store (when it has a clock of its own). Never throws. */
  private async syncClock(): Promise<void> {
    if (!this.store.measureClockOffset) return;
    try {
      const sample = await this.store.measureClockOffset(() => this.clock.now());
      if (Math.abs(sample.offset - this.offset) > 1000) {
        this.logger.warn(
          { offset: sample.offset, roundTrip: sample.roundTrip },
          `This process's clock is ${Math.abs(sample.offset)} ms ${sample.offset > 0 ? 'behind' : 'ahead of'} ` +
            `the ${this.store.kind} store's; timers are armed in the store's time frame`,
        );
      }
      this.offset = sample.offset;
    } catch (err) {
      this.logger.debug({ err }, 'Could not measure the clock offset against the store');
    }
  }

  /** Re-measures the clock and reports this node to the store, every NODE_REPORT_INTERVAL. Never throws. */
  private async reportNode(force = false): Promise<void> {
    const local = this.clock.now();
    if (!force && local - this.lastNodeReport < NODE_REPORT_INTERVAL) return;
    this.lastNodeReport = local;
    await this.syncClock();
    if (!this.store.registerNode) return;
    try {
      await this.store.registerNode({
        id: this.nodeId,
        host: hostname(),
        pid: process.pid,
        startedAt: new Date(this.startedAt),
        clockOffset: this.offset,
      });
    } catch (err) {
      this.logger.debug({ err }, 'Could not report this node to the store');
    }
  }

  // ------------------------------------------------------------------ events

  /**
   * Adds an event listener; returns a function that removes it. A throwing listener is logged and ignored.
   * @throws TickworkError `INVALID_OPTION` for a name that is not an event (field `name`) or a listener that is
   * not a function (field `listener`).
   */
  on<K extends SchedulerEventName>(name: K, listener: Listener<K>): () => void {
    checkListener(name, listener);
    return this.events.on(name, listener);
  }
  /** Adds a listener called once; returns a function that removes it. @throws as {@link Scheduler.on}. */
  once<K extends SchedulerEventName>(name: K, listener: Listener<K>): () => void {
    checkListener(name, listener);
    return this.events.once(name, listener);
  }
  /** Removes a listener. */
  off<K extends SchedulerEventName>(name: K, listener: Listener<K>): void {
    this.events.off(name, listener);
  }
  /** Listens to every event. */
  onAny(
    listener: <K extends SchedulerEventName>(payload: SchedulerEvents[K], name: K) => unknown,
  ): () => void {
    return this.events.onAny(listener);
  }

  // ------------------------------------------------------------------ tasks

  /**
   * Defines a task: a named function jobs refer to by id (persistent stores hold only the id). Defining the
   * same function again under the same id is a no-op.
   * @throws TickworkError `TASK_CONFLICT` when another function has the id; `INVALID_OPTION`.
   */
  defineTask(id: string, fn: TaskFunction, options: TaskOptions = {}): void {
    identifier(id, 'id');
    if (typeof fn !== 'function') throw invalidOption('fn', 'a function', fn);
    const opts = optionsObject(options, 'options');
    rejectUnknownKeys(opts, ['maxInstances', 'misfireGraceTime', 'coalesce', 'jitter', 'timeout', 'retry']);
    const existing = this.tasks.get(id);
    if (existing && existing.fn !== fn) {
      throw new TickworkError('TASK_CONFLICT', `Another function is defined as task "${id}" already`, {
        field: 'id',
        value: id,
      });
    }
    this.tasks.set(id, { id, fn, policy: validatePolicy(opts) });
    // A new id is appended (a store that keeps the list it was given sees it grow): making the list anew at
    // every definition cost O(tasks) per job added with a function of its own, O(n^2) for n such jobs.
    if (!existing) this.taskIdList?.push(id);
    this.taskIdsByFn.set(fn, id);
    // Runs of this task may be waiting already (created by another process): the loop left them out of its
    // wake-up time while the task was unknown here.
    if (!existing && this._state === 'running') this.wakeSoon();
  }

  /** Ids of the tasks defined in this process. */
  getTaskIds(): string[] {
    return [...this.tasks.keys()];
  }

  private taskIdFor(fn: TaskFunction, explicit: string | undefined): string {
    if (explicit !== undefined) {
      const existing = this.tasks.get(explicit);
      if (!existing) this.defineTask(explicit, fn);
      else if (existing.fn !== fn) this.defineTask(explicit, fn); // throws TASK_CONFLICT
      return explicit;
    }
    const known = this.taskIdsByFn.get(fn);
    if (known) {
      if (this.generatedTasks.has(known) || !this.tasks.has(known)) {
        // (swept when nothing referred to it: made again, under its id)
        if (!this.tasks.has(known)) this.defineGenerated(known, fn);
        this.taskHolds?.push(known);
      }
      return known;
    }
    const name = fn.name && fn.name !== 'anonymous' ? fn.name.replace(/^bound /, '') : '';
    if (!name) {
      if (this.store.persistent) {
        throw new TickworkError(
          'ANONYMOUS_TASK',
          `A ${this.store.kind} store keeps jobs across restarts, so a job must name its task: pass a named function, ` +
            'give `taskId`, or define the task first with `scheduler.defineTask(id, fn)` and pass its id',
          { field: 'fn' },
        );
      }
      return this.defineGenerated(`anonymous-${randomUUID()}`, fn);
    }
    if (!this.tasks.has(name)) {
      this.defineTask(name, fn);
      return name;
    }
    if (this.store.persistent) this.defineTask(name, fn); // throws TASK_CONFLICT
    // Memory store: two different functions with one name each get their own task.
    let n = this.nextSuffix.get(name) ?? 2;
    while (this.tasks.has(`${name}#${n}`)) n++;
    this.nextSuffix.set(name, n + 1);
    return this.defineGenerated(`${name}#${n}`, fn);
  }

  /** Defines a task under an id of the scheduler's making, for the current `addJob` call. */
  private defineGenerated(id: string, fn: TaskFunction): string {
    this.sweepTasks();
    this.defineTask(id, fn);
    this.generatedTasks.add(id);
    this.taskHolds?.push(id);
    return id;
  }

  /**
   * Drops the generated tasks nothing refers to any more: no job (stored, or added before `start()`), no
   * active run, no `addJob` call under way. With a memory store, a process adding one-shot jobs of anonymous
   * functions otherwise kept every function, and what it captured, for its whole life. Runs when their
   * number has doubled since the last sweep (amortized constant time per job added), with a store that
   * answers {@link Store.taskIdsInUse}. Synchronous: nothing else runs between the read and the drop.
   */
  private sweepTasks(): void {
    if (this.generatedTasks.size < this.sweepAt) return;
    const inUse = this.store.taskIdsInUse?.();
    if (inUse !== undefined) {
      for (const p of this.pendingJobs.values()) inUse.add(p.record.taskId);
      for (const id of this.generatedTasks) {
        if (inUse.has(id) || this.heldTasks.has(id)) continue;
        this.tasks.delete(id);
        this.generatedTasks.delete(id);
        // Made anew at its next use; a store that kept the list sees another one.
        this.taskIdList = null;
      }
    }
    this.sweepAt = Math.max(1024, 2 * this.generatedTasks.size);
  }

  // ------------------------------------------------------------------ jobs

  /**
   * Adds a job. Forms:
   * - `addJob(fn, 'interval', { seconds: 1, maxInstances: 2 })`: APScheduler's shorthand; keys of
   *   {@link JobOptions} configure the job, the others the trigger;
   * - `addJob(fn, new IntervalTrigger({ seconds: 5 }), options)`;
   * - `addJob('task-id', trigger, options)` for a task defined with {@link Scheduler.defineTask}.
   *
   * Before `start()`, the job waits (pending) and its first fire time is computed at start. After
   * `shutdown()` (and while it runs) the promise rejects with `SCHEDULER_NOT_RUNNING`.
   *
   * Never throws: validation errors reject the promise too, as store and state errors (`JOB_CONFLICT`,
   * `SCHEDULER_NOT_RUNNING`) do.
   * @throws TickworkError (as a rejection) `INVALID_TRIGGER`, `INVALID_OPTION`, `UNKNOWN_OPTION`, `TRIGGER_NEVER_FIRES`,
   * `ANONYMOUS_TASK`, `TASK_NOT_FOUND`, `TASK_CONFLICT`; `INVALID_TIMEZONE` (field `timezone`) for a shorthand
   * `timezone` that is not a known zone name (a BigInt included); rejects with `JOB_CONFLICT`.
   */
  addJob<K extends keyof TriggerOptionsByKind>(
    task: TaskFunction | string,
    trigger: K,
    options?: TriggerOptionsByKind[K] & JobOptions,
  ): Promise<Job>;
  addJob(task: TaskFunction | string, trigger: Trigger, options?: JobOptions): Promise<Job>;
  addJob(
    task: TaskFunction | string,
    trigger: Trigger | string,
    options: Record<string, unknown> = {},
  ): Promise<Job> {
    const holds: string[] = [];
    this.taskHolds = holds;
    let added: Promise<Job>;
    try {
      added = this.addJobChecked(task, trigger, options);
    } catch (err) {
      added = Promise.reject(err);
    } finally {
      this.taskHolds = null;
    }
    if (holds.length === 0) return added;
    // A task made for this job's function is kept until the job is stored (or refused).
    for (const id of holds) this.heldTasks.set(id, (this.heldTasks.get(id) ?? 0) + 1);
    return added.finally(() => {
      for (const id of holds) {
        const n = this.heldTasks.get(id)! - 1;
        if (n === 0) this.heldTasks.delete(id);
        else this.heldTasks.set(id, n);
      }
    });
  }

  /** {@link Scheduler.addJob}, whose validation errors are thrown. */
  private addJobChecked(
    task: TaskFunction | string,
    trigger: Trigger | string,
    options: Record<string, unknown>,
  ): Promise<Job> {
    const opts = optionsObject(options, 'options');
    let triggerObj: Trigger;
    let jobOpts: Record<string, unknown>;
    if (typeof trigger === 'string') {
      jobOpts = {};
      const triggerOpts: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(opts)) {
        if (k === '__proto__' || k === 'constructor' || k === 'prototype') {
          throw new TickworkError('UNKNOWN_OPTION', `Unknown option \`${k}\``, { field: k });
        }
        if ((JOB_OPTION_KEYS as readonly string[]).includes(k)) jobOpts[k] = v;
        else triggerOpts[k] = v;
      }
      timeZoneType(triggerOpts.timezone, 'timezone');
      if (triggerOpts.timezone === undefined && ZONED_KINDS.includes(trigger))
        triggerOpts.timezone = this.timezone;
      try {
        triggerObj = createTrigger(trigger, triggerOpts);
      } catch (err) {
        // The shorthand mixes job and trigger options: an unknown key may be a misspelt job option.
        if (
          isTickworkError(err, 'UNKNOWN_OPTION') &&
          typeof err.details.field === 'string' &&
          !err.message.includes('did you mean')
        ) {
          const near = closest(err.details.field, JOB_OPTION_KEYS);
          if (near !== null) {
            throw new TickworkError(
              'UNKNOWN_OPTION',
              `${err.message}; or one of the job options. Did you mean \`${near}\`?`,
              err.details,
            );
          }
        }
        throw err;
      }
    } else if (isTrigger(trigger)) {
      triggerObj = trigger;
      jobOpts = opts;
    } else {
      throw new TickworkError(
        'INVALID_TRIGGER',
        `Expected a trigger object or a trigger kind, got ${show(trigger)}`,
        {
          field: 'trigger',
          value: trigger,
        },
      );
    }
    const resolved = validateJobOptions(jobOpts, this.timezone);
    let taskId: string;
    if (typeof task === 'function') {
      taskId = this.taskIdFor(task, resolved.taskId);
    } else if (typeof task === 'string' && task.length > 0) {
      if (resolved.taskId !== undefined && resolved.taskId !== task) {
        throw invalidOption('taskId', `the same as the task argument "${task}"`, resolved.taskId);
      }
      taskId = task;
      if (!this.tasks.has(task) && !this.store.persistent) throw taskNotFound(task, 'task');
    } else {
      throw invalidOption('task', 'a function or a task id', task);
    }
    if (this.store.persistent) assertJson(resolved.args, 'args');
    const policy = this.policyFor(taskId, resolved.policy);
    const now = new Date(this.now());
    let nextRunTime: Date | null;
    if (resolved.paused || resolved.nextRunTime === null) nextRunTime = null;
    else if (resolved.nextRunTime !== undefined) nextRunTime = resolved.nextRunTime;
    else nextRunTime = firstFireTime(triggerObj, now);
    const paused = resolved.paused || resolved.nextRunTime === null;
    const record: JobRecord = {
      id: resolved.id ?? randomUUID(),
      name: resolved.name ?? taskId.replace(/^anonymous-.*/, '<anonymous>'),
      taskId,
      trigger: freezeTrigger(triggerObj.toJSON()),
      args: resolved.args,
      ...policy,
      paused,
      nextRunTime,
      quarantine: null,
      version: 0,
      createdAt: now,
      updatedAt: now,
    };
    if (this.store.persistent) assertReadable(record.trigger);
    this.triggerByJson.set(record.trigger, triggerObj);
    if (!this.running) {
      // After shutdown() (or while it runs) a job would wait for a start() that may never come: refused.
      if (this.shutDown || this._state === 'stopping') {
        return Promise.reject(
          new TickworkError(
            'SCHEDULER_NOT_RUNNING',
            'addJob needs a started scheduler: this one was shut down (call start() again first)',
          ),
        );
      }
      if (this.pendingJobs.has(record.id) && resolved.conflict === 'error') {
        return Promise.reject(
          new TickworkError('JOB_CONFLICT', `A job with id "${record.id}" was added already`, {
            field: 'id',
            value: record.id,
          }),
        );
      }
      const pending: PendingJob = {
        record,
        trigger: triggerObj,
        explicitNextRunTime: resolved.nextRunTime !== undefined,
        conflict: resolved.conflict,
      };
      if (!(this.pendingJobs.has(record.id) && resolved.conflict === 'keep'))
        this.pendingJobs.set(record.id, pending);
      return Promise.resolve(new Job(this, record, triggerObj, true));
    }
    // start() is still opening the store (a first start migrates PostgreSQL's tables): store the job after.
    const starting = this.starting;
    if (starting) {
      return starting.then(
        () => this.storeJob(record, triggerObj, resolved.conflict),
        () =>
          Promise.reject(
            new TickworkError('SCHEDULER_NOT_RUNNING', 'addJob needs a started scheduler; start() failed'),
          ),
      );
    }
    return this.storeJob(record, triggerObj, resolved.conflict);
  }

  private async storeJob(
    record: JobRecord,
    trigger: Trigger,
    conflict: 'error' | 'replace' | 'keep',
  ): Promise<Job> {
    const { job, outcome } = await this.store.addJob(record, conflict);
    return this.announceAdded(job, trigger, outcome);
  }

  /** The `job:added` event, its log line and, for a new or changed job, a wake-up. */
  private announceAdded(job: JobRecord, trigger: Trigger, outcome: AddJobResult['outcome']): Job {
    const stored = outcome === 'kept' ? this.viewTrigger(job) : trigger;
    this.events.emit('job:added', {
      jobId: job.id,
      name: job.name,
      trigger: String(stored),
      nextRunTime: job.nextRunTime?.toISOString() ?? null,
      outcome,
    });
    const view = new Job(this, job, stored);
    this.logger.info(
      { jobId: job.id, outcome },
      outcome === 'kept'
        ? `Job "${view}" exists already; kept as it is`
        : outcome === 'unchanged'
          ? `Job "${view}" is unchanged in job store "${this.store.kind}"`
          : `Added job "${view.name}" to job store "${this.store.kind}"`,
    );
    // Only a new or changed job can be due sooner than the loop knows: re-adding unchanged jobs at boot (all
    // of them, on every node of a rolling deploy) wakes nothing.
    if (outcome === 'added' || outcome === 'replaced') this.wakeSoon();
    return view;
  }

  /**
   * The stored jobs that jobs added before `start()` with `replaceExisting` would replace, read 500 at a time.
   * A read that fails (an undecodable row) just leaves those jobs to `addJob`, one at a time.
   */
  private async storedForReplace(pendings: PendingJob[]): Promise<Map<string, JobRecord>> {
    const ids = pendings.filter((p) => p.conflict === 'replace').map((p) => p.record.id);
    const found = new Map<string, JobRecord>();
    for (let i = 0; i < ids.length; i += 500) {
      try {
        for (const job of await this.store.getJobs({ ids: ids.slice(i, i + 500) })) found.set(job.id, job);
      } catch {
        // left to addJob
      }
    }
    return found;
  }

  private policyFor(taskId: string, own: Partial<ResolvedPolicy>): ResolvedPolicy {
    return { ...DEFAULT_POLICY, ...this.jobDefaults, ...(this.tasks.get(taskId)?.policy ?? {}), ...own };
  }

  /**
   * The job with `id`, or `null`. Before the first `start()`, the queued jobs only.
   * @throws TickworkError `INVALID_OPTION` (field `id`) for an id that is not one `addJob` accepts (rejects);
   * `SCHEDULER_NOT_RUNNING` (rejects) after `shutdown()`.
   */
  async getJob(id: string): Promise<Job | null> {
    identifier(id, 'id');
    const pending = this.pendingJobs.get(id);
    if (pending) return new Job(this, pending.record, pending.trigger, true);
    if (!this.storeOpen('getJob')) return null;
    const record = await this.store.getJob(id);
    return record ? new Job(this, record, this.viewTrigger(record)) : null;
  }

  /**
   * Jobs matching `filter`, in the order of `filter.sort` (`id` by default; `nextRunTime` earliest first and
   * paused jobs last; `name`), after skipping `filter.offset`, at most `filter.limit`. The store sorts and
   * pages. Jobs waiting for `start()` are included, filtered, sorted and paged with the others (before the
   * first `start()`, they are all there is; after `shutdown()` this rejects with `SCHEDULER_NOT_RUNNING`).
   * @throws TickworkError `INVALID_OPTION` (rejects) naming the field for a bad `sort`, `offset` or `limit`,
   * `ids` that is not an array of ids (`ids[i]` for a bad element), a bad `taskId` (not an id), an `afterId` that is not a string (or holds NUL),
   * or a `paused` that is not a boolean.
   */
  async getJobs(filter: JobFilter = {}): Promise<Job[]> {
    filter = optionsObject(filter, 'filter') as JobFilter;
    rejectUnknownKeys(filter, ['ids', 'taskId', 'paused', 'sort', 'offset', 'limit', 'afterId']);
    const sort = checkJobPage(filter);
    if (filter.ids !== undefined) identifierList(filter.ids, 'ids');
    if (filter.taskId !== undefined) identifier(filter.taskId, 'taskId');
    // Any string without NUL (no database text holds one): paging goes on past a stored id that addJob would
    // refuse (written by hand: too long, a control character).
    if (
      filter.afterId !== undefined &&
      (typeof filter.afterId !== 'string' || filter.afterId.includes('\u0000'))
    )
      throw invalidOption('afterId', 'a string without NUL', filter.afterId);
    if (filter.paused !== undefined) boolean(filter.paused, 'paused');
    const pending = this.pendingMatching(filter);
    if (pending.length === 0) {
      if (!this.storeOpen('getJobs')) return [];
      const records = await this.store.getJobs(filter);
      return records.map((r) => new Job(this, r, this.viewTrigger(r)));
    }
    // Jobs waiting for start() (before it, or while start() stores them): merged into the store's order, then
    // paged here. The store is asked for its jobs up to the end of the page.
    const offset = filter.offset ?? 0;
    const end = filter.limit === undefined ? undefined : offset + filter.limit;
    let records: JobRecord[] = [];
    if (this.storeOpen('getJobs')) {
      const { offset: _offset, limit: _limit, ...rest } = filter;
      records = await this.store.getJobs(end === undefined ? rest : { ...rest, limit: end });
    }
    const waiting = new Set(pending.map((p) => p.record.id));
    const jobs = [
      ...pending.map((p) => new Job(this, p.record, p.trigger, true)),
      ...records.filter((r) => !waiting.has(r.id)).map((r) => new Job(this, r, this.viewTrigger(r))),
    ];
    return jobs.sort(jobComparator(sort)).slice(offset, end);
  }

  /**
   * How many jobs match `filter` (all jobs without one), including those waiting for `start()`. Counted by
   * the store when it can (`Store.countJobs`: SQL `count(*)`, no job read); otherwise the length of
   * {@link Scheduler.getJobs}. Rejects with `SCHEDULER_NOT_RUNNING` after `shutdown()`.
   */
  async countJobs(filter: { taskId?: string; paused?: boolean } = {}): Promise<number> {
    const opts = optionsObject(filter, 'filter');
    rejectUnknownKeys(opts, ['taskId', 'paused']);
    if (opts.taskId !== undefined) nonEmptyString(opts.taskId, 'taskId');
    if (opts.paused !== undefined) boolean(opts.paused, 'paused');
    const pending = this.pendingMatching(filter).length;
    if (!this.storeOpen('countJobs')) return pending;
    if (!this.store.countJobs) return (await this.getJobs(filter)).length;
    return pending + (await this.store.countJobs(filter));
  }

  /** How many jobs are waiting for `start()` (added while the scheduler was stopped). */
  queuedJobCount(): number {
    return this.pendingJobs.size;
  }

  /** The jobs waiting for `start()` that match the conditions of `filter` (no sorting or paging). */
  private pendingMatching(filter: JobFilter): PendingJob[] {
    const out: PendingJob[] = [];
    for (const p of this.pendingJobs.values()) {
      const r = p.record;
      if (filter.taskId !== undefined && r.taskId !== filter.taskId) continue;
      if (filter.paused !== undefined && r.paused !== filter.paused) continue;
      if (filter.ids && !filter.ids.includes(r.id)) continue;
      if (filter.afterId !== undefined && compareCodePoints(r.id, filter.afterId) <= 0) continue;
      out.push(p);
    }
    return out;
  }

  /**
   * Changes options of a job (`name`, `args`, `taskId`, policy, `nextRunTime`) and, with `trigger`, its trigger
   * too (as APScheduler 3's `modify_job`), in one write: all or nothing. A new trigger recomputes the next fire
   * time from now (a given `nextRunTime` wins; a paused job stays paused, as with
   * {@link Scheduler.rescheduleJob}); its first fire time is found before anything is written, so a trigger that
   * never fires changes nothing, and a store write that outlasts that fire time still stores the whole change.
   * @throws TickworkError `UNKNOWN_OPTION`, `INVALID_OPTION` (also field `id` for an id that is not one
   * `addJob` accepts); `INVALID_TRIGGER`, `TRIGGER_NEVER_FIRES` for `trigger`; `TASK_NOT_FOUND` (field
   * `taskId`) on a memory store for a task not defined in this process (as `addJob`); rejects with
   * `JOB_NOT_FOUND`, and with `JOB_VERSION_CONFLICT` when a job given a new trigger kept changing.
   */
  async modifyJob(id: string, changes: JobChanges): Promise<Job> {
    identifier(id, 'id');
    const opts = optionsObject(changes, 'changes');
    rejectUnknownKeys(opts, [
      'name',
      'args',
      'nextRunTime',
      'taskId',
      'trigger',
      ...JOB_OPTION_KEYS.filter((k) => k in DEFAULT_POLICY),
    ]);
    const { trigger, ...options } = opts;
    const resolved = validateJobOptions(options, this.timezone);
    const patch: Partial<JobRecord> = { ...resolved.policy };
    if (resolved.name !== undefined) patch.name = resolved.name;
    if (options.args !== undefined) {
      if (this.store.persistent) assertJson(resolved.args, 'args');
      patch.args = resolved.args;
    }
    if (resolved.taskId !== undefined) {
      // As addJob: a memory store's jobs run in this process only, so the task must be defined here.
      if (!this.tasks.has(resolved.taskId) && !this.store.persistent)
        throw taskNotFound(resolved.taskId, 'taskId');
      patch.taskId = resolved.taskId;
    }
    if (resolved.nextRunTime !== undefined) {
      patch.nextRunTime = resolved.nextRunTime;
      patch.paused = resolved.nextRunTime === null;
    }
    if (trigger !== undefined) {
      if (!isTrigger(trigger)) {
        throw new TickworkError(
          'INVALID_TRIGGER',
          `Expected \`trigger\` to be a trigger, got ${show(trigger)}`,
          {
            field: 'trigger',
          },
        );
      }
      const { record, changes: written } = await this.writeTrigger(id, trigger, patch, 'modifyJob');
      this.emitModified(id, record, written);
      return new Job(this, record, trigger, this.pendingJobs.has(id));
    }
    const record = await this.updateRecord(id, patch);
    this.emitModified(id, record, Object.keys(patch));
    return new Job(this, record, this.viewTrigger(record), this.pendingJobs.has(id));
  }

  /** Emits `job:modified` for a change of `keys` that left the job as `record`. */
  private emitModified(id: string, record: JobRecord, keys: string[]): void {
    this.events.emit('job:modified', {
      jobId: id,
      name: record.name,
      changes: keys,
      nextRunTime: record.nextRunTime?.toISOString() ?? null,
    });
  }

  /**
   * Writes `trigger` with `patch` in one update: the next run time is the trigger's first from now (found
   * before the write: {@link firstFireTime} throws for a trigger that never fires, and nothing is written),
   * unless `patch` gives one or the job is paused (it stays paused). Written only over the version read
   * (compare-and-set: a pause by another process in between must not be left with a next run time); on a
   * conflict the job is read again, up to 5 times.
   * @returns the stored job and the names of the fields written.
   */
  private async writeTrigger(
    id: string,
    trigger: Trigger,
    patch: Partial<JobRecord>,
    operation: string,
  ): Promise<{ record: JobRecord; changes: string[] }> {
    const next = firstFireTime(trigger, new Date(this.now()));
    const json = freezeTrigger(trigger.toJSON());
    if (this.store.persistent) assertReadable(json);
    this.triggerByJson.set(json, trigger);
    for (let attempt = 1; ; attempt++) {
      const current =
        this.pendingJobs.get(id)?.record ?? (this.storeOpen(operation) ? await this.store.getJob(id) : null);
      if (!current) throw jobNotFound(id);
      // A paused job stays paused (APScheduler 3 resumes it): `resumeJob` computes its next fire time later.
      const full: Partial<JobRecord> = { ...patch, trigger: json };
      if (patch.nextRunTime === undefined && !current.paused) full.nextRunTime = next;
      try {
        const record = await this.updateRecord(
          id,
          full,
          this.pendingJobs.has(id) ? undefined : current.version,
        );
        return { record, changes: Object.keys(full) };
      } catch (err) {
        if (attempt >= 5 || !isTickworkError(err, 'JOB_VERSION_CONFLICT')) throw err;
      }
    }
  }

  /**
   * Replaces a job's trigger and recomputes its next fire time from now. Accepts a trigger object or the
   * shorthand `rescheduleJob(id, 'cron', { hour: '*\/2' })`. A paused job stays paused (unlike APScheduler 3,
   * where rescheduling resumes it): its next fire time is computed from the new trigger when it is resumed.
   * The change is written over the version of the job it read (a pause by another process in between is
   * kept; the job is read again, up to 5 times). To change other fields with the trigger in the same write,
   * give `trigger` to {@link Scheduler.modifyJob}.
   * @throws TickworkError `INVALID_TRIGGER`, `TRIGGER_NEVER_FIRES`; `JOB_VERSION_CONFLICT` when the job kept
   * changing; `INVALID_OPTION` (field `id`) for an id
   * that is not one `addJob` accepts; `INVALID_TIMEZONE` (field `timezone`) for a bad shorthand `timezone`;
   * rejects with `JOB_NOT_FOUND`.
   */
  async rescheduleJob(
    id: string,
    trigger: Trigger | string,
    triggerOptions: Record<string, unknown> = {},
  ): Promise<Job> {
    identifier(id, 'id');
    let t: Trigger;
    if (typeof trigger === 'string') {
      const o = { ...triggerOptions };
      timeZoneType(o.timezone, 'timezone');
      if (o.timezone === undefined && ZONED_KINDS.includes(trigger)) o.timezone = this.timezone;
      t = createTrigger(trigger, o);
    } else if (isTrigger(trigger)) t = trigger;
    else
      throw new TickworkError('INVALID_TRIGGER', `Expected a trigger, got ${show(trigger)}`, {
        field: 'trigger',
      });
    const { record, changes } = await this.writeTrigger(id, t, {}, 'rescheduleJob');
    this.emitModified(id, record, changes);
    return new Job(this, record, t, this.pendingJobs.has(id));
  }

  /**
   * Pauses a job: it is not fired until resumed. Rejects with `JOB_NOT_FOUND`.
   * @throws TickworkError `INVALID_OPTION` (field `id`) for an id that is not one `addJob` accepts (rejects).
   */
  async pauseJob(id: string): Promise<Job> {
    identifier(id, 'id');
    const record = await this.updateRecord(id, { paused: true, nextRunTime: null });
    this.events.emit('job:paused', { jobId: id, name: record.name });
    this.logger.info({ jobId: id }, `Paused job "${record.name}"`);
    return new Job(this, record, this.viewTrigger(record), this.pendingJobs.has(id));
  }

  /**
   * Resumes a paused job from now: fire times that passed while it was paused are not owed (APScheduler).
   * The next fire time is the trigger's first at or after now: on the grid of a cron trigger, or of an interval
   * trigger with a `startDate`; an interval trigger without `startDate` has no fixed grid (unlike APScheduler's,
   * which takes "now" as its start when created) and fires one interval after the resume. A job whose
   * trigger has no fire time left is removed, and `null` returned. The next fire time is written over the
   * version of the job it was computed from (a trigger changed by another process in between is read again,
   * up to 5 times). Rejects with `JOB_NOT_FOUND`, or `JOB_VERSION_CONFLICT` when the job kept changing.
   * @throws TickworkError `INVALID_OPTION` (field `id`) for an id that is not one `addJob` accepts (rejects).
   */
  async resumeJob(id: string): Promise<Job | null> {
    identifier(id, 'id');
    // The next run time is computed from the trigger read, so it is written only over the version read
    // (another process may change the trigger in between); on a conflict the job is read again, up to 5 times.
    for (let attempt = 1; ; attempt++) {
      const current =
        this.pendingJobs.get(id)?.record ??
        (this.storeOpen('resumeJob') ? await this.store.getJob(id) : null);
      if (!current) throw jobNotFound(id);
      // A row that cannot be read cannot be resumed: it must be repaired or re-added first.
      if (isInvalidTrigger(current.trigger)) throw unreadableJob(current);
      const trigger = this.triggerFor(current);
      const now = new Date(this.now());
      let next = nextFireTime(trigger, null, now);
      // A date trigger (or an `or` with one) answers its date even when it has passed: step past the fire
      // times before now, which are not owed (a date job whose date passed while paused has none left).
      for (let i = 0; next !== null && next.getTime() < now.getTime() && i < 10_000; i++)
        next = nextFireTime(trigger, next, now);
      if (next === null) {
        // Removed only while it is the version read: another process may have given it a trigger that fires.
        try {
          await this.removeVersion(id, this.pendingJobs.has(id) ? undefined : current.version);
        } catch (err) {
          if (attempt < 5 && isTickworkError(err, 'JOB_VERSION_CONFLICT')) continue;
          throw err;
        }
        return null;
      }
      let record: JobRecord;
      try {
        record = await this.updateRecord(
          id,
          { paused: false, nextRunTime: next },
          this.pendingJobs.has(id) ? undefined : current.version,
        );
      } catch (err) {
        if (attempt < 5 && isTickworkError(err, 'JOB_VERSION_CONFLICT')) continue;
        throw err;
      }
      this.events.emit('job:resumed', { jobId: id, name: record.name, nextRunTime: next.toISOString() });
      this.logger.info({ jobId: id }, `Resumed job "${record.name}"`);
      return new Job(this, record, trigger, this.pendingJobs.has(id));
    }
  }

  /**
   * Removes a job; pending runs are cancelled, running ones finish. Rejects with `JOB_NOT_FOUND`.
   * @throws TickworkError `INVALID_OPTION` (field `id`) for an id that is not one `addJob` accepts (rejects).
   */
  async removeJob(id: string): Promise<void> {
    identifier(id, 'id');
    await this.removeVersion(id, undefined);
  }

  /** {@link removeJob}, of the stored job only while its version is `expectedVersion` (when given). */
  private async removeVersion(id: string, expectedVersion: number | undefined): Promise<void> {
    const pending = this.pendingJobs.get(id);
    let record: JobRecord | null = pending?.record ?? null;
    if (pending) this.pendingJobs.delete(id);
    else if (this.storeOpen('removeJob')) record = await this.store.removeJob(id, expectedVersion);
    if (!record) throw jobNotFound(id);
    this.forgetJob(id);
    this.events.emit('job:removed', { jobId: id, name: record.name });
    this.logger.info({ jobId: id }, `Removed job "${record.name}"`);
  }

  /**
   * Removes every job (pending runs are cancelled, running ones finish). Resolves to how many were removed.
   * Emits `job:removed` for each job it read just before removing them (a job another process adds in
   * between is removed without one) and logs one line.
   */
  async removeAllJobs(): Promise<number> {
    const open = this.storeOpen('removeAllJobs');
    const removed = [...this.pendingJobs.values()].map((p) => p.record);
    this.pendingJobs.clear();
    let n = removed.length;
    if (open) {
      const stored = await this.store.getJobs();
      n += await this.store.removeAllJobs();
      removed.push(...stored);
    }
    this.triggerCache.clear();
    this.missingTaskReported.clear();
    for (const job of removed) this.events.emit('job:removed', { jobId: job.id, name: job.name });
    this.logger.info({ removed: n }, `Removed all jobs (${n})`);
    return n;
  }

  /**
   * Runs a job now, outside its schedule; the run counts against `maxInstances` (when that many are going,
   * a `skipped` run is recorded and `job:max-instances` emitted). Resolves to the run record.
   * @throws TickworkError `INVALID_OPTION` (field `id`) for an id that is not one `addJob` accepts;
   * `SCHEDULER_NOT_RUNNING`; rejects with `JOB_NOT_FOUND`.
   */
  async runJob(id: string): Promise<RunRecord> {
    identifier(id, 'id');
    this.assertRunning('runJob');
    const stored = await this.store.getJob(id);
    if (stored && isInvalidTrigger(stored.trigger)) throw unreadableJob(stored);
    const run = await this.store.createManualRun(id, new Date(this.clock.now()));
    if (run.status === 'skipped') {
      if (stored) this.reportMaxInstances(stored, run.scheduledFireTime);
    } else {
      this.wakeSoon();
    }
    return run;
  }

  /**
   * Runs matching `filter`, newest scheduled fire time first.
   * @throws TickworkError (as a rejection) `INVALID_OPTION` naming the field for a `filter` that is not
   * an object, a `jobId` that is not an id, a `status` that is not a run status (or an array of them), a
   * `from` or `to` that is not a valid `Date`, a `limit` or `offset` that is not an integer >= 0;
   * `SCHEDULER_NOT_RUNNING`.
   */
  async getRuns(filter: RunFilter = {}): Promise<RunRecord[]> {
    filter = runFilter(filter, 'filter');
    this.assertRunning('getRuns');
    return this.store.getRuns(filter);
  }

  /**
   * One run, or `null`.
   * @throws TickworkError (as a rejection) `INVALID_OPTION` (field `id`) for an id that is not a string
   * of printable characters (see `identifier`); `SCHEDULER_NOT_RUNNING`.
   */
  async getRun(id: string): Promise<RunRecord | null> {
    identifier(id, 'id');
    this.assertRunning('getRun');
    return this.store.getRun(id);
  }

  /** Runs executing in this process now. */
  getRunningRuns(): RunRecord[] {
    return [...this.inFlight.values()].map((r) => r.run);
  }

  private async updateRecord(
    id: string,
    patch: Partial<JobRecord>,
    expectedVersion?: number,
  ): Promise<JobRecord> {
    const pending = this.pendingJobs.get(id);
    if (pending) {
      pending.record = { ...pending.record, ...patch, updatedAt: new Date(this.clock.now()) };
      if (patch.trigger) pending.trigger = this.triggerFor(pending.record);
      if (patch.nextRunTime !== undefined) pending.explicitNextRunTime = true;
      return pending.record;
    }
    // Before the first start() the queued jobs are all there is (as for getJob and removeJob).
    if (!this.storeOpen('modifying a job')) throw jobNotFound(id);
    this.assertRunning('modifying a job');
    const record = await this.store.updateJob(id, { ...patch }, expectedVersion);
    this.wakeSoon();
    return record;
  }

  // ------------------------------------------------------------------ lifecycle

  /**
   * Starts the store and the loop; adds the jobs added before start. With `paused: true` nothing fires
   * until {@link Scheduler.resume}.
   * @throws TickworkError `SCHEDULER_ALREADY_RUNNING`; rejects with the store's errors or `JOB_CONFLICT`.
   */
  async start(options: { paused?: boolean } = {}): Promise<void> {
    const opts = optionsObject(options, 'options');
    rejectUnknownKeys(opts, ['paused']);
    if (opts.paused !== undefined) boolean(opts.paused, 'paused');
    // A shutdown() in progress ends first: then this starts again.
    if (this._state === 'stopping' && this.stopping) await this.stopping.catch(() => {});
    if (this._state !== 'stopped') {
      throw new TickworkError('SCHEDULER_ALREADY_RUNNING', `The scheduler is ${this._state} already`);
    }
    // A shutdown() called before this resolves waits for it (the store must be open to be closed).
    const starting = this.open(options);
    this.starting = starting;
    try {
      await starting;
    } finally {
      if (this.starting === starting) this.starting = null;
    }
  }

  /** The body of {@link Scheduler.start}; sets the state before its first await. */
  private async open(options: { paused?: boolean }): Promise<void> {
    this.reapFirst = true;
    this.shutDown = false;
    this._state = options.paused ? 'paused' : 'running';
    this.opening = true;
    this.lastPassAt = null;
    this.reapHoldUntil = 0;
    try {
      await this.store.start({
        nodeId: this.nodeId,
        now: () => this.clock.now(),
        warn: (message) => this.logger.warn({ store: this.store.kind }, message),
      });
      await this.syncClock();
      this.startedAt = this.now();
      await this.reportNode(true);
      const now = new Date(this.now());
      const pendings = [...this.pendingJobs.values()];
      const stored = await this.storedForReplace(pendings);
      for (const pending of pendings) {
        const record = { ...pending.record };
        if (!pending.explicitNextRunTime && !record.paused)
          record.nextRunTime = firstFireTime(pending.trigger, now);
        const found = stored.get(record.id);
        // Every boot re-adds the same jobs: those found unchanged take no round trip of their own.
        if (found && unchangedByReplace(found, record)) {
          this.pendingJobs.delete(record.id);
          this.announceAdded(found, pending.trigger, 'unchanged');
        } else {
          try {
            await this.storeJob(record, pending.trigger, pending.conflict);
          } catch (err) {
            // A refusal (JOB_CONFLICT) is final; a store failure leaves the job queued for the next start().
            if (isTickworkError(err, 'JOB_CONFLICT')) this.pendingJobs.delete(record.id);
            throw err;
          }
          this.pendingJobs.delete(record.id);
        }
      }
    } catch (err) {
      this._state = 'stopped';
      // Close what start() opened (a pool would keep the process alive); the queued jobs that were not
      // stored stay queued for the next start().
      await this.store.stop().catch(() => {});
      throw err;
    } finally {
      this.opening = false;
    }
    this.unsubscribe = this.store.subscribe((change) => {
      if (change.kind === 'job-removed' && change.jobId !== undefined) this.forgetJob(change.jobId);
      this.wakeSoon();
    });
    // A step of the wall clock forward makes fire times due that the armed timer (elapsed time) would only
    // reach at the next wake-up: the loop looks now. (A step back is noticed by the pass it wakes.)
    try {
      const unlisten: unknown = this.clock.onStep?.(() => this.wakeSoon());
      if (typeof unlisten === 'function') this.unlistenSteps = unlisten as () => void;
      else if (this.clock.onStep) {
        // (A step reported after the shutdown finds the scheduler not running: the listener does nothing.)
        this.logger.warn(
          `The clock's onStep returned ${unlisten === null ? 'null' : typeof unlisten}, not a function that ` +
            'removes the listener: it stays registered after shutdown',
        );
      }
    } catch (err) {
      // A custom clock's failure to listen costs only the early wake-up: steps are seen at the next one.
      this.logger.warn({ err }, 'The clock refused a listener for wall-clock steps (onStep)');
    }
    this.events.emit('scheduler:started', { nodeId: this.nodeId, store: this.store.kind });
    this.logger.info({ nodeId: this.nodeId }, 'Scheduler started');
    if (this._state === 'running') this.wakeup();
  }

  /**
   * Stops firing (running runs go on) until {@link Scheduler.resume}. A no-op while paused already.
   * @throws TickworkError `SCHEDULER_NOT_RUNNING` before `start()` and after `shutdown()`.
   */
  pause(): void {
    this.assertRunning('pause');
    if (this._state !== 'running') return;
    this._state = 'paused';
    this.clearTimer();
    // Runs fired ahead were decided before the pause: they still start at their fire times.
    if (this.firedAheadUntil > this.now()) void this.startFiredAhead();
    this.events.emit('scheduler:paused', { nodeId: this.nodeId });
    this.logger.info('Paused scheduler job processing');
  }

  /**
   * Resumes firing; fire times that passed meanwhile get the misfire rules. A no-op unless paused.
   * @throws TickworkError `SCHEDULER_NOT_RUNNING` before `start()` and after `shutdown()`.
   */
  resume(): void {
    this.assertRunning('resume');
    if (this._state !== 'paused') return;
    this._state = 'running';
    this.events.emit('scheduler:resumed', { nodeId: this.nodeId });
    this.logger.info('Resumed scheduler job processing');
    this.wakeup();
  }

  /**
   * Stops firing, waits for running runs (bounded by `timeout`), aborts the rest (recorded `cancelled`, or
   * retried by another process as {@link ShutdownOptions.timeout} says), and stops the store. Pending runs
   * stay pending in a persistent store for another process. Idempotent.
   */
  async shutdown(options: ShutdownOptions = {}): Promise<void> {
    const opts = optionsObject(options, 'options');
    rejectUnknownKeys(opts, ['wait', 'timeout']);
    const wait = options.wait === undefined ? true : boolean(options.wait, 'wait');
    const timeout = options.timeout === undefined ? 30_000 : duration(options.timeout, 'timeout');
    // A start() still opening the store finishes first (if it fails, there is nothing to shut down).
    if (this.starting) await this.starting.catch(() => {});
    if (this._state === 'stopping') return this.stopping ?? undefined;
    if (this._state === 'stopped') {
      // Never started (or stopped already): shut down all the same, so addJob refuses from now on.
      this.shutDown = true;
      return;
    }
    this._state = 'stopping';
    this.stopping = this.stop(wait, timeout);
    try {
      await this.stopping;
    } finally {
      this.stopping = null;
    }
  }

  private async stop(wait: boolean, timeout: number): Promise<void> {
    this.clearTimer();
    this.unsubscribe?.();
    this.unsubscribe = null;
    try {
      this.unlistenSteps?.();
    } catch (err) {
      // A custom clock's failure to remove its listener must not stop the shutdown halfway (the store open,
      // the state `stopping` for good): a step reported later finds the scheduler not running.
      this.logger.warn({ err }, 'The clock failed to remove the listener for wall-clock steps (onStep)');
    }
    this.unlistenSteps = null;
    // A wake-up on its way may still lease runs and start them: let it finish first, so the runs it starts
    // are waited for (or cancelled) like the others, never left running with their outcome unrecorded.
    await this.wakeFinished();
    // Heartbeats go on while running jobs are waited for: a shutdown that waits longer than the lease must
    // not let another process reap the runs as abandoned and start them again.
    if (this.inFlight.size + this.recording.size > 0 && !this.heartbeatTimer) this.scheduleHeartbeat();
    if (wait && this.inFlight.size > 0) {
      this.logger.info({ running: this.inFlight.size }, 'Waiting for running jobs to finish');
      const all = Promise.allSettled([...this.inFlight.values()].map((r) => r.done));
      let timer: TimerHandle | null = null;
      const expired = new Promise<void>((resolve) => {
        timer = this.timers.setTimeout(resolve, timeout);
      });
      await Promise.race([all, expired]);
      if (timer) this.timers.clearTimeout(timer);
    }
    const aborted = this.inFlight.size;
    if (aborted > 0) {
      this.logger.warn({ aborted }, `Aborting ${aborted} running job(s) at shutdown`);
      const reason = new TickworkError('SHUTDOWN_TIMEOUT', 'The scheduler shut down before the run finished');
      await Promise.allSettled(
        [...this.inFlight.values()].map((r) =>
          this.settle(
            r,
            { status: 'cancelled', error: errorToJSON(reason), retryAt: this.retryAt(r.run, r.job) },
            reason,
          ),
        ),
      );
    }
    // Runs that ended (or were aborted above) and whose outcomes are on their way to the store, waiting for
    // a group being recorded: recorded before the store closes, or a run would stay `running` in the store
    // until another process reaped it as abandoned (and ran it again, with a retry policy).
    if (this.recording.size > 0) await Promise.allSettled([...this.recording.values()].map((r) => r.done));
    if (this.unrecorded.size > 0) await this.recordPending();
    if (this.heartbeatTimer) this.timers.clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = null;
    // Let a wake-up or heartbeat on its way finish its store call before the store closes.
    await this.wakeFinished();
    if (this.heartbeating) await this.heartbeating;
    try {
      await this.store.unregisterNode?.(this.nodeId);
    } catch {
      // observability only
    }
    this.lastNodeReport = -Infinity;
    await this.store.stop();
    this._state = 'stopped';
    this.shutDown = true;
    this.events.emit('scheduler:shutdown', { nodeId: this.nodeId, aborted });
    this.logger.info('Scheduler has been shut down');
  }

  /** Resolves once no wake-up of the loop is in progress (a stopping scheduler starts no new one). */
  private async wakeFinished(): Promise<void> {
    while (this.wakeInProgress) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** Whether the logger writes `level` (pino's `isLevelEnabled`; true for loggers without it). */
  private logs(level: 'debug' | 'info'): boolean {
    return this.logger.isLevelEnabled ? this.logger.isLevelEnabled(level) : true;
  }

  /**
   * Whether the store can be asked: while started. Before the first `start()` the caller answers from the
   * queued jobs alone (`false`); after `shutdown()` it throws, as the stored jobs can no longer be read.
   * @throws TickworkError `SCHEDULER_NOT_RUNNING` after `shutdown()`.
   */
  private storeOpen(what: string): boolean {
    // While shutdown() waits for running jobs the store is still open (it is closed last).
    if (this.running || this._state === 'stopping') return true;
    if (this.shutDown) this.assertRunning(what);
    return false;
  }

  private assertRunning(what: string): void {
    if (!this.running) {
      throw new TickworkError(
        'SCHEDULER_NOT_RUNNING',
        `${what} needs a started scheduler; call start() first`,
      );
    }
  }

  // ------------------------------------------------------------------ the loop

  /** Asks for a wake-up as soon as possible (a job changed, a slot freed). */
  private wakeSoon(): void {
    if (this._state === 'running') this.wakeup();
  }

  /**
   * A step of the wall clock back (NTP, a manual change) is undone in the bookkeeping that counts time since
   * something by this process's clock: without it, reaping would wait for the clock to make up the step (a
   * run whose holder died would hold its job's `maxInstances` slot that long), a hold on reaping after an
   * earlier step forward would last the step longer, and the clock offset against a store with a clock of
   * its own would not be measured again before then (fire times, retries and misfire checks computed an
   * hour off). A step forward needs none of this: it only makes those intervals look longer.
   */
  private noticeStepBack(): void {
    const local = this.clock.now();
    const back = this.lastLocal - local;
    this.lastLocal = local;
    if (!(back > 0)) return;
    this.lastReap -= back;
    this.lastRenewal -= back;
    for (const r of this.inFlight.values()) r.renewedAt -= back;
    if (this.lastPassAt !== null) this.lastPassAt -= back;
    if (this.reapHoldUntil > 0) this.reapHoldUntil -= back;
    this.firedAheadUntil -= back;
    // Measured again in this pass (a step of a millisecond or two is rounding, not worth a round trip).
    if (back > 1000) this.lastNodeReport = -Infinity;
  }

  /**
   * Drops what this process keeps about a job that was removed (its trigger object, whether its missing task
   * was reported): one-shot jobs come and go, and these maps must not grow with every job ever fired.
   */
  private forgetJob(id: string): void {
    this.triggerCache.delete(id);
    this.missingTaskReported.delete(id);
  }

  private clearTimer(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /**
   * The largest claim of a pass starting at `now` (local ms): `batchSize`, or the ceiling a failed claim left
   * (see {@link fireCeiling}), doubled for each {@link FIRE_CEILING_PERIOD} gone by since it was set.
   */
  private claimCeiling(now: number): number {
    const c = this.fireCeiling;
    if (c === null) return this.batchSize;
    // (A step of the wall clock back: the period starts again from now.)
    if (now < c.at) c.at = now;
    const periods = Math.floor((now - c.at) / FIRE_CEILING_PERIOD);
    if (periods > 0) {
      const size = c.size * 2 ** Math.min(periods, 30);
      if (size >= this.batchSize) {
        this.fireCeiling = null;
        return this.batchSize;
      }
      this.fireCeiling = { size, at: c.at + periods * FIRE_CEILING_PERIOD };
    }
    return Math.min(this.batchSize, this.fireCeiling!.size);
  }

  /**
   * One pass of the loop. Reaches `store.fireDueJobs` without awaiting anything first, so that timers due at
   * the same instant (a run's end and a fire time) are seen in a fixed order under a manual clock.
   */
  private wakeup(): void {
    // Not while start() is opening (a resume() included): a start that then fails must not have fired or
    // run anything; open() wakes the loop once it has succeeded.
    if (this.opening) return;
    if (this.wakeInProgress) {
      this.wakeAgain = true;
      return;
    }
    this.wakeInProgress = true;
    this.clearTimer();
    void this.process().finally(() => {
      this.wakeInProgress = false;
      if (this.wakeAgain && this._state === 'running') {
        this.wakeAgain = false;
        this.wakeup();
      }
    });
  }

  private async process(): Promise<void> {
    this.noticeStepBack();
    let next: number | null = null;
    /** The time this pass began: what was due then and could not be started waits (below). */
    const passStart = this.now();
    // The loop wakes at least every maxWakeInterval: a longer gap by the wall clock means the clock stepped
    // forward (or this process was stopped). Every process on the store sees a step at once, and leases
    // are judged by the wall clock: their holders renew them at their next pass, so reaping waits until
    // then rather than taking runs that are still going elsewhere.
    if (
      this.lastPassAt !== null &&
      passStart - this.lastPassAt > this.maxWakeInterval + this.heartbeatInterval
    ) {
      // (at least a lease: the holders may wake and renew less often than this process)
      this.reapHoldUntil =
        passStart + Math.max(this.maxWakeInterval + this.heartbeatInterval, this.leaseDuration);
    }
    this.lastPassAt = passStart;
    /** Jobs fired plus runs started in this pass. */
    let progress = 0;
    // Slow start: the first batch of a wake-up is small and each next one twice as large (up to `batchSize`,
    // or the ceiling a failed claim left), so the first due runs start after a few jobs were fired, not after
    // a whole batch.
    const ceiling = this.claimCeiling(this.clock.now());
    let limit = Math.min(ceiling, FIRST_FIRE_BATCH);
    /** The size of the claim being made, while a claim is on its way; claims of this pass that succeeded. */
    let claiming: number | null = null;
    let claimed = 0;
    try {
      // The first pass after start reaps before it fires: runs whose lease ran out while no process was
      // running (this one died) must not count against their job's maxInstances when the owed fire time
      // fires. Later passes reap after starting runs, so a slow store cannot hold up firing.
      if (this.reapFirst) {
        this.reapFirst = false;
        await this.reap();
      }
      this.deferredAhead = false;
      for (;;) {
        if (this._state !== 'running') return;
        const t = this.now();
        const ahead = this.fireAhead > 0 && !this.deferredAhead;
        if (ahead) this.firedAheadUntil = Math.max(this.firedAheadUntil, t + this.fireAhead);
        claiming = limit;
        const result = await this.store.fireDueJobs(
          new Date(t),
          limit,
          this.planner,
          ahead ? new Date(t + this.fireAhead) : undefined,
        );
        this.anchor = { store: result.now.getTime(), local: this.clock.now() };
        if (result.error === undefined) {
          claiming = null;
          claimed++;
        }
        for (const fired of result.fired) {
          this.reportFired(fired, result.now);
          // A job left for its fire time (firing ahead, no free slot) is no progress: no spinning on it.
          if (fired.plan.runs.length > 0 || fired.plan.nextRunTime !== fired.job.nextRunTime) progress++;
        }
        if (result.error !== undefined) {
          // Part of the claim failed and the rest was committed (reported above): start the committed runs,
          // then back off as from any store failure (a failure that recurs must not be retried in a loop).
          await this.acquire();
          throw result.error;
        }
        if (!result.more) break;
        // Start this batch's runs before firing the next batch, so a burst of due jobs starts sooner.
        progress += await this.acquire();
        limit = Math.min(ceiling, limit * 2);
      }
      if (this.unrecorded.size > 0) await this.recordPending();
      progress += await this.acquire();
      await this.reap();
      await this.reportNode();
      // Pending runs of tasks this process does not define are left to the processes that do.
      const wake = await this.store.getNextWakeTime((this.taskIdList ??= [...this.tasks.keys()]));
      // An Invalid Date (a store's time that is none) is no wake time: the loop sleeps its longest rather
      // than spin on it.
      next = wake && Number.isFinite(wake.getTime()) ? wake.getTime() : null;
      this.failures = 0;
      this.lastStoreError = null;
    } catch (err) {
      if (claiming !== null && claimed > 0 && claiming >= FIRE_CEILING_FROM) {
        // Smaller claims of this wake-up succeeded and this larger one failed: for a while, claim at most half.
        const size = Math.floor(claiming / 2);
        this.fireCeiling = { size, at: this.clock.now() };
        this.logger.warn(
          { claim: claiming, ceiling: size },
          `A claim of ${claiming} jobs failed after smaller ones succeeded; claims are at most ${size} jobs ` +
            `for ${FIRE_CEILING_PERIOD / 1000} s, then twice as many again each ${FIRE_CEILING_PERIOD / 1000} s without a failure`,
        );
      }
      this.failures++;
      this.lastStoreError ??= {
        message: errorToJSON(err).message,
        since: new Date(this.clock.now()).toISOString(),
      };
      const backoff = Math.min(this.maxWakeInterval, 500 * 2 ** Math.min(this.failures, 10));
      this.logger.error(
        { err, retryIn: backoff },
        `Job store "${this.store.kind}" failed; retrying in ${backoff} ms`,
      );
      this.events.emit('scheduler:error', { message: 'store failure', error: errorToJSON(err) });
      next = this.now() + backoff;
      this.anchor = null;
    }
    if (this._state !== 'running') return;
    // `next` is in the store's time frame. A store with a clock of its own told us its time at the last claim
    // (`FireResult.now`): advance that by the local time elapsed since its answer arrived, which can only
    // underestimate the store's time (never wake early, never spin) and ignores steps of the wall clock.
    // Otherwise the measured offset (0 for stores on our clock) converts.
    const now =
      this.anchor !== null && this.store.measureClockOffset
        ? this.anchor.store + (this.clock.now() - this.anchor.local)
        : this.now();
    // A shared store: nodes that are idle do not all poll at the same instant (a small jitter on the cap).
    const cap = this.store.persistent
      ? this.maxWakeInterval - Math.floor(this.random() * Math.min(500, this.maxWakeInterval / 10))
      : this.maxWakeInterval;
    // A fire time is fired `fireAhead` ms early (its runs still start at it): wake then, unless that is past
    // (what is due next is a run already fired, or the fire time is that close).
    const target = next !== null && next - this.fireAhead > now ? next - this.fireAhead : next;
    let delay = target === null ? cap : Math.min(Math.max(0, target - now), cap);
    // Something is due that this process cannot start (no free slot: a finishing run wakes us then; pending
    // runs of tasks defined elsewhere are not in `next`): do not spin on it; look again in a second.
    // (Something that came due during this pass is looked at again at once.)
    if (next !== null && next <= passStart && progress === 0) delay = Math.max(delay, Math.min(1000, cap));
    this.clearTimer();
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = null;
        this.wakeup();
      },
      delay,
      { precise: next !== null && next - now <= this.maxWakeInterval },
    );
  }

  /**
   * The planner the store calls inside its atomic firing step. It never throws: a job whose plan cannot be
   * made (its trigger throws, or answers a date outside the `Date` range) is quarantined, so one bad row can
   * never stop the batch, nor the other jobs.
   */
  private readonly planner = (job: JobRecord, context: FireContext): FirePlan => {
    let plan: FirePlan;
    try {
      plan = this.planJob(job, context);
    } catch (err) {
      return {
        runs: [],
        nextRunTime: null,
        remove: false,
        quarantine: `its plan failed: ${errorToJSON(err).message}`,
      };
    }
    let bad = isBadDate(plan.nextRunTime);
    for (const r of plan.runs) bad ||= isBadDate(r.scheduledFireTime) || isBadDate(r.notBefore);
    if (bad) {
      return {
        runs: [],
        nextRunTime: null,
        remove: false,
        quarantine: 'its trigger gave a time outside the Date range',
      };
    }
    return plan;
  };

  /**
   * APScheduler 3's `_process_jobs` for one claimed job. Fire times up to `context.horizon` (fired ahead) are
   * enumerated; lateness is measured from `context.now`.
   */
  private planJob(job: JobRecord, context: FireContext): FirePlan {
    const now = context.now;
    const realNow = now.getTime();
    /** Fire times up to this are fired now: later than `realNow` only when firing ahead. */
    const horizon = context.horizon ? Math.max(realNow, context.horizon.getTime()) : realNow;
    let trigger: Trigger;
    try {
      trigger = this.triggerFor(job);
    } catch (err) {
      return {
        runs: [],
        nextRunTime: null,
        remove: false,
        quarantine: isInvalidTrigger(job.trigger)
          ? (err as Error).message
          : `trigger cannot be read: ${(err as Error).message}`,
      };
    }
    let t: Date | null = job.nextRunTime;
    // The common case, one fire time due and no coalescing to do: no arrays to build.
    if (t !== null && t.getTime() <= realNow) {
      const next = nextFireTime(trigger, t, now);
      if (next === null || next.getTime() > horizon) {
        const fireTime = t;
        const lateBy = realNow - fireTime.getTime();
        let run: PlannedRun;
        if (job.misfireGraceTime !== null && lateBy > job.misfireGraceTime) {
          run = { scheduledFireTime: fireTime, status: 'missed', notBefore: fireTime };
        } else if (context.activeRuns >= job.maxInstances) {
          run = { scheduledFireTime: fireTime, status: 'skipped', notBefore: fireTime };
        } else {
          run = this.pendingRun(fireTime, job.jitter ?? trigger.jitter ?? 0);
        }
        return { runs: [run], nextRunTime: next, remove: next === null };
      }
    }
    const runTimes: Date[] = [];
    while (t !== null && t.getTime() <= realNow) {
      if (runTimes.length >= this.maxCatchUp) {
        // More fire times are due than we walk in one wake-up (a clock jump, a long outage): drop the ones in
        // between, keep the latest one owed (found by bisection, so a coalesced run carries the right fire
        // time) and resume after it. Walking on (a year of a 1 s job is 31 million fire times) would stall.
        const last: Date = t;
        const latest = latestFireTime(trigger, last, now);
        if (latest !== null) runTimes.push(latest);
        t = nextFireTime(trigger, latest ?? last, now);
        this.logger.warn(
          { jobId: job.id, from: last.toISOString(), resumeAt: t?.toISOString() ?? null },
          `More than ${this.maxCatchUp} fire times of job "${job.name}" were due at once; those from ` +
            `${last.toISOString()} on were dropped and the schedule resumes at ${t?.toISOString() ?? 'its end'}`,
        );
        break;
      }
      runTimes.push(t);
      t = nextFireTime(trigger, t, now);
    }
    const due = job.coalesce && runTimes.length > 1 ? runTimes.slice(-1) : runTimes;
    const runs: PlannedRun[] = [];
    let active = context.activeRuns;
    const jitter = job.jitter ?? trigger.jitter ?? 0;
    /** A fire time of this backlog took a slot: the later ones that find none wait behind it. */
    let admitted = false;
    for (const fireTime of due) {
      const lateBy = realNow - fireTime.getTime();
      if (job.misfireGraceTime !== null && lateBy > job.misfireGraceTime) {
        runs.push({ scheduledFireTime: fireTime, status: 'missed', notBefore: fireTime });
      } else if (active >= job.maxInstances) {
        // APScheduler 3 submits a backlog as one instance that runs its fire times one after another, and
        // skips all of them only when no instance is free: queued runs wait for the earlier ones to finish.
        runs.push(
          admitted
            ? { ...this.pendingRun(fireTime, jitter), queued: true }
            : { scheduledFireTime: fireTime, status: 'skipped', notBefore: fireTime },
        );
      } else {
        admitted = true;
        runs.push(this.pendingRun(fireTime, jitter));
        active++;
      }
    }
    // Firing ahead: the fire times up to the horizon that are sure to run, i.e. while a slot is free now (a
    // slot can only free up before the fire time; a run created meanwhile by runJob is checked at the start).
    // One that finds no slot is left for its fire time, when its decision is made as without firing ahead.
    let ahead = 0;
    while (t !== null && t.getTime() <= horizon && t.getTime() > realNow && ahead < this.maxCatchUp) {
      if (active >= job.maxInstances) {
        if (runs.length === 0) this.deferredAhead = true;
        break;
      }
      runs.push(this.pendingRun(t, jitter));
      active++;
      ahead++;
      t = nextFireTime(trigger, t, now);
    }
    return { runs, nextRunTime: t, remove: t === null };
  }

  /** A run to start at `fireTime`, delayed by a random jitter in [0, `jitter`) ms. */
  private pendingRun(fireTime: Date, jitter: number): PlannedRun {
    const delay = jitter > 0 ? Math.floor(this.random() * jitter) : 0;
    return {
      scheduledFireTime: fireTime,
      status: 'pending',
      notBefore: delay > 0 ? new Date(fireTime.getTime() + delay) : fireTime,
    };
  }

  /**
   * Events and log lines for a fired job. Missed and skipped fire times are reported from the runs the store
   * created: a planned run whose (job, fire time) existed already (fired before, e.g. ahead) is not reported.
   */
  private reportFired(fired: FiredJob, now: Date): void {
    const { job, plan } = fired;
    if (plan.quarantine !== undefined) {
      this.events.emit('job:quarantined', { jobId: job.id, name: job.name, reason: plan.quarantine });
      this.logger.error({ jobId: job.id }, `Job "${job.name}" was paused: ${plan.quarantine}`);
      return;
    }
    if (!this.tasks.has(job.taskId) && !this.missingTaskReported.has(job.id)) {
      this.missingTaskReported.add(job.id);
      this.events.emit('job:task-missing', { jobId: job.id, name: job.name, taskId: job.taskId });
      this.logger.warn(
        { jobId: job.id, taskId: job.taskId },
        `Job "${job.name}" runs task "${job.taskId}", which is not defined in this process; its runs wait for a ` +
          'process that defines it (call scheduler.defineTask)',
      );
    }
    // The common case (only pending runs planned) reads no run records.
    let created: RunRecord[] = [];
    for (const r of plan.runs) {
      if (r.status !== 'pending') {
        created = fired.runs;
        break;
      }
    }
    for (const run of created) {
      if (run.status === 'missed') {
        const after = { ...job, nextRunTime: plan.nextRunTime };
        const lateBy = now.getTime() - run.scheduledFireTime.getTime();
        this.events.emit('job:missed', {
          jobId: job.id,
          name: job.name,
          scheduledFireTime: run.scheduledFireTime.toISOString(),
          lateBy,
          misfireGraceTime: job.misfireGraceTime,
        });
        this.logger.warn(
          { jobId: job.id, scheduledFireTime: run.scheduledFireTime.toISOString(), lateBy },
          `Run time of job "${this.jobText(after)}" was missed by ${formatTimedelta(lateBy)}`,
        );
      } else if (run.status === 'skipped') {
        this.reportMaxInstances(job, run.scheduledFireTime);
      }
    }
    if (plan.remove) {
      this.forgetJob(job.id);
      this.events.emit('job:removed', { jobId: job.id, name: job.name });
      this.logger.info({ jobId: job.id }, `Removed job "${job.name}": its trigger has no more fire times`);
    }
  }

  /** `job` as it was when the fire time came due: its `nextRunTime` is the skipped fire time. */
  private reportMaxInstances(job: JobRecord, fireTime: Date): void {
    this.events.emit('job:max-instances', {
      jobId: job.id,
      name: job.name,
      scheduledFireTime: fireTime.toISOString(),
      maxInstances: job.maxInstances,
      running: job.maxInstances,
    });
    // A job whose task this process does not define: its runs wait (pending, counted) for a process that
    // does, which is the likelier reason than runs going on.
    const waiting = this.tasks.has(job.taskId)
      ? ''
      : ` (task "${job.taskId}" is not defined in this process: its runs wait for a process that defines it)`;
    this.logger.warn(
      { jobId: job.id, scheduledFireTime: fireTime.toISOString() },
      `Execution of job "${this.jobText(job)}" skipped: maximum number of running instances reached (${job.maxInstances})${waiting}`,
    );
  }

  private jobText(job: JobRecord): string {
    let trigger: string;
    try {
      // Not remembered: a run of a job removed meanwhile (a date job's last run) is logged after its removal.
      trigger = String(this.triggerFor(job, false));
    } catch {
      trigger = job.trigger.type;
    }
    return describeJob(job.name, trigger, job.nextRunTime, this.timezone);
  }

  /** Like {@link Scheduler.triggerFor}, but a trigger that cannot be read becomes an {@link InvalidTrigger}. */
  private viewTrigger(job: JobRecord): Trigger {
    try {
      return this.triggerFor(job);
    } catch (err) {
      return new InvalidTrigger(job.trigger, err instanceof Error ? err.message : String(err));
    }
  }

  /**
   * The trigger object of a stored job, cached per job while its trigger JSON is unchanged (with `remember`
   * false, a trigger not cached yet is made without being cached).
   */
  private triggerFor(job: JobRecord, remember = true): Trigger {
    const byRef = this.triggerByJson.get(job.trigger);
    if (byRef) return byRef;
    const key = stableStringify(job.trigger);
    const cached = this.triggerCache.get(job.id);
    if (cached && cached.key === key) return cached.trigger;
    if (isInvalidTrigger(job.trigger)) {
      // A store's placeholder for a row it could not decode: say which column and why.
      const { field, error } = job.trigger as { field?: unknown; error?: unknown };
      throw new TickworkError(
        'INVALID_TRIGGER',
        `the stored ${String(field)} cannot be read: ${String(error)}`,
        {
          field: String(field),
        },
      );
    }
    const trigger = triggerFromJSON(job.trigger);
    if (remember) this.triggerCache.set(job.id, { key, trigger });
    return trigger;
  }

  // ------------------------------------------------------------------ executor

  /**
   * While paused: starts the runs that were fired ahead before the pause, each at its fire time. Resuming
   * (the loop takes over) or stopping ends it.
   */
  private async startFiredAhead(): Promise<void> {
    try {
      if (this._state !== 'paused') return;
      await this.acquire(true);
      const now = this.now();
      if (this._state !== 'paused' || now >= this.firedAheadUntil) return;
      const wake = await this.store.getNextWakeTime((this.taskIdList ??= [...this.tasks.keys()]));
      // (A run due now that did not start has no free slot: it waits for resume(), as without firing ahead.)
      if (this._state !== 'paused' || wake === null || wake.getTime() > this.firedAheadUntil) return;
      if (wake.getTime() <= this.now()) return;
      this.clearTimer();
      this.timer = this.clock.setTimeout(
        () => {
          this.timer = null;
          return this.startFiredAhead();
        },
        Math.max(0, wake.getTime() - now),
        { precise: true },
      );
    } catch (err) {
      this.logger.error({ err }, 'Could not start runs fired ahead of a pause');
    }
  }

  /**
   * Leases and starts due pending runs, up to the free slots; resolves to how many started. With a store in
   * this process (a call costs no round trip), runs are leased in groups of 4, 8, 16, ... and each group is
   * started before the next is leased, so the first runs of many due at once start sooner.
   */
  private async acquire(whilePaused = false): Promise<number> {
    let started = 0;
    let group = this.store.persistent ? Infinity : FIRST_FIRE_BATCH;
    for (;;) {
      // Runs that ended and whose outcomes are on their way to the store count too once there are more of
      // them than `outcomeAllowance`: a store slower to record outcomes than tasks are to end must not
      // leave an ever longer queue of them (and of memory) behind while new runs keep starting.
      // (Those whose recording failed and is tried again count as well.)
      const free =
        this.maxConcurrentRuns -
        this.inFlight.size -
        Math.max(0, this.recording.size + this.unrecorded.size - this.outcomeAllowance);
      if (free <= 0 || !(this._state === 'running' || (whilePaused && this._state === 'paused'))) {
        this.backlog = free <= 0;
        return started;
      }
      const limit = Math.min(free, group);
      const acquired = await this.store.acquireRuns(
        this.nodeId,
        new Date(this.clock.now()),
        limit,
        this.leaseDuration,
        (this.taskIdList ??= [...this.tasks.keys()]),
      );
      for (const a of acquired) this.execute(a);
      started += acquired.length;
      if (acquired.length < limit || limit === free) {
        this.backlog = acquired.length >= free;
        return started;
      }
      group *= 2;
    }
  }

  private async reap(): Promise<void> {
    const now = this.clock.now();
    if (now - this.lastReap < this.heartbeatInterval) return;
    if (now < this.reapHoldUntil) {
      // After a step of the wall clock: this process's own leases are renewed now, the others' by their
      // holders at their next pass; reaping resumes after that.
      const renew =
        this.inFlight.size + this.recording.size > 0 && now - this.lastRenewal > this.heartbeatInterval;
      if (renew && !this.heartbeating) await this.heartbeat();
      return;
    }
    // Renew our own leases first when a renewal is overdue by the wall clock (it stepped forward, or the
    // process was stopped): otherwise we would abandon runs that are still going here. While a heartbeat is
    // on its way, reaping waits for a later pass: the loop never waits for a slow heartbeat.
    if (this.inFlight.size + this.recording.size > 0 && now - this.lastRenewal > this.heartbeatInterval) {
      if (this.heartbeating) return;
      this.lastReap = now;
      await this.heartbeat();
    }
    this.lastReap = now;
    // The retry decision is made inside the store's reaping step: a run is never left abandoned that its
    // policy would retry (a crash or store failure in between), nor stops counting against maxInstances.
    const seen = new Map<string, { name: string; owner: string | null }>();
    const reaped = await this.store.reapExpiredRuns(new Date(now), 100, (run, job) => {
      seen.set(run.id, { name: job?.name ?? run.jobId, owner: run.owner });
      const retry = job?.retry ?? null;
      if (retry === null || run.attempt >= retry.attempts) return null;
      try {
        return new Date(this.now() + retryDelay(retry, run.attempt, this.random));
      } catch {
        return null;
      }
    });
    for (const run of reaped) {
      const willRetry = run.status === 'pending';
      const name = seen.get(run.id)?.name ?? run.jobId;
      const owner = seen.get(run.id)?.owner ?? run.owner;
      this.events.emit('job:abandoned', {
        jobId: run.jobId,
        name,
        runId: run.id,
        scheduledFireTime: run.scheduledFireTime.toISOString(),
        attempt: run.attempt,
        owner,
        willRetry,
      });
      this.logger.warn(
        { runId: run.id, jobId: run.jobId, owner, attempt: run.attempt, willRetry },
        `Run ${run.id} of job "${name}" was abandoned: the lease of ${owner ?? 'its process'} ` +
          `expired${willRetry ? '; it will be retried' : ''}`,
      );
    }
  }

  private execute({ run, job }: AcquiredRun): void {
    // A run fired ahead runs the job as it is at the fire time (a replace in the window applies to it).
    const task = this.tasks.get(job !== null && firedAhead(run) ? job.taskId : run.taskId);
    const entry: RunningRun = {
      run,
      job,
      controller: null,
      done: Promise.resolve(),
      settled: false,
      timeoutTimer: null,
      renewedAt: this.clock.now(),
      leaseLost: false,
    };
    this.inFlight.set(run.id, entry);
    this.runningByJob.set(run.jobId, (this.runningByJob.get(run.jobId) ?? 0) + 1);
    if (this.inFlight.size === 1) this.lastRenewal = entry.renewedAt;
    if (!this.heartbeatTimer) this.scheduleHeartbeat();
    entry.done = this.executeRun(entry, task).catch((err: unknown) => {
      this.logger.error({ err, runId: run.id }, 'Unexpected error while recording a run');
    });
  }

  /** Removes a run from {@link inFlight} (once). */
  private leaveInFlight(entry: RunningRun): void {
    if (!this.inFlight.delete(entry.run.id)) return;
    const n = (this.runningByJob.get(entry.run.jobId) ?? 1) - 1;
    if (n > 0) this.runningByJob.set(entry.run.jobId, n);
    else this.runningByJob.delete(entry.run.jobId);
  }

  private async executeRun(entry: RunningRun, task: TaskDefinition | undefined): Promise<void> {
    const { run, job } = entry;
    const name = job?.name ?? run.jobId;
    const startedAt = this.clock.now();
    if (run.error?.name === 'UnreadableRun') {
      // A time of the run's row cannot be read (written by hand): its fire time (the idempotency key) and
      // not-before are stand-ins, so the task is not called with them.
      await this.settle(entry, {
        status: 'cancelled',
        error: {
          name: 'TickworkError',
          message: `Run ${run.id} of job "${run.jobId}" cannot be read (${run.error.message}); it was not started`,
          code: 'RUN_UNREADABLE',
        },
      });
      return;
    }
    // A run fired ahead (created before its fire time; only with fireAhead, memory store: one process) was
    // fired with a free slot; a run started since (runJob) may have taken it: checked again now, at the fire
    // time. (This run is in flight already: hence the 1.)
    if (
      job &&
      run.attempt === 1 &&
      firedAhead(run) &&
      (this.runningByJob.get(run.jobId) ?? 0) - 1 >= job.maxInstances
    ) {
      await this.settle(entry, { status: 'skipped' });
      this.reportMaxInstances({ ...job, nextRunTime: run.scheduledFireTime }, run.scheduledFireTime);
      return;
    }
    // Misfire check at start (APScheduler checks in the executor): a run that waited for a free slot too long.
    if (job && job.misfireGraceTime !== null && !run.manual && run.attempt === 1) {
      const lateBy = this.now() - run.notBefore.getTime();
      if (lateBy > job.misfireGraceTime) {
        await this.settle(entry, { status: 'missed' });
        this.events.emit('job:missed', {
          jobId: run.jobId,
          name,
          scheduledFireTime: run.scheduledFireTime.toISOString(),
          lateBy,
          misfireGraceTime: job.misfireGraceTime,
        });
        this.logger.warn(
          { jobId: run.jobId },
          `Run time of job "${this.jobText(job)}" was missed by ${formatTimedelta(lateBy)}`,
        );
        return;
      }
    }
    if (!job) {
      // The job was removed after this run was created (a retry of a removed job): nothing to run it with.
      await this.settle(entry, {
        status: 'cancelled',
        error: { name: 'TickworkError', message: `Job "${run.jobId}" was removed`, code: 'JOB_NOT_FOUND' },
      });
      return;
    }
    if (isInvalidTrigger(job.trigger)) {
      // The job's row cannot be read: its args, timeout and retry policy are stand-ins, so the task is not
      // called with them (firing quarantines the job; a repair or a re-add brings it back).
      const err = unreadableJob(job);
      await this.settle(entry, {
        status: 'cancelled',
        error: { name: 'TickworkError', message: err.message, code: err.code },
      });
      return;
    }
    if (!task) {
      await this.settle(entry, {
        status: 'failed',
        error: {
          name: 'TickworkError',
          message: `Task "${run.taskId}" is not defined`,
          code: 'TASK_NOT_FOUND',
        },
      });
      return;
    }
    const timeout = job.timeout;
    if (timeout !== null) {
      entry.timeoutTimer = this.timers.setTimeout(() => {
        entry.timeoutTimer = null;
        const err = new TickworkError('RUN_TIMED_OUT', `Run of job "${name}" timed out after ${timeout} ms`, {
          timeout,
        });
        void this.fail(entry, err, 'timed-out', startedAt);
      }, timeout);
    }
    if (this.events.has('job:submitted')) {
      this.events.emit('job:submitted', { ...runPayload(run, name), manual: run.manual });
    }
    if (this.logs('info')) {
      this.logger.info(
        { jobId: run.jobId, runId: run.id },
        `Running job "${this.jobText(job)}" (scheduled at ${pyDatetime(run.scheduledFireTime, this.timezone)})`,
      );
    }
    const context = new RunContext(entry);
    let value: unknown;
    try {
      // The hot path: no argument array to spread for a job without args.
      value = await (job.args.length === 0 ? task.fn(context) : task.fn(...job.args, context));
    } catch (err) {
      await this.fail(entry, err, 'failed', startedAt);
      return;
    }
    if (entry.settled) return; // timed out or lost meanwhile
    const finishedAt = this.clock.now();
    const taken = await this.settle(entry, {
      status: 'succeeded',
      result: this.store.persistent ? jsonOrUndefined(value) : value,
    });
    // An outcome the store refused (the run was reaped meanwhile, see settle) is not reported as the run's.
    if (!taken) return;
    if (this.events.has('job:executed')) {
      this.events.emit('job:executed', {
        ...runPayload(run, name),
        // Payloads are plain JSON (they may cross processes): undefined and non-JSON values become null.
        returnValue: jsonOrUndefined(value) ?? null,
        duration: finishedAt - startedAt,
        startedAt: new Date(startedAt).toISOString(),
        finishedAt: new Date(finishedAt).toISOString(),
      });
    }
    if (this.logs('info')) {
      this.logger.info(
        { jobId: run.jobId, runId: run.id },
        `Job "${this.jobText(job)}" executed successfully`,
      );
    }
  }

  /**
   * When a run that did not succeed is tried again, by its job's retry policy: `null` without attempts left.
   * Paused, the retry waits for resume() (or another process): a pause stops firing, not the retries of runs
   * that were going. Shutting down, it is left pending in a persistent store for another process or the next
   * start (a failure, or an abort at the shutdown timeout), as a killed process's runs are retried.
   */
  private retryAt(run: RunRecord, job: JobRecord | null): Date | null {
    const retry = job?.retry ?? null;
    const retries = this.running || (this._state === 'stopping' && this.store.persistent);
    if (retry === null || run.attempt >= retry.attempts || !retries) return null;
    const at = new Date(this.now() + retryDelay(retry, run.attempt, this.random));
    // A policy whose delay leaves the Date range (a stored row written by hand) retries nothing.
    return isBadDate(at) ? null : at;
  }

  private async fail(
    entry: RunningRun,
    err: unknown,
    status: 'failed' | 'timed-out',
    startedAt: number,
  ): Promise<void> {
    if (entry.settled) return;
    const { run, job } = entry;
    const name = job?.name ?? run.jobId;
    const retry = job?.retry ?? null;
    let retryAt = this.retryAt(run, job);
    const willRetry = retryAt !== null;
    if (status === 'timed-out') abortRun(entry, err);
    const error = errorToJSON(err);
    const taken = await this.settle(entry, { status, error, retryAt });
    // The task's failure is logged all the same (below); the event reports runs whose outcome the store took.
    if (taken) {
      this.events.emit('job:error', {
        jobId: run.jobId,
        name,
        runId: run.id,
        scheduledFireTime: run.scheduledFireTime.toISOString(),
        attempt: run.attempt,
        status,
        error,
        duration: this.clock.now() - startedAt,
        willRetry,
      });
    }
    const jobText = job ? this.jobText(job) : name;
    // With a retry policy the line says what comes next: the attempt a retry will make and when, or that
    // this was the last attempt. An outcome the store refused is followed by no retry of this process's (the
    // reaping decided what becomes of the run).
    if (!taken) retryAt = null;
    let next = '';
    if (retryAt !== null && retry !== null) {
      next = `; retry scheduled: attempt ${run.attempt + 1} of ${retry.attempts} at ${retryAt.toISOString()}`;
    } else if (taken && retry !== null && run.attempt >= retry.attempts) {
      next = `; that was attempt ${run.attempt} of ${retry.attempts}, no retry left`;
    }
    this.logger.error(
      { err, jobId: run.jobId, runId: run.id, attempt: run.attempt, retryAt: retryAt?.toISOString() },
      (status === 'timed-out'
        ? `Job "${jobText}" timed out after ${job?.timeout} ms`
        : `Job "${jobText}" raised an exception`) + next,
    );
  }

  /**
   * Records a run's end once, frees its slot, and lets waiting runs start. Resolves to whether the outcome
   * was taken: false when the run was settled already, or when the store refused the outcome (the run is no
   * longer this process's: its lease ran out and it was reaped); true when recorded, or kept to be recorded
   * again after a store failure.
   */
  private async settle(
    entry: RunningRun,
    outcome: {
      status: 'succeeded' | 'failed' | 'timed-out' | 'missed' | 'skipped' | 'cancelled';
      error?: RunRecord['error'];
      result?: unknown;
      retryAt?: Date | null;
    },
    abortReason?: unknown,
  ): Promise<boolean> {
    if (entry.settled) return false;
    entry.settled = true;
    if (entry.timeoutTimer) this.timers.clearTimeout(entry.timeoutTimer);
    if (abortReason !== undefined) abortRun(entry, abortReason);
    this.leaveInFlight(entry);
    // Until the outcome is recorded, heartbeats keep renewing the lease: a store that is slow to take it (a busy
    // pool) must not let the lease run out and the run be started again elsewhere.
    this.recording.set(entry.run.id, entry);
    let taken = true;
    try {
      let ok: boolean;
      try {
        ok = await this.recordOutcome(entry, outcome);
      } finally {
        this.recording.delete(entry.run.id);
      }
      if (!ok) {
        this.logger.warn(
          { runId: entry.run.id, status: outcome.status },
          `Run ${entry.run.id} was no longer held by this process; its outcome (${outcome.status}) was not recorded`,
        );
        taken = false;
      }
    } catch (err) {
      this.unrecorded.set(entry.run.id, { entry, outcome });
      this.logger.error(
        { err, runId: entry.run.id },
        'Could not record the outcome of a run; keeping its lease and trying again',
      );
      if (!this.heartbeatTimer) this.scheduleHeartbeat();
    }
    if (this._state === 'running' && (this.backlog || outcome.retryAt)) this.wakeSoon();
    return taken;
  }

  /**
   * Records a run's outcome. With a persistent store that has {@link Store.finishRuns}, final outcomes are
   * grouped: the first goes at once, and those that arrive while a group is being recorded go together in the
   * next group (group commit), so the number of round trips no longer grows with the number of runs.
   */
  private recordOutcome(entry: RunningRun, outcome: RunOutcome): Promise<boolean> {
    if (!this.store.persistent || !this.store.finishRuns || outcome.retryAt) {
      return this.store.finishRun(
        entry.run.id,
        this.nodeId,
        entry.run.attempt,
        new Date(this.clock.now()),
        outcome,
      );
    }
    return new Promise<boolean>((resolve, reject) => {
      this.outcomes.push({ entry, outcome, resolve, reject });
      if (!this.flushingOutcomes) void this.flushOutcomes();
    });
  }

  private async flushOutcomes(): Promise<void> {
    this.flushingOutcomes = true;
    try {
      while (this.outcomes.length > 0) {
        const group = this.outcomes.splice(0, OUTCOME_GROUP_SIZE);
        try {
          const done = await this.store.finishRuns!(
            this.nodeId,
            group.map((g) => ({ runId: g.entry.run.id, attempt: g.entry.run.attempt, outcome: g.outcome })),
            new Date(this.clock.now()),
          );
          group.forEach((g, i) => g.resolve(done[i] === true));
        } catch (err) {
          for (const g of group) g.reject(err);
        }
      }
    } finally {
      this.flushingOutcomes = false;
    }
  }

  /** Renews leases every `heartbeatInterval` while runs are in flight (an idle scheduler arms no timer for it). */
  private scheduleHeartbeat(): void {
    this.heartbeatTimer = this.timers.setTimeout(() => {
      this.heartbeatTimer = null;
      // While stopping too: running jobs that shutdown waits for keep their leases.
      if (this._state === 'stopped') return;
      const beat = (this.heartbeating = this.heartbeat());
      void beat.finally(() => {
        if (this.heartbeating === beat) this.heartbeating = null;
        if (
          (this.running || this._state === 'stopping') &&
          this.inFlight.size + this.unrecorded.size + this.recording.size > 0 &&
          !this.heartbeatTimer
        ) {
          this.scheduleHeartbeat();
        }
      });
    }, this.heartbeatInterval);
  }

  private async heartbeat(): Promise<void> {
    if (this.inFlight.size === 0 && this.unrecorded.size === 0 && this.recording.size === 0) return;
    const runs = [
      ...this.inFlight.values(),
      ...this.recording.values(),
      ...[...this.unrecorded.values()].map((u) => u.entry),
    ].map((r) => ({ id: r.run.id, attempt: r.run.attempt }));
    const asked = new Set(runs.map((r) => r.id));
    const now = this.clock.now();
    try {
      const held = new Set(
        await this.store.heartbeatRuns(this.nodeId, runs, new Date(now), this.leaseDuration),
      );
      this.lastRenewal = now;
      for (const r of this.inFlight.values()) if (held.has(r.run.id)) r.renewedAt = now;
      for (const [id, u] of [...this.unrecorded]) {
        if (asked.has(id) && !held.has(id)) {
          this.unrecorded.delete(id);
          // Not held: another process took the run, or the failed recording was committed after all.
          if (await this.storedAsRecorded(id, u.entry.run.attempt, u.outcome))
            this.logger.info({ runId: id }, `Recorded the outcome of run ${id} after a store failure`);
          else
            this.logger.warn({ runId: id }, `Run ${id} lost its lease before its outcome could be recorded`);
        }
      }
      if (this.unrecorded.size > 0) await this.recordPending();
      for (const r of [...this.inFlight.values()]) {
        // Only runs this heartbeat asked about: one acquired while it was on its way is held all the same.
        if (!asked.has(r.run.id)) continue;
        if (!held.has(r.run.id) && !r.settled) {
          r.settled = true;
          this.leaveInFlight(r);
          if (r.timeoutTimer) this.timers.clearTimeout(r.timeoutTimer);
          abortRun(r, new TickworkError('STORE_ERROR', 'The run lost its lease'));
          this.logger.warn({ runId: r.run.id }, `Run ${r.run.id} lost its lease; its signal was aborted`);
        }
      }
    } catch (err) {
      this.logger.error({ err }, 'Could not renew run leases');
      // Abort a task before its lease runs out: after that, another process may start the run again.
      for (const r of this.inFlight.values()) {
        if (!r.leaseLost && now >= r.renewedAt + this.leaseDuration - this.heartbeatInterval) {
          r.leaseLost = true;
          abortRun(r, new TickworkError('STORE_ERROR', 'The lease of the run could not be renewed'));
          this.logger.warn(
            { runId: r.run.id },
            `Run ${r.run.id}: its lease could not be renewed and ends soon; its signal was aborted`,
          );
        }
      }
    }
  }

  /** The {@link recordPending} going on, if any (the heartbeat and the loop both call it). */
  private recordingPending: Promise<void> | null = null;

  /**
   * Tries again to record outcomes the store failed to take; one pass at a time (a second pass over the same
   * outcomes found them recorded by the first and reported them lost).
   */
  private recordPending(): Promise<void> {
    return (this.recordingPending ??= this.recordPendingOnce().finally(() => {
      this.recordingPending = null;
    }));
  }

  /**
   * Whether the stored run shows `outcome` recorded by this process for `attempt` (a recording that failed
   * may have been committed all the same). An ended run only: a retry's `pending` cannot tell.
   */
  private async storedAsRecorded(id: string, attempt: number, outcome: RunOutcome): Promise<boolean> {
    if (outcome.retryAt) return false;
    const stored = await this.store.getRun(id).catch(() => null);
    return (
      stored !== null &&
      stored.owner === this.nodeId &&
      stored.attempt === attempt &&
      stored.status === outcome.status
    );
  }

  private async recordPendingOnce(): Promise<void> {
    for (const [id, { entry, outcome }] of [...this.unrecorded]) {
      try {
        const ok = await this.store.finishRun(
          id,
          this.nodeId,
          entry.run.attempt,
          new Date(this.clock.now()),
          outcome,
        );
        this.unrecorded.delete(id);
        // Refused: another process took the run, or the failed call was committed after all (a timeout after
        // the commit): the stored run says which.
        if (ok || (await this.storedAsRecorded(id, entry.run.attempt, outcome)))
          this.logger.info({ runId: id }, `Recorded the outcome of run ${id} after a store failure`);
        else
          this.logger.warn(
            { runId: id },
            `Run ${id} was no longer held by this process; its outcome was lost`,
          );
      } catch {
        return; // still failing: try again at the next heartbeat or wake-up
      }
    }
  }
}

/**
 * Checks that `value` is a {@link Scheduler} (an instance of this class, or of a copy of it loaded from
 * another module instance: an object with its methods), for the plugins and the HTTP API, which take one.
 * @throws TickworkError `INVALID_OPTION` naming `field`.
 */
export function checkScheduler(value: unknown, field = 'scheduler'): Scheduler {
  if (value instanceof Scheduler) return value;
  const v = value as Record<string, unknown> | null;
  if (
    v !== null &&
    typeof v === 'object' &&
    SCHEDULER_METHODS.every((m) => typeof v[m] === 'function') &&
    typeof v.logger === 'object'
  )
    return value as Scheduler;
  throw invalidOption(field, 'a tickwork Scheduler (`new Scheduler(...)`)', value);
}

/** Methods every use of a scheduler by the plugins and the HTTP API relies on (see {@link checkScheduler}). */
const SCHEDULER_METHODS = ['start', 'shutdown', 'addJob', 'getJob', 'getJobs', 'getRuns', 'on', 'off'];

/**
 * The latest fire time of `trigger` after `after` and at or before `now`, or `null` when there is none: a
 * bisection on `getNextFireTime(null, x)`, which is monotone in `x` (about 50 calls for any span). An
 * interval trigger without a `startDate` counts from its previous fire time (`getNextFireTime(null, x)` is
 * `x` plus the interval, whatever `x`): its fire times are `after` plus whole intervals.
 */
export function latestFireTime(trigger: Trigger, after: Date, now: Date): Date | null {
  if (trigger instanceof IntervalTrigger && trigger.startDate === null) {
    const end = Math.min(now.getTime(), trigger.endDate?.getTime() ?? Infinity);
    const k = Math.floor((end - after.getTime()) / trigger.interval);
    return k >= 1 ? new Date(after.getTime() + k * trigger.interval) : null;
  }
  let lo = after.getTime() + 1;
  let hi = now.getTime();
  const at = (x: number): number | null => trigger.getNextFireTime(null, new Date(x))?.getTime() ?? null;
  const first = lo <= hi ? at(lo) : null;
  if (first === null || first > hi) return null;
  // Invariant: a fire time in [lo, now] exists; find the largest such lo.
  let best = first;
  lo = first;
  while (lo < hi) {
    const mid = lo + Math.ceil((hi - lo) / 2);
    const f = at(mid);
    if (f !== null && f <= now.getTime()) {
      best = f;
      lo = f;
      if (f >= hi) break;
      if (f > mid) continue;
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return new Date(best);
}

/**
 * `trigger.getNextFireTime(previous, now)`, or `null` for a time past the year 9999: a store keeps times of the
 * years 0000 to 9999 only (what an ISO 8601 string holds), so a later fire time ends the schedule, as the end
 * of the trigger would.
 */
export function nextFireTime(trigger: Trigger, previous: Date | null, now: Date): Date | null {
  const next = trigger.getNextFireTime(previous, now);
  return next === null || next.getTime() > MAX_INSTANT ? null : next;
}

/**
 * The first fire time of `trigger` at or after `now`, up to the end of the year 9999.
 * @throws TickworkError `TRIGGER_NEVER_FIRES`.
 */
export function firstFireTime(trigger: Trigger, now: Date): Date {
  const next = nextFireTime(trigger, null, now);
  if (next === null) {
    throw new TickworkError(
      'TRIGGER_NEVER_FIRES',
      `Trigger ${String(trigger)} has no fire time from ${now.toISOString()} to 9999-12-31T23:59:59.999Z`,
      {
        field: 'trigger',
        value: trigger.toJSON(),
      },
    );
  }
  return next;
}

/** Aborts a run's signal, creating it if the task has not read it yet (so it reads as aborted later). */
function abortRun(entry: RunningRun, reason: unknown): void {
  (entry.controller ??= new AbortController()).abort(reason);
}

/** The {@link Store} methods a store given to the scheduler must have (the optional ones aside). */
const STORE_METHODS = [
  'start',
  'stop',
  'addJob',
  'getJob',
  'getJobs',
  'updateJob',
  'removeJob',
  'removeAllJobs',
  'fireDueJobs',
  'createManualRun',
  'acquireRuns',
  'heartbeatRuns',
  'finishRun',
  'reapExpiredRuns',
  'requeueRun',
  'getRun',
  'getRuns',
  'getNextWakeTime',
  'subscribe',
] as const;

/**
 * A persistent store's job is read back from its trigger's JSON: a trigger object whose JSON
 * `triggerFromJSON` refuses (nested deeper than it allows, a custom type) would be quarantined at its first
 * fire, so it is refused when added, with the reader's error.
 */
function assertReadable(json: TriggerJSON): void {
  try {
    triggerFromJSON(json);
  } catch (err) {
    if (isTickworkError(err)) {
      throw new TickworkError(err.code, `${err.message} (the store keeps the trigger as JSON)`, {
        ...err.details,
        field: typeof err.details.field === 'string' ? err.details.field : 'trigger',
      });
    }
    throw err;
  }
}

function taskNotFound(task: string, field: string): TickworkError {
  return new TickworkError(
    'TASK_NOT_FOUND',
    `No task "${task}" is defined; call defineTask("${task}", fn) first`,
    {
      field,
      value: task,
    },
  );
}

/** Checks the arguments of {@link Scheduler.on}. */
function checkListener(name: unknown, listener: unknown): void {
  if (typeof name !== 'string' || !Object.hasOwn(EVENT_NAMES, name)) {
    throw invalidOption('name', `an event name (${Object.keys(EVENT_NAMES).join(', ')})`, name);
  }
  if (typeof listener !== 'function') throw invalidOption('listener', 'a function', listener);
}

function jobNotFound(id: string): TickworkError {
  return new TickworkError('JOB_NOT_FOUND', `No job with id "${id}"`, { field: 'id', value: id });
}

/** How deep JSON values (job args) may nest. */
const MAX_JSON_DEPTH = 64;

function jsonDepthExceeds(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > limit) return true;
    for (const child of Object.values(v as object)) stack.push([child, d + 1]);
  }
  return false;
}

/** Asserts `value` survives a JSON round trip unchanged (a function, `Date` or `undefined` inside does not). */
function assertJson(value: unknown, field: string): void {
  let deep: boolean;
  try {
    deep = jsonDepthExceeds(value, MAX_JSON_DEPTH);
  } catch {
    // a getter or a Proxy trap that throws: not plain JSON
    throw invalidOption(field, 'plain JSON values (the store is persistent)', '(unreadable)');
  }
  if (deep) {
    throw invalidOption(field, `plain JSON values nested at most ${MAX_JSON_DEPTH} deep`, '(too deep)');
  }
  let same = false;
  try {
    const text = JSON.stringify(value);
    same = text !== undefined && isDeepStrictEqual(JSON.parse(text), value);
  } catch {
    // circular or BigInt: not JSON
  }
  if (!same) throw invalidOption(field, 'plain JSON values (the store is persistent)', value);
}

/** Whether a scheduled run was created before its fire time: fired ahead (`fireAhead`, memory store). */
function firedAhead(run: RunRecord): boolean {
  return !run.manual && run.createdAt.getTime() < run.scheduledFireTime.getTime();
}

function isBadDate(d: Date | null): boolean {
  return d !== null && !Number.isFinite(d.getTime());
}

function jsonOrUndefined(value: unknown): unknown {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch {
    return undefined;
  }
}

/** Python's `str(datetime)` with the zone's offset: `2024-04-25 07:37:48.123000+00:00`. */
function pyDatetime(date: Date, zone: string): string {
  const iso = formatIsoInZone(date, zone).replace('T', ' ');
  return iso.replace(/\.(\d{3})([+-])/, '.$1000$2');
}

/** The fields every run event carries. */
function runPayload(run: RunRecord, name: string) {
  return {
    jobId: run.jobId,
    name,
    runId: run.id,
    scheduledFireTime: run.scheduledFireTime.toISOString(),
    attempt: run.attempt,
  };
}

/**
 * The {@link TaskContext} of one run. A class (its accessors live on the prototype): one small object per run,
 * with the `AbortController` made only when the task reads `signal`.
 */
class RunContext implements TaskContext {
  readonly jobId: string;
  readonly runId: string;
  readonly scheduledFireTime: Date;
  readonly attempt: number;
  readonly manual: boolean;
  readonly #entry: RunningRun;

  constructor(entry: RunningRun) {
    const run = entry.run;
    this.#entry = entry;
    this.jobId = run.jobId;
    this.runId = run.id;
    this.scheduledFireTime = new Date(run.scheduledFireTime.getTime());
    this.attempt = run.attempt;
    this.manual = run.manual;
  }

  get signal(): AbortSignal {
    return (this.#entry.controller ??= new AbortController()).signal;
  }

  get idempotencyKey(): string {
    return `${this.jobId}@${this.#entry.run.scheduledFireTime.toISOString()}`;
  }
}

/**
 * `JOB_UNREADABLE` for a job whose stored row cannot be read (its trigger the store's `__invalid__`
 * placeholder, which names the column).
 */
function unreadableJob(job: JobRecord): TickworkError {
  const { field, error } = job.trigger as { field?: unknown; error?: unknown };
  return new TickworkError(
    'JOB_UNREADABLE',
    `Job "${job.id}" cannot be read (the stored ${String(field)}: ${String(error)}); repair its row or re-add it`,
    { field: String(field) },
  );
}

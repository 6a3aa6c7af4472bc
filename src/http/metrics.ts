/**
 * Prometheus metrics of one scheduler, in a prom-client registry of their own (never the global default
 * registry, so several APIs or schedulers in one process do not collide). Updated from scheduler events.
 * @module
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Scheduler } from '../core/scheduler.js';

/** Options of the metrics. */
export interface MetricsOptions {
  /** Register into this registry instead of a new one (e.g. to add process metrics beside). */
  registry?: Registry;
  /** Prefix of every metric name. @defaultValue `"tickwork_"` */
  prefix?: string;
}

/** Outcomes counted by `<prefix>runs_total`. */
export const RUN_OUTCOMES = ['succeeded', 'failed', 'timed-out', 'missed', 'skipped', 'abandoned'] as const;

/** The metrics of one scheduler. */
export interface SchedulerMetrics {
  /** The registry the metrics live in. */
  readonly registry: Registry;
  /** The Prometheus text exposition. */
  render(): Promise<string>;
  /** Stops listening to the scheduler's events. */
  close(): void;
}

/**
 * Creates the metrics:
 * - `tickwork_runs_started_total`: runs handed to the executor (fired or run now);
 * - `tickwork_runs_total{outcome}`: outcomes `succeeded`, `failed`, `timed-out`, `missed`, `skipped`
 *   (max instances), `abandoned` (lease expired);
 * - `tickwork_run_lateness_seconds`: run start − scheduled fire time, for the first attempts of scheduled (not
 *   manual) runs;
 * - `tickwork_run_duration_seconds{outcome}`: duration of finished runs;
 * - `tickwork_running_runs`: runs executing in this process now;
 * - `tickwork_jobs{paused}`: jobs in the store.
 */
export function createMetrics(scheduler: Scheduler, options: MetricsOptions = {}): SchedulerMetrics {
  const registry = options.registry ?? new Registry();
  const p = options.prefix ?? 'tickwork_';
  const registers = [registry];
  const started = new Counter({
    name: `${p}runs_started_total`,
    help: 'Runs handed to the executor (fired by their trigger or run now).',
    registers,
  });
  const outcomes = new Counter({
    name: `${p}runs_total`,
    help: 'Runs by outcome: succeeded, failed, timed-out, missed, skipped (max instances), abandoned.',
    labelNames: ['outcome'],
    registers,
  });
  for (const outcome of RUN_OUTCOMES) outcomes.inc({ outcome }, 0);
  const lateness = new Histogram({
    name: `${p}run_lateness_seconds`,
    help: 'Run start minus scheduled fire time, in seconds (scheduled runs only).',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
    registers,
  });
  const duration = new Histogram({
    name: `${p}run_duration_seconds`,
    help: 'Duration of finished runs, in seconds.',
    labelNames: ['outcome'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
    registers,
  });
  new Gauge({
    name: `${p}running_runs`,
    help: 'Runs executing in this process now.',
    registers,
    collect() {
      this.set(scheduler.getRunningRuns().length);
    },
  });
  new Gauge({
    name: `${p}jobs`,
    help: 'Jobs in the store (before start: the jobs waiting for it).',
    labelNames: ['paused'],
    registers,
    async collect() {
      let paused: number;
      let active: number;
      try {
        // Two counts in the store (SQL count(*)); no job is read.
        [paused, active] = await Promise.all([
          scheduler.countJobs({ paused: true }),
          scheduler.countJobs({ paused: false }),
        ]);
      } catch {
        return; // the store is down: keep the last values
      }
      this.set({ paused: 'true' }, paused);
      this.set({ paused: 'false' }, active);
    },
  });

  const offs = [
    scheduler.on('job:submitted', (e) => {
      started.inc();
      // The schedule's lateness: first attempts (a retry starts after its backoff, on purpose).
      if (!e.manual && e.attempt <= 1) {
        lateness.observe(Math.max(0, scheduler.clock.now() - Date.parse(e.scheduledFireTime)) / 1000);
      }
    }),
    scheduler.on('job:executed', (e) => {
      outcomes.inc({ outcome: 'succeeded' });
      duration.observe({ outcome: 'succeeded' }, e.duration / 1000);
    }),
    scheduler.on('job:error', (e) => {
      outcomes.inc({ outcome: e.status });
      duration.observe({ outcome: e.status }, e.duration / 1000);
    }),
    scheduler.on('job:missed', () => outcomes.inc({ outcome: 'missed' })),
    scheduler.on('job:max-instances', () => outcomes.inc({ outcome: 'skipped' })),
    scheduler.on('job:abandoned', () => outcomes.inc({ outcome: 'abandoned' })),
  ];

  return {
    registry,
    render: () => registry.metrics(),
    close() {
      for (const off of offs.splice(0)) off();
    },
  };
}

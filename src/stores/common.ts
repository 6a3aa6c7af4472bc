/**
 * Helpers shared by the store implementations.
 * @module
 */
import type { JobRecord, RunRecord } from '../core/structures.js';
import type { TriggerJSON } from '../triggers/trigger.js';

/** JSON with object keys sorted, so equal values give equal strings. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)),
      );
    }
    return v;
  });
}

/** Whether two serialised triggers describe the same schedule. */
export function sameTrigger(a: TriggerJSON, b: TriggerJSON): boolean {
  return stableStringify(a) === stableStringify(b);
}

const copyDate = (d: Date | null): Date | null => (d === null ? null : new Date(d.getTime()));

/**
 * A copy of a job record that shares nothing mutable with the original (args are copied one level deep).
 * The trigger JSON is shared: stores treat it as immutable (see {@link freezeTrigger}).
 */
export function cloneJob(job: JobRecord): JobRecord {
  return {
    ...job,
    args: [...job.args],
    retry: job.retry ? { ...job.retry } : null,
    nextRunTime: copyDate(job.nextRunTime),
    createdAt: new Date(job.createdAt.getTime()),
    updatedAt: new Date(job.updatedAt.getTime()),
  };
}

/** A copy of a run record. */
export function cloneRun(run: RunRecord): RunRecord {
  return {
    ...run,
    scheduledFireTime: new Date(run.scheduledFireTime.getTime()),
    notBefore: new Date(run.notBefore.getTime()),
    leaseExpiresAt: copyDate(run.leaseExpiresAt),
    startedAt: copyDate(run.startedAt),
    finishedAt: copyDate(run.finishedAt),
    createdAt: new Date(run.createdAt.getTime()),
    error: run.error ? { ...run.error } : null,
  };
}

/** Deep-freezes trigger JSON so it can be shared between records without copying. */
export function freezeTrigger(trigger: TriggerJSON): TriggerJSON {
  if (Object.isFrozen(trigger)) return trigger;
  const walk = (v: unknown): void => {
    if (v && typeof v === 'object' && !Object.isFrozen(v)) {
      Object.freeze(v);
      for (const x of Object.values(v)) walk(x);
    }
  };
  const copy = structuredClone(trigger);
  walk(copy);
  return copy;
}

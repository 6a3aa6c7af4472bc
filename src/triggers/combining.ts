/**
 * Combining triggers (APScheduler 4's `AndTrigger` and `OrTrigger`).
 * @module
 */
import { TickworkError, show } from '../core/errors.js';
import { duration, integer, rejectUnknownKeys } from '../core/validate.js';
import { DateTrigger } from './date.js';
import { IntervalTrigger } from './interval.js';
import type { Trigger, TriggerJSON } from './trigger.js';

/** The default bound on the search of {@link AndTrigger} (APScheduler 4's `max_iterations`). */
export const DEFAULT_MAX_ITERATIONS = 10_000;
/** The largest `maxIterations` accepted: one search must stay within milliseconds, whatever the input. */
export const MAX_ITERATIONS = 100_000;
/** Most children of one combining trigger. */
export const MAX_CHILDREN = 64;

/** Options of {@link AndTrigger} and {@link OrTrigger}. */
export interface CombiningTriggerOptions {
  /**
   * `AndTrigger` only: how many rounds of "advance the children that are behind" to try before giving up
   * and answering `null` (no common fire time found). Each round costs one `getNextFireTime` per lagging
   * child. @defaultValue 10000
   */
  maxIterations?: number;
  /**
   * `AndTrigger` only: how far apart, in milliseconds, the children's fire times may be and still count as
   * agreeing; the earliest of them is the fire time. After a fire time F the search restarts after
   * F + threshold, so one agreement fires once. APScheduler 4 uses 1 s because its triggers carry
   * microseconds; tickwork's cron and calendar triggers fire on whole seconds, so the default is exact.
   * @defaultValue 0
   */
  threshold?: number;
  /** Maximum random delay in milliseconds added to each run's start. @defaultValue `null` (none) */
  jitter?: number | null;
}

function checkChildren(kind: string, triggers: unknown): Trigger[] {
  if (Array.isArray(triggers) && triggers.length > MAX_CHILDREN) {
    throw new TickworkError(
      'INVALID_TRIGGER',
      `Expected an ${kind} trigger to have at most ${MAX_CHILDREN} triggers`,
      {
        field: 'triggers',
        value: triggers.length,
      },
    );
  }
  if (!Array.isArray(triggers) || triggers.length === 0) {
    throw new TickworkError(
      'INVALID_TRIGGER',
      `Expected an ${kind} trigger to have a non-empty array of triggers`,
      {
        field: 'triggers',
        value: triggers,
      },
    );
  }
  triggers.forEach((t, i) => {
    if (t === null || typeof t !== 'object' || typeof (t as Trigger).getNextFireTime !== 'function') {
      throw new TickworkError(
        'INVALID_TRIGGER',
        `Expected \`triggers[${i}]\` to be a trigger, got ${show(t)}`,
        {
          field: `triggers[${i}]`,
          value: t,
        },
      );
    }
  });
  return [...(triggers as Trigger[])];
}

/**
 * The most steps (rounds and children advanced, in every `and` search) one call of a combining trigger's
 * `getNextFireTime` takes, nested triggers included: each `and` has its own `maxIterations`, and nesting
 * multiplies them, so the whole search has this cap too (about 100 ms of CPU), past which it answers `null`.
 */
export const MAX_SEARCH_STEPS = 200_000;

/** What is left of {@link MAX_SEARCH_STEPS} in the outermost search in progress (synchronous: one at a time). */
let work: { left: number } | null = null;

/** Runs `search` as (part of) the outermost combining search, which owns the shared step count. */
function withinSearch<T>(search: () => T): T {
  if (work !== null) return search();
  work = { left: MAX_SEARCH_STEPS };
  try {
    return search();
  } finally {
    work = null;
  }
}

/** Takes a step of an `and` search: `false` when its own budget or the whole search's is spent. */
function step(budget: { left: number }): boolean {
  return budget.left-- > 0 && work !== null && work.left-- > 0;
}

/**
 * The earliest fire time of `t` at or after `at`. Triggers whose fire times form a fixed grid (cron,
 * calendar interval, interval with a start date, and/or of those) jump straight there; others are walked
 * from `from` one fire time at a time (`null` from the walk means the child is exhausted).
 */
function atOrAfter(t: Trigger, at: number, from: Date, now: Date, budget: { left: number }): Date | null {
  if (t instanceof DateTrigger) return t.runDate.getTime() >= at ? t.runDate : null;
  if (t instanceof IntervalTrigger && t.startDate === null) {
    let cur: Date | null = from;
    while (cur !== null && cur.getTime() < at && step(budget)) cur = t.getNextFireTime(cur, now);
    return cur !== null && cur.getTime() >= at ? cur : null;
  }
  return t.getNextFireTime(new Date(at - 1), now);
}

/**
 * Fires when all its triggers fire at the same time (within `threshold`): APScheduler 4's algorithm. Take
 * each child's next fire time; while they disagree, move every child that is behind to its first fire
 * time at or after the latest one; when they agree, the earliest of them is the fire time.
 *
 * The search is bounded: after `maxIterations` rounds without agreement, or `maxIterations` times the number
 * of children steps (rounds and children advanced), it answers `null` (and never hangs), so two crons that
 * never coincide (`0 0 * * 1` and `0 0 * * 2`) give `null` in milliseconds. The whole search of the
 * outermost combining trigger, nested ones included, takes at most {@link MAX_SEARCH_STEPS} steps.
 * `Scheduler.addJob` then refuses the job with `TRIGGER_NEVER_FIRES`.
 *
 * @throws TickworkError `INVALID_TRIGGER` for an empty or malformed `triggers`, `INVALID_OPTION`.
 */
export class AndTrigger implements Trigger {
  readonly type: string = 'and';
  readonly triggers: readonly Trigger[];
  readonly maxIterations: number;
  readonly threshold: number;
  readonly jitter: number | null;

  constructor(triggers: Trigger[], options: CombiningTriggerOptions = {}) {
    this.triggers = checkChildren('and', triggers);
    rejectUnknownKeys(options, ['maxIterations', 'threshold', 'jitter']);
    this.maxIterations = integer(
      options.maxIterations ?? DEFAULT_MAX_ITERATIONS,
      'maxIterations',
      1,
      MAX_ITERATIONS,
    );
    this.threshold = duration(options.threshold ?? 0, 'threshold');
    this.jitter =
      options.jitter === undefined || options.jitter === null ? null : duration(options.jitter, 'jitter');
  }

  getNextFireTime(previousFireTime: Date | null, now: Date): Date | null {
    return withinSearch(() => this.search(previousFireTime, now));
  }

  private search(previousFireTime: Date | null, now: Date): Date | null {
    const budget = { left: this.maxIterations * this.triggers.length };
    const prev = previousFireTime === null ? null : new Date(previousFireTime.getTime() + this.threshold);
    const times: (Date | null)[] = this.triggers.map((t) => t.getNextFireTime(prev, now));
    for (let i = 0; i < this.maxIterations && step(budget); i++) {
      let earliest = Infinity;
      let latest = -Infinity;
      for (const d of times) {
        if (d === null) return null;
        const t = d.getTime();
        if (t < earliest) earliest = t;
        if (t > latest) latest = t;
      }
      if (latest - earliest <= this.threshold) return new Date(earliest);
      const target = latest - this.threshold;
      for (let j = 0; j < times.length; j++) {
        const d = times[j]!;
        if (d.getTime() < target) {
          times[j] = atOrAfter(this.triggers[j]!, target, d, now, budget);
          if (times[j] === null) return null;
        }
      }
      if (budget.left <= 0 || work!.left <= 0) return null;
    }
    return null;
  }

  toJSON(): TriggerJSON {
    const json: TriggerJSON = { type: this.type, version: 1, triggers: this.triggers.map((t) => t.toJSON()) };
    if (this.maxIterations !== DEFAULT_MAX_ITERATIONS) json.maxIterations = this.maxIterations;
    if (this.threshold !== 0) json.threshold = this.threshold;
    if (this.jitter !== null) json.jitter = this.jitter;
    return json;
  }

  /**
   * Rebuilds a trigger from {@link AndTrigger.toJSON}'s output; `childFromJSON` decodes the children
   * (`triggerFromJSON` from `tickwork`'s trigger index).
   */
  static fromJSON(json: TriggerJSON, childFromJSON: (json: unknown) => Trigger): AndTrigger {
    const { type: _t, version: _v, triggers, ...rest } = json;
    if (!Array.isArray(triggers)) checkChildren('and', triggers);
    return new AndTrigger((triggers as unknown[]).map(childFromJSON), rest as CombiningTriggerOptions);
  }

  /** `and[cron[...], interval[...]]` */
  toString(): string {
    return `and[${this.triggers.map(String).join(', ')}]`;
  }

  describe(): string {
    return `When all of these fire at the same time: ${this.triggers.map((t) => `(${t.describe()})`).join('; ')}`;
  }
}

/**
 * Fires whenever any of its triggers fires (APScheduler 4's `OrTrigger`): the earliest of the children's
 * next fire times; a time at which several fire is returned once. With no previous fire time, a child's
 * time before `now` (a date trigger's passed date) is answered only when no child has one at or after `now`.
 *
 * @throws TickworkError `INVALID_TRIGGER` for an empty or malformed `triggers`, `INVALID_OPTION`.
 */
export class OrTrigger implements Trigger {
  readonly type: string = 'or';
  readonly triggers: readonly Trigger[];
  readonly jitter: number | null;

  constructor(
    triggers: Trigger[],
    options: Omit<CombiningTriggerOptions, 'maxIterations' | 'threshold'> = {},
  ) {
    this.triggers = checkChildren('or', triggers);
    rejectUnknownKeys(options, ['jitter']);
    this.jitter =
      options.jitter === undefined || options.jitter === null ? null : duration(options.jitter, 'jitter');
  }

  getNextFireTime(previousFireTime: Date | null, now: Date): Date | null {
    return withinSearch(() => {
      // With no previous fire time, a child's answer before `now` (a date trigger's passed date) counts only
      // when no child has one at or after `now`: the schedule goes on from now.
      let best: Date | null = null;
      let bestPast: Date | null = null;
      for (const t of this.triggers) {
        const d = t.getNextFireTime(previousFireTime, now);
        if (d === null) continue;
        if (previousFireTime === null && d.getTime() < now.getTime()) {
          if (bestPast === null || d.getTime() < bestPast.getTime()) bestPast = d;
        } else if (best === null || d.getTime() < best.getTime()) best = d;
      }
      return best ?? bestPast;
    });
  }

  toJSON(): TriggerJSON {
    const json: TriggerJSON = { type: this.type, version: 1, triggers: this.triggers.map((t) => t.toJSON()) };
    if (this.jitter !== null) json.jitter = this.jitter;
    return json;
  }

  /** Rebuilds a trigger from {@link OrTrigger.toJSON}'s output; see {@link AndTrigger.fromJSON}. */
  static fromJSON(json: TriggerJSON, childFromJSON: (json: unknown) => Trigger): OrTrigger {
    const { type: _t, version: _v, triggers, ...rest } = json;
    if (!Array.isArray(triggers)) checkChildren('or', triggers);
    return new OrTrigger((triggers as unknown[]).map(childFromJSON), rest as CombiningTriggerOptions);
  }

  /** `or[cron[...], date[...]]` */
  toString(): string {
    return `or[${this.triggers.map(String).join(', ')}]`;
  }

  describe(): string {
    return `Whenever any of these fires: ${this.triggers.map((t) => `(${t.describe()})`).join('; ')}`;
  }
}

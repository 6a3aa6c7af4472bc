/**
 * Building triggers from the scheduler's shorthand (`'interval'`, `{ seconds: 1 }`) and from JSON.
 * @module
 */
import { TickworkError, show } from '../core/errors.js';
import { closest } from '../core/validate.js';
import { parseCrontab } from './cron/parse.js';
import { DateTrigger, type DateTriggerOptions } from './date.js';
import { IntervalTrigger, type IntervalTriggerOptions } from './interval.js';
import type { Trigger, TriggerJSON } from './trigger.js';
import { CronTrigger, type CronTriggerInit } from './cron/index.js';
import { CalendarIntervalTrigger, type CalendarIntervalTriggerOptions } from './calendar-interval.js';
import { AndTrigger, OrTrigger, type CombiningTriggerOptions } from './combining.js';

export type { Trigger, TriggerJSON } from './trigger.js';
export { DateTrigger, type DateTriggerOptions } from './date.js';
export { IntervalTrigger, type IntervalTriggerOptions } from './interval.js';
export {
  CronTrigger,
  type CronDstOptions,
  type CronFieldName,
  type CronFieldValue,
  type CronFieldsOptions,
  type CronTriggerInit,
  type CronTriggerOptions,
  type DstGapPolicy,
  type DstOverlapPolicy,
} from './cron/index.js';
export {
  CalendarIntervalTrigger,
  type CalendarIntervalTriggerOptions,
  type ShortMonthPolicy,
} from './calendar-interval.js';
export { AndTrigger, OrTrigger, DEFAULT_MAX_ITERATIONS, type CombiningTriggerOptions } from './combining.js';

/** Trigger kinds accepted by the shorthand `addJob(fn, kind, options)`. */
export const TRIGGER_KINDS = ['date', 'interval', 'cron', 'calendarInterval', 'and', 'or'] as const;

/** A trigger kind for the shorthand form. */
export type TriggerKind = (typeof TRIGGER_KINDS)[number];

/** Options of each trigger kind in the shorthand form. */
export interface TriggerOptionsByKind {
  date: DateTriggerOptions;
  interval: IntervalTriggerOptions;
  /** `{ expression: '0 9 * * 1-5', timezone }` or APScheduler's fields `{ hour: 9, dayOfWeek: 'mon-fri' }`. */
  cron: CronTriggerInit;
  calendarInterval: CalendarIntervalTriggerOptions;
  /** `{ triggers: [t1, t2], maxIterations }`; children are trigger objects or their JSON. */
  and: CombiningTriggerOptions & { triggers: (Trigger | TriggerJSON)[] };
  or: CombiningTriggerOptions & { triggers: (Trigger | TriggerJSON)[] };
}

/**
 * Builds a trigger from a kind and its options (APScheduler's `add_job(func, 'interval', seconds=1)`).
 * @throws TickworkError `INVALID_TRIGGER` for an unknown kind; the trigger's own errors otherwise.
 */
export function createTrigger(kind: string, options: Record<string, unknown>): Trigger {
  switch (kind) {
    case 'date':
      return new DateTrigger(options as unknown as DateTriggerOptions);
    case 'interval':
      return new IntervalTrigger(options as IntervalTriggerOptions);
    case 'cron':
      return new CronTrigger(options as CronTriggerInit);
    case 'calendarInterval':
      return new CalendarIntervalTrigger(options as CalendarIntervalTriggerOptions);
    case 'and':
    case 'or': {
      const { triggers, ...rest } = options;
      if (!Array.isArray(triggers)) {
        throw new TickworkError('INVALID_TRIGGER', `Expected \`triggers\` to be an array of triggers`, {
          field: 'triggers',
          value: triggers,
        });
      }
      const children = triggers.map((t: unknown) => (isTrigger(t) ? t : triggerFromJSON(t, 1)));
      return kind === 'and'
        ? new AndTrigger(children, rest as CombiningTriggerOptions)
        : new OrTrigger(children, rest as CombiningTriggerOptions);
    }
    default:
      throw new TickworkError(
        'INVALID_TRIGGER',
        `Expected the trigger kind to be one of ${TRIGGER_KINDS.map((k) => `"${k}"`).join(', ')}, got ${show(kind)}` +
          kindHint(kind),
        { field: 'trigger', value: kind },
      );
  }
}

/**
 * The hint for an unknown trigger kind: a cron expression given in its place (node-cron's habit of passing
 * the expression first) is shown in the shorthand form; a misspelt kind is named.
 */
function kindHint(kind: unknown): string {
  if (typeof kind !== 'string') return '';
  // A valid expression, or one shaped like it (5 to 7 fields of cron characters) whose fields are wrong.
  const fields = kind.trim().split(/\s+/);
  let isCron = fields.length >= 5 && fields.length <= 7 && fields.every((f) => /^[\w*?/,#-]+$/.test(f));
  if (!isCron) {
    try {
      parseCrontab(kind);
      isCron = true;
    } catch {
      // not a cron expression
    }
  }
  if (isCron) {
    return (
      `. It looks like a cron expression: give the kind "cron" and the expression as an option, ` +
      `addJob(fn, 'cron', { expression: '${kind}' })`
    );
  }
  const near = closest(kind, TRIGGER_KINDS);
  return near === null ? '' : ` (did you mean "${near}"?)`;
}

/** How deep `and`/`or` triggers may nest (a trigger tree deeper than this is a mistake or an attack). */
export const MAX_NESTING = 8;

/**
 * Rebuilds a trigger from its JSON form (`depth`: how deep inside combining triggers it sits).
 * @throws TickworkError `INVALID_TRIGGER` for an unknown type or version, or a malformed body.
 */
export function triggerFromJSON(json: unknown, depth = 0): Trigger {
  if (depth > MAX_NESTING) {
    throw new TickworkError(
      'INVALID_TRIGGER',
      `Expected combining triggers nested at most ${MAX_NESTING} deep`,
      { field: 'trigger.triggers', value: depth },
    );
  }
  if (json === null || typeof json !== 'object' || typeof (json as TriggerJSON).type !== 'string') {
    throw new TickworkError('INVALID_TRIGGER', `Expected trigger JSON with a \`type\`, got ${show(json)}`, {
      field: 'trigger',
      value: json,
    });
  }
  const j = json as TriggerJSON;
  if (j.version !== 1) {
    throw new TickworkError(
      'INVALID_TRIGGER',
      `Unsupported ${j.type} trigger format version ${show(j.version)}`,
      {
        field: 'trigger.version',
        value: j.version,
      },
    );
  }
  switch (j.type) {
    case 'date':
      return DateTrigger.fromJSON(j);
    case 'interval':
      return IntervalTrigger.fromJSON(j);
    case 'cron':
      return CronTrigger.fromJSON(j);
    case 'calendarInterval':
      return CalendarIntervalTrigger.fromJSON(j);
    case 'and':
      return AndTrigger.fromJSON(j, (c) => triggerFromJSON(c, depth + 1));
    case 'or':
      return OrTrigger.fromJSON(j, (c) => triggerFromJSON(c, depth + 1));
    default:
      throw new TickworkError('INVALID_TRIGGER', `Unknown trigger type ${show(j.type)}`, {
        field: 'trigger.type',
        value: j.type,
      });
  }
}

/** Whether a value looks like a trigger object (has `getNextFireTime` and `toJSON`). */
export function isTrigger(value: unknown): value is Trigger {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Trigger).getNextFireTime === 'function' &&
    typeof (value as Trigger).toJSON === 'function'
  );
}

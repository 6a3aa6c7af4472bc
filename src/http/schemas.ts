/**
 * The HTTP API's request and response shapes, as zod schemas. Requests are validated with them; the
 * OpenAPI document (`openapi.ts`) is generated from them, so the two cannot drift apart.
 *
 * Times are ISO 8601 strings; durations are milliseconds, except where a name says otherwise.
 * @module
 */
import { z } from 'zod';

/** Every run status, in lifecycle order (see `RunStatus`). */
export const RUN_STATUSES = [
  'pending',
  'running',
  'succeeded',
  'failed',
  'timed-out',
  'missed',
  'skipped',
  'abandoned',
  'cancelled',
] as const;

/** Largest page of `GET /jobs` and `GET /runs`. */
export const MAX_PAGE_SIZE = 500;
/** Default page size of `GET /jobs` and `GET /runs`. */
export const DEFAULT_PAGE_SIZE = 50;
/** Default number of fire times previewed by `GET /jobs/{id}`. */
export const DEFAULT_PREVIEW = 5;
/** Largest `n` of `GET /jobs/{id}`. */
export const MAX_PREVIEW = 100;

// ------------------------------------------------------------------ building blocks

const id = z.string().min(1).max(200);
/**
 * The message of the bounds of an integer schema ({@link integer}): a zod issue does not say whether the
 * number had to be an integer, so the error in the house shape (`validationError`) reads it from here.
 */
export const INTEGER_BOUND = 'integer';
/** An integer from `min` to `max` (inclusive), whose type and bound issues say so (see {@link INTEGER_BOUND}). */
const integer = (min: number, max?: number) => {
  // The bounds come before `.int()`, whose own bounds (the safe integers) would otherwise be reported first.
  const atLeast = z.number({ error: INTEGER_BOUND }).min(min, { error: INTEGER_BOUND });
  return (max === undefined ? atLeast : atLeast.max(max, { error: INTEGER_BOUND })).int();
};
const isoDateTime = z.string().meta({ format: 'date-time' });
/** A date input: ISO 8601 with an offset, a local wall time read in the trigger's zone, or epoch ms. */
const dateInput = z.union([z.string().min(1), z.number()]).meta({
  description:
    'ISO 8601 with an offset, a local wall time without one (read in `timezone`), or epoch milliseconds',
});
const timezone = z.string().min(1).meta({ description: 'IANA time-zone name, e.g. `Europe/Berlin`' });
const ms = (description: string) => z.number().min(0).meta({ description });
const jitter = ms('Maximum random delay in ms added to each run start').nullable();
const cronField = z.union([z.number().int(), z.string().min(1)]);

// ------------------------------------------------------------------ triggers

const intervalTrigger = z
  .strictObject({
    type: z.literal('interval'),
    weeks: z.number().min(0).optional(),
    days: z.number().min(0).optional(),
    hours: z.number().min(0).optional(),
    minutes: z.number().min(0).optional(),
    seconds: z.number().min(0).optional(),
    milliseconds: z.number().min(0).optional(),
    startDate: dateInput.optional(),
    endDate: dateInput.optional(),
    timezone: timezone.optional(),
    jitter: jitter.optional(),
  })
  .meta({ description: 'Every fixed amount of elapsed time (the sum of the unit fields).' });

const dateTrigger = z
  .strictObject({ type: z.literal('date'), runDate: dateInput, timezone: timezone.optional() })
  .meta({ description: 'Once, at `runDate`.' });

const cronTrigger = z
  .strictObject({
    type: z.literal('cron'),
    expression: z.string().min(1).optional().meta({
      description: 'A crontab expression (5, 6 or 7 fields, or a nickname); or give the fields instead',
    }),
    year: cronField.optional(),
    month: cronField.optional(),
    day: cronField.optional(),
    week: cronField.optional(),
    dayOfWeek: cronField.optional(),
    hour: cronField.optional(),
    minute: cronField.optional(),
    second: cronField.optional(),
    timezone: timezone.optional(),
    startDate: dateInput.optional(),
    endDate: dateInput.optional(),
    jitter: jitter.optional(),
    dayMatch: z.enum(['vixie', 'and']).optional(),
    dst: z
      .strictObject({
        gap: z.enum(['transition', 'shift', 'skip']).optional(),
        overlap: z.enum(['first', 'both']).optional(),
      })
      .optional(),
  })
  .meta({ description: 'When the wall clock in `timezone` matches a cron schedule (docs/cron.md).' });

const calendarIntervalTrigger = z
  .strictObject({
    type: z.literal('calendarInterval'),
    years: integer(0).optional(),
    months: integer(0).optional(),
    weeks: integer(0).optional(),
    days: integer(0).optional(),
    hour: integer(0, 23).optional(),
    minute: integer(0, 59).optional(),
    second: integer(0, 59).optional(),
    startDate: dateInput.optional(),
    endDate: dateInput.optional(),
    timezone: timezone.optional(),
    shortMonths: z.enum(['clamp', 'skip']).optional(),
    jitter: jitter.optional(),
  })
  .meta({ description: 'Every N years/months/weeks/days at a wall-clock time in `timezone`.' });

const childTrigger = z
  .looseObject({ type: z.string().min(1) })
  .meta({ description: 'A trigger in either input form' });
const combining = (type: 'and' | 'or') =>
  z
    .strictObject({
      type: z.literal(type),
      triggers: z.array(childTrigger).min(1),
      maxIterations: integer(1).optional(),
      threshold: ms('How far apart (ms) the children may fire and still agree').optional(),
      jitter: jitter.optional(),
    })
    .meta({
      description:
        type === 'and' ? 'When every child trigger fires at once.' : 'When any child trigger fires.',
    });

/** A trigger in the short form: `{ type: 'cron', expression: '0 9 * * *', timezone: 'Europe/Paris' }`. */
export const TriggerShorthand = z.discriminatedUnion('type', [
  intervalTrigger,
  dateTrigger,
  cronTrigger,
  calendarIntervalTrigger,
  combining('and'),
  combining('or'),
]);

/** A trigger's serialised form, as the API returns it in `job.trigger` (recognised by its `version`). */
export const TriggerJson = z
  .looseObject({ type: z.string().min(1), version: z.number().int() })
  .meta({ description: "A trigger's JSON form, as returned in `job.trigger`; recognised by `version`." });

/** Either trigger form. Requests are told apart by the presence of `version`. */
export const TriggerInput = z.union([TriggerJson, TriggerShorthand]).meta({ id: 'TriggerInput' });

// ------------------------------------------------------------------ jobs

const retry = z.union([
  integer(1, 1000).meta({ description: 'Total attempts with a fixed 1 s delay' }),
  z.strictObject({
    attempts: integer(1, 1000).optional(),
    backoff: z.enum(['fixed', 'exponential']).optional(),
    delay: ms('Base delay in ms').optional(),
    maxDelay: ms('Cap on the delay in ms').optional(),
    jitter: z.boolean().optional(),
  }),
  z.null(),
]);

const policy = {
  maxInstances: integer(1, 2_147_483_647).optional().meta({ description: 'Runs going at once. Default 1' }),
  misfireGraceTime: ms('How late (ms) a run may start; null = no limit').nullable().optional(),
  coalesce: z.boolean().optional().meta({ description: 'Collapse a backlog of fire times into one run' }),
  jitter: jitter.optional(),
  timeout: z.number().min(1).nullable().optional().meta({ description: 'Run timeout in ms; null = none' }),
  retry: retry.optional(),
};

const nextRunTime = dateInput
  .nullable()
  .meta({ description: 'First fire time instead of the trigger’s; null adds the job paused' });

/** Body of `POST /jobs`. */
export const CreateJobBody = z
  .strictObject({
    id: id.optional().meta({ description: 'Unique id; a random UUID when absent' }),
    name: id.optional().meta({ description: 'Name shown in logs and the API; the task id when absent' }),
    taskId: id.meta({ description: 'A task registered in the scheduler (`GET /status` lists them)' }),
    trigger: TriggerInput,
    args: z.array(z.unknown()).optional().meta({ description: 'Positional arguments for the task' }),
    ...policy,
    paused: z.boolean().optional(),
    nextRunTime: nextRunTime.optional(),
    replaceExisting: z.boolean().optional().meta({ description: 'Replace a job with the same id' }),
  })
  .meta({ id: 'CreateJob' });

/** Body of `PATCH /jobs/{id}`: at least one field. */
export const PatchJobBody = z
  .strictObject({
    name: id.optional(),
    args: z.array(z.unknown()).optional(),
    ...policy,
    nextRunTime: nextRunTime.optional(),
    trigger: TriggerInput.optional(),
  })
  .meta({ id: 'PatchJob' });

// ------------------------------------------------------------------ query strings

/**
 * An integer in a query string: decimal digits, with a leading `-` for a negative one (read, then checked
 * by the schema, so `offset=-1` gets the range error). Every other spelling is refused as sent, never read
 * as JavaScript would: `+5`, `5.0`, `2.5`, `0x10`, `1e3`, ` 5`, `-0`. Digits beyond the safe integers
 * (`99999999999999999999`) are read as a number above any maximum, so they get the range error (and the
 * error shows them as sent, not as `1e+20`); range checks come before the integer check, so a huge page size
 * is reported against the page size's maximum. The schema needs a maximum (see {@link MAX_QUERY_INTEGER}).
 */
const QUERY_INTEGER = /^(\d+|-0*[1-9]\d*)$/;

/** The maximum of a query integer that has no smaller one (`offset`): the largest safe integer. */
const MAX_QUERY_INTEGER = Number.MAX_SAFE_INTEGER;

const queryNumber = (schema: z.ZodNumber | z.ZodDefault<z.ZodNumber>) =>
  z.preprocess((v) => {
    if (typeof v !== 'string') return v;
    if (!QUERY_INTEGER.test(v)) return Number.NaN;
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : Math.sign(n) * Number.MAX_VALUE;
  }, schema);

const pageSize = queryNumber(integer(1, MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE)).meta({
  description: `Page size, at most ${MAX_PAGE_SIZE}`,
});
const offset = queryNumber(integer(0, MAX_QUERY_INTEGER)).meta({
  description: 'Items to skip',
});
const booleanString = z.enum(['true', 'false']).transform((v) => v === 'true');

/** Query of `GET /jobs`. */
export const ListJobsQuery = z.strictObject({
  taskId: id.optional().meta({ description: 'Only jobs of this task' }),
  paused: booleanString.optional().meta({ description: 'Only paused (`true`) or active (`false`) jobs' }),
  sort: z.enum(['id', 'nextRunTime', 'name']).default('id'),
  limit: pageSize,
  cursor: z.string().min(1).max(1000).optional().meta({ description: '`nextCursor` of the previous page' }),
  offset: offset.optional(),
});

/** Query of `GET /jobs/{id}`. */
export const GetJobQuery = z.strictObject({
  n: queryNumber(integer(0, MAX_PREVIEW).default(DEFAULT_PREVIEW)).meta({
    description: 'How many next fire times to preview',
  }),
});

/** Query of `GET /runs`. */
export const ListRunsQuery = z.strictObject({
  jobId: id.optional(),
  status: z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()))
    .pipe(z.array(z.enum(RUN_STATUSES)).min(1))
    .optional()
    .meta({ description: `Comma-separated statuses: ${RUN_STATUSES.join(', ')}` }),
  from: z.iso.datetime({ offset: true }).optional().meta({ description: 'Scheduled fire time >= this' }),
  to: z.iso.datetime({ offset: true }).optional().meta({ description: 'Scheduled fire time < this' }),
  limit: pageSize,
  offset: queryNumber(integer(0, MAX_QUERY_INTEGER).default(0)).meta({
    description: 'Items to skip',
  }),
  cursor: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .meta({ description: '`nextCursor` of the previous page (keyset paging: fast at any depth)' }),
});

/** Query of `GET /events`. */
export const EventsQuery = z.strictObject({
  events: z
    .string()
    .min(1)
    .optional()
    .meta({ description: 'Comma-separated event names to receive (all when absent), e.g. `job:executed`' }),
});

/** An empty query (routes without parameters). */
export const EmptyQuery = z.strictObject({});

/** Path parameters `{ id }`. */
export const IdParams = z.strictObject({ id });

// ------------------------------------------------------------------ responses (documentation)

const runStatus = z.enum(RUN_STATUSES);

/** A run in summary, as in `lastRun` and `recentRuns`. */
export const RunSummary = z
  .object({
    id: z.string(),
    status: runStatus,
    manual: z.boolean(),
    scheduledFireTime: isoDateTime,
    startedAt: isoDateTime.nullable(),
    finishedAt: isoDateTime.nullable(),
    duration: z
      .number()
      .nullable()
      .meta({ description: 'finishedAt − startedAt in ms; null until finished, and for an abandoned run' }),
  })
  .meta({ id: 'RunSummary' });

const errorInfo = z.object({
  name: z.string(),
  message: z.string(),
  code: z.string().optional(),
  stack: z.string().optional(),
});

/** A run. */
export const RunView = z
  .object({
    id: z.string(),
    jobId: z.string(),
    taskId: z.string(),
    status: runStatus,
    manual: z.boolean(),
    attempt: z.number().int(),
    owner: z.string().nullable(),
    scheduledFireTime: isoDateTime,
    notBefore: isoDateTime,
    leaseExpiresAt: isoDateTime.nullable(),
    startedAt: isoDateTime.nullable(),
    finishedAt: isoDateTime.nullable(),
    createdAt: isoDateTime,
    duration: z
      .number()
      .nullable()
      .meta({ description: 'finishedAt − startedAt in ms; null until finished, and for an abandoned run' }),
    lateness: z.number().nullable().meta({
      description:
        'startedAt − scheduledFireTime in ms (a retry, attempt > 1: startedAt − notBefore, the time it was due)',
    }),
    error: errorInfo.nullable(),
    result: z.unknown().optional(),
  })
  .meta({ id: 'Run' });

/** A job. */
export const JobView = z
  .object({
    id: z.string(),
    name: z.string(),
    taskId: z.string(),
    trigger: TriggerJson,
    triggerText: z.string().meta({ description: "APScheduler's form, e.g. `interval[0:00:01]`" }),
    description: z.string().meta({ description: 'The schedule in plain English' }),
    args: z.array(z.unknown()),
    maxInstances: z.number().int(),
    misfireGraceTime: z.number().nullable(),
    coalesce: z.boolean(),
    jitter: z.number().nullable(),
    timeout: z.number().nullable(),
    retry: z
      .object({
        attempts: z.number(),
        backoff: z.enum(['fixed', 'exponential']),
        delay: z.number(),
        maxDelay: z.number(),
        jitter: z.boolean(),
      })
      .nullable(),
    paused: z.boolean(),
    pending: z.boolean().meta({ description: 'Waiting for the scheduler to start' }),
    nextRunTime: isoDateTime.nullable(),
    quarantine: z.string().nullable().meta({
      description:
        'Why the scheduler paused the job because it could not plan it (a stored row that cannot be read, a trigger that threw); ended by a resume, a pause or a replacing add',
    }),
    version: z.number().int(),
    lastRun: RunSummary.nullable(),
  })
  .meta({ id: 'Job' });

/** `GET /jobs/{id}`. */
export const JobDetail = JobView.extend({
  nextFireTimes: z
    .array(isoDateTime)
    .meta({ description: 'The next `n` fire times (for a paused job: after a resume now)' }),
  recentRuns: z.array(RunSummary).meta({ description: 'The newest 10 runs' }),
  recentRunCounts: z
    .record(z.string(), z.number().int())
    .meta({ description: 'Counts by status over the newest 100 runs' }),
}).meta({ id: 'JobDetail' });

/** `GET /jobs`. */
export const JobList = z.object({ items: z.array(JobView), nextCursor: z.string().nullable() });
/** `GET /runs`. */
export const RunList = z.object({
  items: z.array(RunView),
  nextOffset: z.number().int().nullable().meta({ description: '`offset` of the next page' }),
  nextCursor: z.string().nullable().meta({ description: '`cursor` of the next page (faster than `offset`)' }),
});
/** `POST /jobs/{id}/resume` when the trigger had no fire time left and the job was removed. */
export const RemovedJob = z.object({ id: z.string(), removed: z.literal(true) });

/** `GET /status`. */
export const StatusView = z.object({
  state: z.enum(['stopped', 'running', 'paused', 'stopping']),
  nodeId: z.string(),
  timezone: z.string(),
  time: isoDateTime.meta({ description: "The scheduler clock's now" }),
  store: z.object({
    kind: z.string(),
    persistent: z.boolean(),
    health: z
      .object({
        ok: z.boolean(),
        latency: z.number().meta({ description: 'Round trip of a cheap store call, ms' }),
        error: z.string().optional(),
      })
      .nullable()
      .meta({ description: 'null before the scheduler has started the store' }),
  }),
  jobs: z.number().int(),
  tasks: z.array(z.string()),
  runningRuns: z.array(RunSummary.extend({ jobId: z.string() })),
});

/** `GET /nodes`: the scheduler processes sharing the store. */
export const NodesView = z
  .object({
    items: z.array(
      z.object({
        id: z.string().meta({ description: "The process's nodeId (the owner of its runs)" }),
        host: z.string(),
        pid: z.number().int(),
        startedAt: isoDateTime,
        lastSeenAt: isoDateTime.meta({
          description: 'When it last reported itself (every 10 s)',
        }),
        clockOffset: z.number().meta({ description: "The store's clock minus the process's, ms" }),
        runningRuns: z.number().int(),
        self: z.boolean().meta({ description: 'Whether it is the process answering' }),
      }),
    ),
  })
  .meta({ id: 'Nodes' });

/** Every error response. */
export const ErrorBody = z
  .object({
    code: z.string().meta({ description: 'Stable code (docs/errors.md, docs/http.md)' }),
    message: z.string(),
    details: z.looseObject({ field: z.string().optional() }),
  })
  .meta({ id: 'Error' });

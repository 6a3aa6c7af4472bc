/**
 * Cron: parser, engine, time zones and the trigger.
 * @module
 */
export {
  CronTrigger,
  type CronDstOptions,
  type CronFieldsOptions,
  type CronTriggerInit,
  type CronTriggerOptions,
} from './trigger.js';
export type { CronFieldName, CronFieldValue } from './parse.js';
export type { DstGapPolicy, DstOverlapPolicy } from './schedule.js';

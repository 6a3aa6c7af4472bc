/**
 * The trigger contract. A trigger computes fire times; it is pure (no clock, no I/O) and serialisable.
 * @module
 */

/** Serialised form of a trigger: its `type`, a format `version`, and the type's own fields. */
export interface TriggerJSON {
  type: string;
  version: number;
  [key: string]: unknown;
}

/**
 * Computes fire times. Semantics after APScheduler's `BaseTrigger.get_next_fire_time`.
 *
 * Implementations are immutable and deterministic: the same arguments always give the same answer, and
 * `fromJSON(toJSON())` gives a trigger that continues the same sequence.
 */
export interface Trigger {
  /** The type name used in {@link TriggerJSON.type}: `date`, `interval`, `cron`, `calendarInterval`, `and`, `or`. */
  readonly type: string;
  /**
   * Maximum random delay, in milliseconds, added to the start of each run (never to the schedule itself,
   * so fire times stay deterministic across processes). `null` for none.
   */
  readonly jitter: number | null;
  /**
   * The next fire time.
   *
   * @param previousFireTime the fire time that was last scheduled, or `null` when there was none yet.
   * @param now the current time.
   * @returns With `previousFireTime` null: the earliest fire time at or after `now` (a date trigger returns
   * its run date even when it is past, so the misfire grace time decides). Otherwise: the earliest fire time
   * strictly after `previousFireTime`, whatever `now` is. Never before the trigger's start date, never after
   * its end date; `null` when there is none.
   */
  getNextFireTime(previousFireTime: Date | null, now: Date): Date | null;
  /** Serialised form; `triggerFromJSON` turns it back into an equal trigger. */
  toJSON(): TriggerJSON;
  /** APScheduler's style: `interval[0:00:01]`, `date[2024-01-01 00:00:00 UTC]`, `cron[hour='*\/2']`. */
  toString(): string;
  /** The schedule in plain English: "Every 5 seconds", "At 09:00, Monday through Friday". */
  describe(): string;
}

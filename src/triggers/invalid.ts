/**
 * The stand-in for a stored trigger that cannot be read, so a job with a damaged row can still be listed,
 * inspected, paused, fixed (rescheduled) or removed. It never fires.
 * @module
 */
import type { Trigger, TriggerJSON } from './trigger.js';

/** A trigger that could not be decoded; `reason` says why. Never fires. */
export class InvalidTrigger implements Trigger {
  readonly type = 'invalid';
  readonly jitter = null;

  constructor(
    /** The stored JSON, as it was. */
    readonly stored: unknown,
    /** Why it could not be read. */
    readonly reason: string,
  ) {}

  getNextFireTime(): Date | null {
    return null;
  }

  /** The stored JSON unchanged, so saving a job never rewrites the damaged trigger. */
  toJSON(): TriggerJSON {
    return this.stored as TriggerJSON;
  }

  toString(): string {
    return 'invalid[]';
  }

  describe(): string {
    return `Cannot be read: ${this.reason}`;
  }
}

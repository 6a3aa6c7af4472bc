// Hints in the errors of common mistakes: the keys a trigger accepts, a cron expression given as the
// trigger kind, a year given in the sixth field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CronTrigger, Scheduler, TickworkError, silentLogger } from '../../src/index.js';

async function error(fn: () => unknown): Promise<TickworkError> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof TickworkError, `expected a TickworkError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an error');
}

const task = (): void => {};

test('an unknown cron option lists every accepted key, and `cron` is pointed to `expression`', async () => {
  const scheduler = new Scheduler({ logger: silentLogger });
  const err = await error(() => scheduler.addJob(task, 'cron', { cron: '0 9 * * *' } as never));
  assert.equal(err.code, 'UNKNOWN_OPTION');
  assert.equal(err.details.field, 'cron');
  assert.match(err.message, /did you mean `expression`\?/);
  for (const key of ['expression', 'dayMatch', 'timezone', 'hour', 'dayOfWeek'])
    assert.ok(err.message.includes(`\`${key}\``), `${key} listed: ${err.message}`);

  const typo = await error(() => new CronTrigger({ expression: '0 9 * * *', timezon: 'UTC' } as never));
  assert.equal(typo.code, 'UNKNOWN_OPTION');
  assert.equal(typo.details.field, 'timezon');
  assert.match(typo.message, /did you mean `timezone`\?\); expected one of .*`expression`.*`dayMatch`/);

  // Known keys of the other shape are refused saying why.
  const both = await error(() => new CronTrigger({ expression: '0 9 * * *', hour: 9 } as never));
  assert.equal(both.code, 'UNKNOWN_OPTION');
  assert.equal(both.details.field, 'hour');
  assert.match(both.message, /cannot be combined with `expression`/);
  const dayMatch = await error(() => new CronTrigger({ hour: 9, dayMatch: 'and' } as never));
  assert.equal(dayMatch.code, 'UNKNOWN_OPTION');
  assert.equal(dayMatch.details.field, 'dayMatch');
  assert.match(dayMatch.message, /applies to a cron `expression` only/);
});

test('a cron expression given as the trigger kind gets the shorthand form as a hint', async () => {
  const scheduler = new Scheduler({ logger: silentLogger });
  for (const expr of ['*/5 * * * *', '@daily', '0 0 1 1 * 2030']) {
    const err = await error(() => scheduler.addJob(task, expr as never));
    assert.equal(err.code, 'INVALID_TRIGGER');
    assert.equal(err.details.field, 'trigger');
    assert.ok(
      err.message.includes(`addJob(fn, 'cron', { expression: '${expr}' })`),
      `hint for ${expr}: ${err.message}`,
    );
  }
  const typo = await error(() => scheduler.addJob(task, 'crn' as never));
  assert.match(typo.message, /did you mean "cron"\?/);
  const other = await error(() => scheduler.addJob(task, 'hello' as never));
  assert.doesNotMatch(other.message, /cron expression|did you mean/);
});

test('a year in the sixth field: the cron error says that 6 fields are read seconds-first', async () => {
  for (const expr of ['0 0 1 1 * 2030', '0 0 1 1 * 2030-2032']) {
    const err = await error(() => new CronTrigger(expr));
    assert.equal(err.code, 'INVALID_CRON');
    assert.equal(err.details.field, 'dayOfWeek');
    assert.match(
      err.message,
      /day-of-week field: .*; 6 fields are read seconds-first .*: a year needs 7 fields/,
    );
  }
  // Also through addJob; and not for a bad day-of-week that is not a year, nor for 5 fields.
  const scheduler = new Scheduler({ logger: silentLogger });
  const viaAddJob = await error(() => scheduler.addJob(task, 'cron', { expression: '0 0 1 1 * 2030' }));
  assert.match(viaAddJob.message, /a year needs 7 fields/);
  for (const expr of ['0 0 1 1 * 9', '0 1 1 * 2030']) {
    const err = await error(() => new CronTrigger(expr));
    assert.equal(err.code, 'INVALID_CRON');
    assert.doesNotMatch(err.message, /year needs/);
  }
});

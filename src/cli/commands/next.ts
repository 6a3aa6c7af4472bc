/**
 * `tickwork next "<expr>" [--tz ZONE] [-n COUNT] [--after ISO]`: prints the next fire times of a cron
 * expression, one ISO 8601 timestamp with offset per line.
 * @module
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { isTickworkError } from '../../core/errors.js';
import { formatIsoInZone } from '../../core/timezone.js';
import { MAX_INSTANT, instant } from '../../core/validate.js';
import { CronTrigger } from '../../triggers/cron/index.js';
import { CliError, type CliIO } from '../program.js';

function count(value: string): number {
  if (!/^[0-9]+$/.test(value) || Number(value) < 1 || Number(value) > 10_000) {
    throw new InvalidArgumentError('expected an integer from 1 to 10000');
  }
  return Number(value);
}

/**
 * `--after`: an ISO 8601 date-time with an offset (`Z` or `+01:00`), a real calendar date, in years 0000 to
 * 9999. A time without an offset is refused: JavaScript would read it in the host's zone.
 */
function afterDate(value: string): Date {
  try {
    return instant(value, 'after');
  } catch {
    throw new InvalidArgumentError(
      'expected an ISO 8601 date-time with an offset, such as 2024-03-01T09:00:00Z or 2024-03-01T09:00:00+01:00',
    );
  }
}

/** Options of `tickwork next`. */
export interface NextOptions {
  tz: string;
  count: number;
  after?: Date;
  dayMatch?: 'vixie' | 'and';
}

/**
 * The lines `tickwork next` prints: up to `count` fire times strictly after `after` (default: now), as ISO
 * 8601 with the zone's offset; a final note when the schedule runs out.
 * @throws CliError for an invalid expression or zone (exit code 2), with the position of the bad token.
 */
export function nextLines(expression: string, options: NextOptions, now: Date = new Date()): string[] {
  let trigger: CronTrigger;
  try {
    trigger = new CronTrigger(expression, {
      timezone: options.tz,
      ...(options.dayMatch ? { dayMatch: options.dayMatch } : {}),
    });
  } catch (err) {
    if (isTickworkError(err)) {
      const pos = err.details.position;
      let msg = err.message;
      if (typeof pos === 'number' && err.code === 'INVALID_CRON') {
        msg += `\n  ${expression}\n  ${' '.repeat(pos)}^`;
      }
      throw new CliError(msg);
    }
    throw err;
  }
  const lines: string[] = [];
  let prev: Date = options.after ?? now;
  for (let i = 0; i < options.count; i++) {
    const next = trigger.getNextFireTime(prev, now);
    if (next === null || next.getTime() > MAX_INSTANT) {
      // Beyond 9999-12-31 an ISO 8601 time needs an expanded year: not printed.
      const tail = next === null ? '' : ' up to 9999-12-31';
      lines.push(i === 0 ? `# this schedule never fires${tail}` : `# no further fire times${tail}`);
      break;
    }
    lines.push(formatIsoInZone(next, trigger.timezone));
    prev = next;
  }
  return lines;
}

/** Registers `next` on the program. */
export function registerNext(program: Command, io: CliIO, now: () => Date = () => new Date()): void {
  program
    .command('next')
    .description('print the next fire times of a cron expression')
    .argument(
      '<expression>',
      'cron expression: 5, 6 (leading seconds) or 7 (trailing year) fields, or @daily etc.',
    )
    .option('--tz <zone>', 'IANA time zone the expression is read in', 'UTC')
    // The library's name of the option, as in `new CronTrigger(expr, { timezone })`.
    .addOption(new Option('--timezone <zone>', 'the same as --tz').conflicts('tz'))
    .option('-n, --count <n>', 'how many fire times to print', count, 5)
    .option('--after <iso>', 'print fire times strictly after this instant (default: now)', afterDate)
    .option('--and', 'always AND day-of-month and day-of-week (APScheduler); default: Vixie cron rule')
    .addHelpText(
      'after',
      '\nExamples:\n  tickwork next "0 9 * * mon-fri" --tz Europe/Berlin -n 10\n  tickwork next "@monthly" --after 2024-01-31T00:00:00Z',
    )
    .action(
      (
        expression: string,
        opts: { tz: string; timezone?: string; count: number; after?: Date; and?: boolean },
      ) => {
        const lines = nextLines(
          expression,
          {
            tz: opts.timezone ?? opts.tz,
            count: opts.count,
            ...(opts.after ? { after: opts.after } : {}),
            ...(opts.and ? { dayMatch: 'and' as const } : {}),
          },
          now(),
        );
        for (const line of lines) io.out(line);
      },
    );
}

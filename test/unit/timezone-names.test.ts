// Time-zone names are matched without regard to case (as Intl matches them) and kept in the zone database's
// spelling, so a trigger's JSON, toString() and describe() show `Europe/Berlin` whatever case was typed.
// Expected spellings are the IANA tz database's own names (its `zone1970.tab` and `backward` files).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CronTrigger,
  IntervalTrigger,
  MemoryStore,
  Scheduler,
  isTickworkError,
  silentLogger,
  type Trigger,
} from '../../src/index.js';
import type { TriggerJSON } from '../../src/triggers/trigger.js';
import { ManualClock } from '../../src/testing.js';
import { checkTimeZone } from '../../src/core/timezone.js';
import { DEFAULT_POLICY } from '../../src/core/job.js';

test("a zone name in another case gets the database's spelling; every name of UTC is UTC; links keep their name", () => {
  const cases: [string, string][] = [
    ['europe/berlin', 'Europe/Berlin'],
    ['EUROPE/BERLIN', 'Europe/Berlin'],
    ['Europe/Berlin', 'Europe/Berlin'],
    ['america/new_york', 'America/New_York'],
    ['etc/gmt+5', 'Etc/GMT+5'],
    ['utc', 'UTC'],
    ['Etc/UTC', 'UTC'],
    ['GMT', 'UTC'],
    ['Etc/GMT', 'UTC'],
    ['Zulu', 'UTC'],
    ['UCT', 'UTC'],
    ['Universal', 'UTC'],
    // Links (tzdb `backward`) keep the name given: Intl would report Asia/Calcutta and Europe/Kiev.
    ['Asia/Kolkata', 'Asia/Kolkata'],
    ['Europe/Kyiv', 'Europe/Kyiv'],
    ['US/Eastern', 'US/Eastern'],
  ];
  for (const [given, spelled] of cases) assert.equal(checkTimeZone(given), spelled, given);
});

test("triggers show the database's spelling in their JSON, toString() and describe()", () => {
  const cron = new CronTrigger('0 9 * * *', { timezone: 'europe/berlin' });
  assert.equal(cron.toJSON().timezone, 'Europe/Berlin');
  assert.equal(String(cron), "cron[expression='0 9 * * *', timezone='Europe/Berlin']");
  assert.match(cron.describe(), /Europe\/Berlin/);
  assert.doesNotMatch(cron.describe(), /europe\/berlin/);
  assert.equal(new CronTrigger('0 9 * * *', { timezone: 'utc' }).toJSON().timezone, 'UTC');
  const interval = new IntervalTrigger({ hours: 1, timezone: 'america/new_york' });
  assert.equal(interval.toJSON().timezone, 'America/New_York');
});

test('an unknown zone, an offset or a non-string is still INVALID_TIMEZONE naming the field', () => {
  for (const bad of ['Mars/Olympus', '+01:00', 'Z', '', 5, null]) {
    assert.throws(
      () => checkTimeZone(bad, 'trigger.timezone'),
      (err: unknown) => isTickworkError(err, 'INVALID_TIMEZONE') && err.details.field === 'trigger.timezone',
      String(bad),
    );
  }
});

test('a job stored with a zone in another case or another name of UTC (as earlier versions stored it) is unchanged by a re-add of the same definition at boot: it keeps its owed nextRunTime', async () => {
  const T = Date.parse('2024-03-01T12:00:00Z');
  // Written as the definition was typed, before names were spelled as the zone database does.
  const stored: [string, Record<string, unknown>, () => Trigger][] = [
    [
      'cron',
      { type: 'cron', version: 1, expression: '0 3 * * *', timezone: 'europe/berlin' },
      () => new CronTrigger('0 3 * * *', { timezone: 'europe/berlin' }),
    ],
    [
      'zulu',
      { type: 'cron', version: 1, expression: '0 3 * * *', timezone: 'Zulu' },
      () => new CronTrigger('0 3 * * *', { timezone: 'Zulu' }),
    ],
    [
      'interval',
      {
        type: 'interval',
        version: 1,
        milliseconds: 3_600_000,
        startDate: '2024-01-01T00:00:00.000Z',
        timezone: 'utc',
      },
      () => new IntervalTrigger({ hours: 1, startDate: '2024-01-01T00:00:00Z', timezone: 'utc' }),
    ],
  ];
  const store = new MemoryStore();
  await store.start({ nodeId: 'n', now: () => T });
  const owed = new Date(T - 3_600_000); // a fire time that fell while no process ran
  for (const [id, trigger] of stored) {
    const base = new Date(T - 86_400_000);
    await store.addJob(
      {
        id,
        name: id,
        taskId: 'work',
        trigger: trigger as TriggerJSON,
        args: [],
        ...DEFAULT_POLICY, // what the re-add below gets: only the trigger's spelling differs
        paused: false,
        nextRunTime: owed,
        quarantine: null,
        version: 1,
        createdAt: base,
        updatedAt: base,
      },
      'error',
    );
  }
  const s = new Scheduler({ clock: new ManualClock(T), store, logger: silentLogger });
  s.defineTask('work', () => {});
  for (const [id, , make] of stored) await s.addJob('work', make(), { id, name: id, replaceExisting: true });
  await s.start({ paused: true });
  for (const [id] of stored) {
    const job = (await store.getJob(id))!;
    assert.equal(job.nextRunTime!.getTime(), owed.getTime(), id);
    assert.equal(job.version, 1, `${id}: not written`);
  }
  await s.shutdown();
});

test('every name of UTC is UTC also where Intl reports the name given rather than the primary one', () => {
  // ECMA-402 with the Time Zone Canonicalization proposal (tc39/proposal-canonical-tz):
  // resolvedOptions().timeZone is the name given, in the database's case ('Etc/Zulu' stays 'Etc/Zulu').
  // Engine as such, Intl.DateTimeFormat is replaced; the names are ones no other test here checks (the
  // answers are cached per name). The UTC names are tzdb's `etcetera` and `backward` links to Etc/UTC and
  // Etc/GMT.
  const Original = Intl.DateTimeFormat;
  class GivenName extends Original {
    private readonly given: string | undefined;
    constructor(locales?: string | string[], options?: Intl.DateTimeFormatOptions) {
      super(locales, options);
      this.given = options?.timeZone;
    }
    override resolvedOptions(): Intl.ResolvedDateTimeFormatOptions {
      const resolved = super.resolvedOptions();
      // (the names below are given in the database's case already)
      return this.given === undefined ? resolved : { ...resolved, timeZone: this.given };
    }
  }
  Object.defineProperty(Intl, 'DateTimeFormat', { value: GivenName, configurable: true, writable: true });
  try {
    for (const name of ['Etc/Zulu', 'Etc/Universal', 'Etc/UCT', 'Etc/GMT0', 'GMT-0', 'Etc/Greenwich']) {
      assert.equal(checkTimeZone(name), 'UTC', name);
    }
  } finally {
    Object.defineProperty(Intl, 'DateTimeFormat', { value: Original, configurable: true, writable: true });
  }
});

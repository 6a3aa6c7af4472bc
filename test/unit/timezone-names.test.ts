// Time-zone names are matched without regard to case (as Intl matches them) and kept in the zone database's
// spelling, so a trigger's JSON, toString() and describe() show `Europe/Berlin` whatever case was typed.
// Expected spellings are the IANA tz database's own names (its `zone1970.tab` and `backward` files).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CronTrigger, IntervalTrigger, isTickworkError } from '../../src/index.js';
import { checkTimeZone } from '../../src/core/timezone.js';

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

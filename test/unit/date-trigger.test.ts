// DateTrigger: instants, local wall times in a zone, past dates, JSON, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DateTrigger, TickworkError, triggerFromJSON } from '../../src/index.js';
import { at, loadVectors, vector } from '../helpers/time.js';

interface BugCase {
  id: string;
  timezone: string;
  expected: string[];
  input: { run_at_local: string };
}

test('date-wall-time-in-zone: 18:08 in Chicago in August is 23:08Z (CDT), whatever the host zone', () => {
  const c = vector(loadVectors<BugCase>('bug-cases.json'), 'date-wall-time-in-zone');
  const t = new DateTrigger({ runDate: c.input.run_at_local, timezone: c.timezone });
  assert.equal(t.runDate.getTime(), at(c.expected[0]!));
  assert.equal(String(t), 'date[2021-08-04 18:08:00 CDT]');
  // In winter the same wall time is CST (-06:00).
  assert.equal(
    new DateTrigger({ runDate: '2021-01-04T18:08:00', timezone: c.timezone }).runDate.toISOString(),
    '2021-01-05T00:08:00.000Z',
  );
});

test('an instant with an offset, a Date or epoch ms is taken as is', () => {
  const iso = '2024-05-01T10:00:00+02:00';
  for (const runDate of [iso, new Date(iso), Date.parse(iso)]) {
    assert.equal(
      new DateTrigger({ runDate, timezone: 'Asia/Tokyo' }).runDate.toISOString(),
      '2024-05-01T08:00:00.000Z',
    );
  }
  assert.equal(new DateTrigger(iso).runDate.toISOString(), '2024-05-01T08:00:00.000Z');
  assert.equal(String(new DateTrigger(iso)), 'date[2024-05-01 08:00:00 UTC]');
});

test('fires once: the run date first (even when past), then nothing', () => {
  const t = new DateTrigger('2024-01-01T00:00:00Z');
  const later = new Date('2024-06-01T00:00:00Z');
  assert.equal(t.getNextFireTime(null, later)!.toISOString(), '2024-01-01T00:00:00.000Z');
  assert.equal(
    t.getNextFireTime(null, new Date('2023-01-01T00:00:00Z'))!.toISOString(),
    '2024-01-01T00:00:00.000Z',
  );
  assert.equal(t.getNextFireTime(new Date('2024-01-01T00:00:00Z'), later), null);
});

test('toJSON/fromJSON round-trips', () => {
  const t = new DateTrigger({ runDate: '2021-08-04T18:08:00', timezone: 'America/Chicago' });
  const back = triggerFromJSON(JSON.parse(JSON.stringify(t.toJSON()))) as DateTrigger;
  assert.ok(back instanceof DateTrigger);
  assert.equal(back.runDate.getTime(), t.runDate.getTime());
  assert.equal(back.timezone, 'America/Chicago');
  assert.deepEqual(back.toJSON(), t.toJSON());
  assert.equal(back.getNextFireTime(null, new Date(0))!.getTime(), t.runDate.getTime());
});

test('invalid parameters throw TickworkError with a stable code and details.field', () => {
  const cases: [() => unknown, string, string][] = [
    [() => new DateTrigger({} as never), 'INVALID_OPTION', 'runDate'],
    [() => new DateTrigger('tomorrow'), 'INVALID_OPTION', 'runDate'],
    [() => new DateTrigger('2024-02-30T10:00:00'), 'INVALID_OPTION', 'runDate'],
    [
      () => new DateTrigger({ runDate: '2024-01-01T00:00:00Z', timezone: 'Nowhere/City' }),
      'INVALID_TIMEZONE',
      'timezone',
    ],
    [() => new DateTrigger({ runDate: '2024-01-01T00:00:00Z', when: 1 } as never), 'UNKNOWN_OPTION', 'when'],
  ];
  for (const [fn, code, field] of cases) {
    assert.throws(fn, (err: unknown) => {
      assert.ok(err instanceof TickworkError, String(err));
      assert.equal(err.code, code);
      assert.equal(err.details.field, field);
      return true;
    });
  }
});

test('a runDate that is no date names the local form it may also take, in the trigger zone', () => {
  for (const [input, zone] of [
    ['tomorrow', 'Europe/Berlin'],
    ['2030-12-01T9:00', 'UTC'],
  ] as const) {
    assert.throws(
      () => new DateTrigger({ runDate: input, timezone: zone }),
      (err: unknown) => {
        assert.ok(err instanceof TickworkError, String(err));
        assert.equal(err.code, 'INVALID_OPTION');
        assert.equal(err.details.field, 'runDate');
        assert.equal(
          err.message,
          'Expected `runDate` to be a Date, epoch milliseconds or an ISO 8601 date-time, with an offset or ' +
            `without one (read in ${zone}, such as "2030-12-01T09:00:00"), got \`${JSON.stringify(input)}\``,
        );
        return true;
      },
    );
  }
});

// Fire times past the year 9999: stores keep times of the years 0000 to 9999 only, so such a fire time ends
// the schedule (as a trigger's end would) instead of being stored and read back as no time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CalendarIntervalTrigger,
  IntervalTrigger,
  Scheduler,
  isTickworkError,
  silentLogger,
} from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';
import { createApi } from '../../src/http/index.js';
import { onSqlite } from '../helpers/sqlite.js';

test('addJob refuses a trigger whose first fire time is past the year 9999 (TRIGGER_NEVER_FIRES)', async () => {
  await onSqlite(async ({ scheduler }) => {
    scheduler.defineTask('t', () => {});
    await scheduler.start();
    try {
      // Every 10,000 years from 2020-01-01: the next fire time after 2024 is 12020-01-01.
      const trigger = new CalendarIntervalTrigger({ years: 10_000, startDate: '2020-01-01' });
      await assert.rejects(
        scheduler.addJob('t', trigger, { id: 'far' }),
        (err: unknown) => isTickworkError(err, 'TRIGGER_NEVER_FIRES') && err.details.field === 'trigger',
      );
      assert.equal(await scheduler.getJob('far'), null);
      // modifyJob with such a trigger changes nothing.
      await scheduler.addJob('t', new IntervalTrigger({ hours: 1 }), { id: 'near' });
      await assert.rejects(scheduler.modifyJob('near', { trigger }), (err: unknown) =>
        isTickworkError(err, 'TRIGGER_NEVER_FIRES'),
      );
      assert.equal((await scheduler.getJob('near'))?.nextRunTime?.toISOString(), '2024-01-01T01:00:00.000Z');
    } finally {
      await scheduler.shutdown();
    }
  });
});

test('a job whose next fire time would be past the year 9999 fires its last one and is removed', async () => {
  {
    const clock = new ManualClock('9999-12-31T23:59:50Z');
    const scheduler = new Scheduler({ clock, logger: silentLogger });
    const fired: string[] = [];
    const quarantined: string[] = [];
    scheduler.on('job:quarantined', (e) => quarantined.push(e.jobId));
    scheduler.defineTask('t', ({ scheduledFireTime }) => {
      fired.push(scheduledFireTime.toISOString());
    });
    await scheduler.start();
    try {
      // Every second from 23:59:58: fire times 23:59:58 and 23:59:59; the next, 10000-01-01, is no time.
      await scheduler.addJob(
        't',
        new IntervalTrigger({ seconds: 1, startDate: '9999-12-31T23:59:58Z', timezone: 'UTC' }),
        { id: 'last' },
      );
      await clock.advance(12_000);
      assert.deepEqual(fired, ['9999-12-31T23:59:58.000Z', '9999-12-31T23:59:59.000Z']);
      assert.deepEqual(quarantined, []);
      assert.equal(await scheduler.getJob('last'), null);
    } finally {
      await scheduler.shutdown();
    }
  }
});

test('GET /jobs/{id} lists the fire times up to the end of the year 9999', async () => {
  await onSqlite(async ({ clock, scheduler }) => {
    scheduler.defineTask('t', () => {});
    await scheduler.start();
    try {
      clock.jump(Date.parse('9999-12-31T23:59:50Z') - clock.now());
      await scheduler.addJob('t', new IntervalTrigger({ seconds: 1, startDate: '9999-12-31T23:59:57Z' }), {
        id: 'end',
        paused: true,
      });
      const api = createApi(scheduler, { auth: false });
      const res = await api.handle(new Request('http://localhost/scheduler/jobs/end?n=10'));
      assert.equal(res.status, 200);
      const body = (await res.json()) as { nextFireTimes: string[] };
      assert.deepEqual(body.nextFireTimes, [
        '9999-12-31T23:59:57.000Z',
        '9999-12-31T23:59:58.000Z',
        '9999-12-31T23:59:59.000Z',
      ]);
      await api.close?.();
    } finally {
      await scheduler.shutdown();
    }
  });
});

// Breaker: lifecycle races.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler, silentLogger } from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';

test('a second concurrent shutdown() resolves only once the scheduler has stopped', async () => {
  const clock = new ManualClock('2024-01-01T00:00:00Z');
  const scheduler = new Scheduler({ clock, logger: silentLogger });
  let finished = false;
  scheduler.defineTask('t', async () => {
    await clock.sleep(5000);
    finished = true;
  });
  await scheduler.addJob('t', 'date', { runDate: '2024-01-01T00:00:01Z', id: 'j' });
  await scheduler.start();
  await clock.advance(1500);
  const seen: string[] = [];
  const first = scheduler.shutdown().then(() => seen.push(`first:${finished}:${scheduler.state}`));
  const second = scheduler.shutdown().then(() => seen.push(`second:${finished}:${scheduler.state}`));
  await clock.advance(10_000);
  await Promise.all([first, second]);
  assert.ok(seen.includes('second:true:stopped'), `second shutdown resolved early: ${seen.join(', ')}`);
});

test('a job removed while its run is going is not retried, and never runs without its args', async () => {
  const clock = new ManualClock('2024-01-01T00:00:00Z');
  const scheduler = new Scheduler({ clock, logger: silentLogger });
  const firstArgs: unknown[] = [];
  scheduler.defineTask('t', async (a: unknown) => {
    firstArgs.push(a);
    await clock.sleep(2000);
    throw new Error('fail');
  });
  await scheduler.addJob('t', 'interval', {
    seconds: 10,
    id: 'j',
    args: ['hello'],
    retry: { attempts: 3, backoff: 'fixed', delay: 1000, jitter: false },
  });
  await scheduler.start();
  await clock.advance(11_000); // the run started at 10 s is going
  await scheduler.removeJob('j');
  await clock.advance(20_000);
  await scheduler.shutdown();
  assert.deepEqual(firstArgs, ['hello'], 'the task ran again after its job was removed');
});

// One process of the SQLite multi-process test: a Scheduler on the shared file, adding the same 50 ms interval
// job as its siblings (replaceExisting, as at every boot), running until `end`, then printing the fire times
// it executed as JSON. With a fourth argument `seed`, it only stores the job and exits (the test seeds the
// schedule before the processes boot, so a slow boot cannot move the first fire time).
import { Scheduler, silentLogger } from '../../src/index.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';

const [file, startArg, endArg, mode] = process.argv.slice(2) as [string, string, string, string?];
const start = Number(startArg);
const end = Number(endArg);
const executed: number[] = [];
const scheduler = new Scheduler({
  store: new SqliteStore({ path: file, busyTimeout: 10_000, changePollInterval: 20 }),
  logger: silentLogger,
  maxWakeInterval: 1000,
});
scheduler.defineTask('tick', (ctx: { scheduledFireTime: Date }) => {
  executed.push(ctx.scheduledFireTime.getTime());
});
await scheduler.start({ paused: mode === 'seed' });
await scheduler.addJob('tick', 'interval', {
  id: 'tick',
  milliseconds: 50,
  startDate: new Date(start),
  coalesce: false,
  misfireGraceTime: null,
  maxInstances: 100,
  replaceExisting: true,
  // The seed fixes the first fire time even if it boots late; the others keep it (same trigger).
  ...(mode === 'seed' ? { nextRunTime: new Date(start) } : {}),
});
if (mode === 'seed') {
  await scheduler.shutdown();
  process.exit(0);
}
await new Promise((r) => setTimeout(r, end + 1000 - Date.now()));
await scheduler.shutdown();
process.stdout.write(JSON.stringify(executed));

// One process of the SQLite multi-process test: a Scheduler on the shared file, adding the same 50 ms interval
// job as its siblings (replaceExisting, as at every boot), running until `end`, then printing the fire times
// it executed as JSON.
import { Scheduler, silentLogger } from '../../src/index.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';

const [file, startArg, endArg] = process.argv.slice(2) as [string, string, string];
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
await scheduler.start();
await scheduler.addJob('tick', 'interval', {
  id: 'tick',
  milliseconds: 50,
  startDate: new Date(start),
  coalesce: false,
  misfireGraceTime: null,
  maxInstances: 100,
  replaceExisting: true,
});
await new Promise((r) => setTimeout(r, end + 1000 - Date.now()));
await scheduler.shutdown();
process.stdout.write(JSON.stringify(executed));

// A worker thread for the SQLite concurrency test: its own connection to the shared file, firing until
// nothing is due at the given `now`. Posts 'ready' once its store is open and starts on the next message
// (all workers start together), then posts the (job, fire time) pairs it planned and inserted.
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteStore } from '../../src/stores/sqlite/index.js';

const { file, now, limit } = workerData as { file: string; now: number; limit: number };
const store = new SqliteStore({ path: file, busyTimeout: 20_000 });
await store.start({ nodeId: 'worker', now: () => now });
parentPort!.postMessage('ready');
await new Promise((resolve) => parentPort!.once('message', resolve));
const planned: string[] = [];
const inserted: string[] = [];
for (;;) {
  const r = await store.fireDueJobs(new Date(now), limit, (job) => {
    const t = job.nextRunTime!;
    planned.push(`${job.id}@${t.getTime()}`);
    return {
      runs: [{ scheduledFireTime: t, status: 'pending', notBefore: t }],
      nextRunTime: new Date(t.getTime() + 1000),
      remove: false,
    };
  });
  for (const f of r.fired)
    for (const run of f.runs) inserted.push(`${run.jobId}@${run.scheduledFireTime.getTime()}`);
  if (r.fired.length === 0 && !r.more) break;
  // A scheduler does other work between passes; without a pause one thread can take the write lock again
  // and again while the others sleep in SQLite's busy handler, and the test would not be concurrent.
  await new Promise((resolve) => setTimeout(resolve, 1));
}
await store.stop();
parentPort!.postMessage({ planned, inserted });

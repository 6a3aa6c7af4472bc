// A JavaScript task module for the built package's worker pool.
import { threadId } from 'node:worker_threads';

export async function square(n, ctx) {
  return { square: n * n, threadId, jobId: ctx.jobId };
}

// The memory store's job listing: a page is chosen by a bounded heap (Smallest), not by sorting every job.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { JobRecord } from '../../src/core/structures.js';
import { Smallest } from '../../src/stores/memory/heap.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import type { JobFilter } from '../../src/stores/store.js';
import { job } from '../contract/store-contract.js';

const byNumber = (a: number, b: number) => a - b;

test('Smallest keeps the k smallest of what it is offered, in order: what a full sort gives first (property)', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: -1000, max: 1000 })), fc.nat(30), (xs, k) => {
      const s = new Smallest(k, byNumber);
      for (const x of xs) s.offer(x);
      // The reference: a full sort of a copy.
      assert.deepEqual(s.sorted(), [...xs].sort(byNumber).slice(0, k));
    }),
    { numRuns: 500, seed: 20261201 },
  );
});

test('Smallest chooses 51 of 100,000 with about one comparison per item, where a sort needs about 17', () => {
  // A fixed pseudo-random permutation of 0..n-1 (a multiplicative step coprime to n).
  const n = 100_000;
  let comparisons = 0;
  const s = new Smallest(51, (a: number, b: number) => {
    comparisons++;
    return a - b;
  });
  for (let i = 0; i < n; i++) s.offer((i * 7919) % n);
  const page = s.sorted();
  assert.deepEqual(
    page,
    Array.from({ length: 51 }, (_, i) => i),
  );
  // n log2 n is about 1.7 million for a sort; the heap compares each item with its top, and only items that
  // enter the heap (about k ln(n/k), a few hundred in a random order) cost log2 k more each.
  assert.ok(comparisons < 2 * n, `${comparisons} comparisons`);
});

test('memory store pages equal a full filter and sort of the jobs, for every order, filter, offset and limit (property)', async () => {
  const store = new MemoryStore();
  await store.start({ nodeId: 'test', now: () => Date.now() });
  const base = Date.now() + 3_600_000;
  const jobs: JobRecord[] = [];
  // Names and next run times from few values, so that ties are broken by id.
  for (let i = 0; i < 300; i++) {
    const j = job(`job-${(i * 37) % 300}`, {
      name: ['b', 'a', '\u{1F600}', '\uFF5E', ''][i % 5]!,
      paused: i % 7 === 0,
      taskId: i % 3 === 0 ? 't1' : 't2',
      nextRunTime: i % 11 === 0 ? null : new Date(base + (i % 13) * 1000),
    });
    jobs.push(j);
    await store.addJob(j, 'error');
  }
  // The reference, written out here: code point order via arrays of code points.
  const cp = (s: string) => Array.from(s, (c) => c.codePointAt(0)!);
  const cmpCp = (a: string, b: string) => {
    const x = cp(a);
    const y = cp(b);
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
    return x.length - y.length;
  };
  const reference = (f: JobFilter) => {
    const key = (j: JobRecord) => j.nextRunTime?.getTime() ?? Infinity;
    const list = jobs
      .filter(
        (j) =>
          (f.ids === undefined || f.ids.includes(j.id)) &&
          (f.taskId === undefined || j.taskId === f.taskId) &&
          (f.paused === undefined || j.paused === f.paused) &&
          (f.afterId === undefined || cmpCp(j.id, f.afterId) > 0),
      )
      .sort((a, b) =>
        f.sort === 'name'
          ? cmpCp(a.name, b.name) || cmpCp(a.id, b.id)
          : f.sort === 'nextRunTime'
            ? key(a) - key(b) || cmpCp(a.id, b.id)
            : cmpCp(a.id, b.id),
      );
    const offset = f.offset ?? 0;
    return list.slice(offset, f.limit === undefined ? undefined : offset + f.limit).map((j) => j.id);
  };
  const id = fc.nat(299).map((i) => `job-${i}`);
  await fc.assert(
    fc.asyncProperty(
      fc.record(
        {
          sort: fc.constantFrom('id' as const, 'name' as const, 'nextRunTime' as const),
          paused: fc.boolean(),
          taskId: fc.constantFrom('t1', 't2'),
          afterId: id,
          ids: fc.array(id, { maxLength: 20 }),
          offset: fc.nat(320),
          limit: fc.nat(80),
        },
        { requiredKeys: [] },
      ),
      async (f) => {
        assert.deepEqual(
          (await store.getJobs(f)).map((j) => j.id),
          reference(f),
        );
      },
    ),
    { numRuns: 300, seed: 20261201 },
  );
  await store.stop();
});

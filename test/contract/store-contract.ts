// The store conformance suite: every rule of src/stores/store.ts, run against each store on the real server by
// the *.test.ts files beside this one. Expected values are worked out from the inputs each test gives, never
// read back from the store under test.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isTickworkError } from '../../src/core/errors.js';
import type { JobRecord, RunRecord } from '../../src/core/structures.js';
import { compareCodePoints } from '../../src/stores/common.js';
import type { FireContext, FirePlan, FirePlanner, Store, StoreChange } from '../../src/stores/store.js';
import { IntervalTrigger, triggerFromJSON } from '../../src/triggers/index.js';

/** One store under test, with what the suite needs to reach around it. */
export interface Harness {
  store: Store;
  /** A second, independently connected store on the same data (persistent stores). */
  another?: () => Promise<Store>;
  /** Writes `text` into a JSON column of a stored job, bypassing the store (persistent stores). */
  corrupt?: (jobId: string, column: 'trigger' | 'args', text: string) => Promise<void>;
  /** Prunes by the store's own retention method, when it has one. */
  prune?: () => Promise<unknown>;
  /** Stops stores and drops what the harness created. */
  cleanup(): Promise<void>;
}

export interface ContractOptions {
  /** `database`: the store ignores `now` arguments and uses its server's clock (PostgreSQL). */
  clock: 'caller' | 'database';
  /** Whether the store keeps data outside the process (enables the corrupt-row and second-instance tests). */
  persistent: boolean;
}

export type MakeHarness = (options: { maxRunsPerJob?: number }) => Promise<Harness>;

const HOUR = 3_600_000;
const MIN = 60_000;
/** How far a database clock may be from this process's, for assertions on times the database chose. */
const SKEW = 10_000;

export function job(id: string, overrides: Partial<JobRecord> = {}): JobRecord {
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);
  return {
    id,
    name: `name of ${id}`,
    taskId: 'task-a',
    trigger: { type: 'interval', version: 1, seconds: 60, nested: { b: 2, a: [1, 'x'] } },
    args: ['a', 2, { k: [true, null] }],
    maxInstances: 1,
    misfireGraceTime: 1000,
    coalesce: true,
    jitter: null,
    timeout: 5000,
    retry: { attempts: 3, backoff: 'exponential', delay: 100, maxDelay: 1000, jitter: false },
    paused: false,
    nextRunTime: new Date(now.getTime() + HOUR),
    quarantine: null,
    version: 1,
    createdAt: now,
    updatedAt: now,
    ...overrides,
  };
}

/** A planner that creates one pending run at the job's `nextRunTime` and moves it `step` ms later. */
export function simplePlanner(
  step = HOUR,
  calls: { id: string; context: FireContext }[] = [],
  custom: (j: JobRecord, c: FireContext) => Partial<FirePlan> = () => ({}),
): FirePlanner {
  return (j, context) => {
    calls.push({ id: j.id, context });
    const t = j.nextRunTime!;
    return {
      runs: [{ scheduledFireTime: t, status: 'pending', notBefore: t }],
      nextRunTime: new Date(t.getTime() + step),
      remove: false,
      ...custom(j, context),
    };
  };
}

/** A planner like the scheduler's: quarantines a job whose trigger `triggerFromJSON` rejects, else simple. */
function quarantiningPlanner(): FirePlanner {
  return (j, ctx) => {
    try {
      triggerFromJSON(j.trigger);
    } catch (err) {
      return { runs: [], nextRunTime: null, remove: false, quarantine: (err as Error).message };
    }
    return simplePlanner()(j, ctx);
  };
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isTickworkError(err), `expected a TickworkError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

const ms = (d: Date | null | undefined) => (d ? d.getTime() : null);
const delay = (n: number) => new Promise((r) => setTimeout(r, n));

/** Runs the whole suite against `makeHarness`. */
export function runStoreContract(name: string, makeHarness: MakeHarness, options: ContractOptions): void {
  const dbClock = options.clock === 'database';

  /** Asserts a time the store chose from "now": exact for caller clocks, near real time for database clocks. */
  function assertNowish(actual: Date | null, expected: number, what: string): void {
    assert.ok(actual, `${what} is set`);
    if (dbClock) {
      assert.ok(
        Math.abs(actual.getTime() - expected) < SKEW,
        `${what}: ${actual.toISOString()} is near ${new Date(expected).toISOString()}`,
      );
    } else assert.equal(actual.getTime(), expected, what);
  }

  function it(title: string, fn: (h: Harness) => Promise<void>, opts: { maxRunsPerJob?: number } = {}): void {
    test(title, async () => {
      const h = await makeHarness(opts);
      try {
        await fn(h);
      } finally {
        await h.cleanup();
      }
    });
  }

  /** Adds `j` and fires it once with the simple planner; resolves to its one run. */
  async function fireOne(store: Store, j: JobRecord): Promise<RunRecord> {
    await store.addJob(j, 'error');
    const result = await store.fireDueJobs(new Date(), 100, simplePlanner());
    const fired = result.fired.find((f) => f.job.id === j.id);
    assert.ok(fired, `job ${j.id} fired`);
    assert.equal(fired.runs.length, 1);
    return fired.runs[0]!;
  }

  describe(`store contract: ${name}`, () => {
    // ------------------------------------------------------------------ jobs

    it('addJob stores every field and sets version 1; getJob returns it; unknown ids give null', async ({
      store,
    }) => {
      const j = job('a', { version: 7, jitter: 250, misfireGraceTime: null, timeout: null });
      const res = await store.addJob(j, 'error');
      assert.equal(res.outcome, 'added');
      assert.deepEqual(res.job, { ...j, version: 1 });
      assert.deepEqual(await store.getJob('a'), { ...j, version: 1 });
      const bare = job('b', { retry: null, args: [], nextRunTime: null, paused: true });
      await store.addJob(bare, 'error');
      assert.deepEqual(await store.getJob('b'), { ...bare, version: 1 });
      assert.equal(await store.getJob('nope'), null);
    });

    it('addJob with `error` rejects JOB_CONFLICT and leaves the stored job alone', async ({ store }) => {
      const j = job('a');
      await store.addJob(j, 'error');
      await rejectsWith(store.addJob(job('a', { name: 'other' }), 'error'), 'JOB_CONFLICT');
      assert.equal((await store.getJob('a'))!.name, 'name of a');
    });

    it('addJob with `keep` returns the stored job untouched', async ({ store }) => {
      await store.addJob(job('a'), 'error');
      const res = await store.addJob(job('a', { name: 'other', maxInstances: 9 }), 'keep');
      assert.equal(res.outcome, 'kept');
      assert.equal(res.job.name, 'name of a');
      const stored = (await store.getJob('a'))!;
      assert.equal(stored.name, 'name of a');
      assert.equal(stored.maxInstances, 1);
      assert.equal(stored.version, 1);
    });

    it('addJob with `replace` and an unchanged trigger keeps nextRunTime and createdAt', async ({
      store,
    }) => {
      const owed = new Date(Date.now() - 5 * MIN);
      const created = new Date(Date.now() - 10 * HOUR);
      await store.addJob(job('a', { nextRunTime: owed, createdAt: created }), 'error');
      // Same trigger with its keys in another order: deep-equal JSON.
      const again = job('a', {
        name: 'renamed',
        maxInstances: 3,
        trigger: { nested: { a: [1, 'x'], b: 2 }, seconds: 60, version: 1, type: 'interval' },
        nextRunTime: new Date(Date.now() + HOUR),
      });
      const res = await store.addJob(again, 'replace');
      assert.equal(res.outcome, 'replaced');
      assert.equal(ms(res.job.nextRunTime), owed.getTime());
      const stored = (await store.getJob('a'))!;
      assert.equal(stored.name, 'renamed');
      assert.equal(stored.maxInstances, 3);
      assert.equal(ms(stored.nextRunTime), owed.getTime());
      assert.equal(ms(stored.createdAt), created.getTime());
      assert.ok(stored.version > 1, 'version moved on');
    });

    it('addJob with `replace` of the same job writes nothing: `unchanged`, version and updatedAt kept, no change announced', async ({
      store,
    }) => {
      const owed = new Date(Date.now() - 5 * MIN);
      const created = new Date(Date.now() - 10 * HOUR);
      await store.addJob(job('a', { nextRunTime: owed, createdAt: created, updatedAt: created }), 'error');
      const heard: StoreChange[] = [];
      const off = store.subscribe((c) => heard.push(c));
      try {
        // The same definition with keys in another order, a later nextRunTime and updatedAt, as a boot would give.
        const again = job('a', {
          trigger: { nested: { a: [1, 'x'], b: 2 }, seconds: 60, version: 1, type: 'interval' },
          args: ['a', 2, { k: [true, null] }],
          retry: { jitter: false, maxDelay: 1000, delay: 100, backoff: 'exponential', attempts: 3 },
          nextRunTime: new Date(Date.now() + HOUR),
          updatedAt: new Date(),
        });
        const res = await store.addJob(again, 'replace');
        assert.equal(res.outcome, 'unchanged');
        assert.equal(res.job.version, 1);
        assert.equal(ms(res.job.nextRunTime), owed.getTime());
        assert.equal(heard.length, 0, 'no change announced');
        const stored = (await store.getJob('a'))!;
        assert.equal(stored.version, 1);
        assert.equal(ms(stored.nextRunTime), owed.getTime());
        assert.equal(ms(stored.updatedAt), created.getTime());

        // One field different (an argument): a real replace.
        const changed = await store.addJob(job('a', { args: ['a', 3, { k: [true, null] }] }), 'replace');
        assert.equal(changed.outcome, 'replaced');
        assert.equal((await store.getJob('a'))!.version, 2);
        assert.deepEqual((await store.getJob('a'))!.args, ['a', 3, { k: [true, null] }]);
        assert.ok(heard.some((c) => c.kind === 'job-modified' && c.jobId === 'a'));
      } finally {
        off();
      }
    });

    it('addJob with `replace` takes the new nextRunTime when the trigger changed; a paused job stays paused', async ({
      store,
    }) => {
      const owed = new Date(Date.now() - 5 * MIN);
      const later = new Date(Date.now() + 2 * HOUR);
      await store.addJob(job('a', { nextRunTime: owed }), 'error');
      await store.addJob(
        job('a', { trigger: { type: 'interval', version: 1, seconds: 30 }, nextRunTime: later }),
        'replace',
      );
      assert.equal(ms((await store.getJob('a'))!.nextRunTime), later.getTime());

      // Paused (by an operator), then re-added at a boot by a definition that is not paused: it stays paused,
      // and an unchanged definition writes nothing.
      await store.addJob(job('p', { nextRunTime: owed }), 'error');
      await store.updateJob('p', { paused: true, nextRunTime: null });
      const paused = (await store.getJob('p'))!;
      const same = await store.addJob(job('p', { nextRunTime: later }), 'replace');
      assert.equal(same.outcome, 'unchanged');
      assert.deepEqual(await store.getJob('p'), paused);
      // A new definition is taken; the pause is kept.
      const renamed = await store.addJob(
        job('p', {
          name: 'renamed',
          trigger: { type: 'interval', version: 1, seconds: 30 },
          nextRunTime: later,
        }),
        'replace',
      );
      assert.equal(renamed.outcome, 'replaced');
      const p = (await store.getJob('p'))!;
      assert.deepEqual(
        [p.name, p.trigger, p.paused, p.nextRunTime, p.version],
        ['renamed', { type: 'interval', version: 1, seconds: 30 }, true, null, paused.version + 1],
      );
      assert.deepEqual(renamed.job, p);
      // A definition with paused: true pauses a job that runs.
      await store.addJob(job('q', { nextRunTime: owed }), 'error');
      const pausing = await store.addJob(job('q', { paused: true, nextRunTime: null }), 'replace');
      assert.equal(pausing.outcome, 'replaced');
      const q = (await store.getJob('q'))!;
      assert.deepEqual([q.paused, q.nextRunTime], [true, null]);
    });

    it('getJobs orders by id and applies ids, taskId, paused, afterId and limit', async ({ store }) => {
      for (const id of ['c', 'a', 'e', 'b', 'd'])
        await store.addJob(job(id, { taskId: id < 'c' ? 't1' : 't2', paused: id === 'd' }), 'error');
      const ids = (list: JobRecord[]) => list.map((j) => j.id);
      assert.deepEqual(ids(await store.getJobs()), ['a', 'b', 'c', 'd', 'e']);
      assert.deepEqual(ids(await store.getJobs({ ids: ['e', 'a', 'zz'] })), ['a', 'e']);
      assert.deepEqual(ids(await store.getJobs({ taskId: 't1' })), ['a', 'b']);
      assert.deepEqual(ids(await store.getJobs({ paused: true })), ['d']);
      assert.deepEqual(ids(await store.getJobs({ paused: false, taskId: 't2' })), ['c', 'e']);
      assert.deepEqual(ids(await store.getJobs({ afterId: 'b', limit: 2 })), ['c', 'd']);
      assert.deepEqual(ids(await store.getJobs({ limit: 0 })), []);
    });

    /**
     * Nine jobs for the sorting and counting tests. Next run times are T + the given seconds (`null`: none);
     * `h` has none without being paused, `i` is paused with one: the order looks at the time, not at `paused`.
     * Names test code point order: 'Zulu' < 'alpha' < 'bravo' < 'delta' < 'écho' (U+E9) < '～' (U+FF5E)
     * < '😀' (U+1F600; UTF-16 code units would put it before '～'), and ties ('alpha', 'delta') go by id.
     */
    async function addSortFixture(store: Store): Promise<void> {
      const T = Math.floor(Date.now() / 1000) * 1000 + HOUR;
      const rows: [id: string, name: string, next: number | null, paused: boolean, taskId: string][] = [
        ['a', 'delta', 180, false, 't1'],
        ['b', 'alpha', 60, false, 't1'],
        ['c', 'delta', 60, false, 't2'],
        ['d', 'Zulu', null, true, 't1'],
        ['e', 'écho', 120, false, 't2'],
        ['f', 'bravo', null, true, 't1'],
        ['g', '～', 0, false, 't1'],
        ['h', '😀', null, false, 't2'],
        ['i', 'alpha', 30, true, 't1'],
      ];
      // Added in an order that is none of the sorts.
      for (const k of [4, 0, 8, 2, 6, 1, 5, 3, 7]) {
        const [id, name, next, paused, taskId] = rows[k]!;
        await store.addJob(
          job(id, { name, taskId, paused, nextRunTime: next === null ? null : new Date(T + next * 1000) }),
          'error',
        );
      }
    }

    it('getJobs sorts by nextRunTime (none last) or name, ties by id, and pages with offset and limit', async ({
      store,
    }) => {
      await addSortFixture(store);
      const ids = (list: JobRecord[]) => list.map((j) => j.id);
      const byNext = ['g', 'i', 'b', 'c', 'e', 'a', 'd', 'f', 'h'];
      const byName = ['d', 'b', 'i', 'f', 'a', 'c', 'e', 'g', 'h'];
      const byId = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'];
      assert.deepEqual(ids(await store.getJobs({ sort: 'nextRunTime' })), byNext);
      assert.deepEqual(ids(await store.getJobs({ sort: 'name' })), byName);
      assert.deepEqual(ids(await store.getJobs({ sort: 'id' })), byId);
      assert.deepEqual(ids(await store.getJobs()), byId);
      // Filters first, then the order.
      assert.deepEqual(ids(await store.getJobs({ sort: 'nextRunTime', paused: false })), [
        'g',
        'b',
        'c',
        'e',
        'a',
        'h',
      ]);
      assert.deepEqual(ids(await store.getJobs({ sort: 'nextRunTime', paused: true })), ['i', 'd', 'f']);
      assert.deepEqual(ids(await store.getJobs({ sort: 'name', taskId: 't2' })), ['c', 'e', 'h']);
      assert.deepEqual(ids(await store.getJobs({ sort: 'name', ids: ['h', 'a', 'd', 'zz'] })), [
        'd',
        'a',
        'h',
      ]);
      // offset skips after sorting; limit bounds what is left.
      assert.deepEqual(ids(await store.getJobs({ sort: 'nextRunTime', offset: 2, limit: 3 })), [
        'b',
        'c',
        'e',
      ]);
      assert.deepEqual(ids(await store.getJobs({ sort: 'nextRunTime', offset: 7, limit: 5 })), ['f', 'h']);
      assert.deepEqual(ids(await store.getJobs({ sort: 'nextRunTime', offset: 4 })), [
        'e',
        'a',
        'd',
        'f',
        'h',
      ]);
      assert.deepEqual(ids(await store.getJobs({ sort: 'nextRunTime', offset: 9 })), []);
      assert.deepEqual(ids(await store.getJobs({ sort: 'name', offset: 1, limit: 2 })), ['b', 'i']);
      assert.deepEqual(ids(await store.getJobs({ sort: 'name', paused: false, offset: 3, limit: 2 })), [
        'e',
        'g',
      ]);
      assert.deepEqual(ids(await store.getJobs({ offset: 3, limit: 2 })), ['d', 'e']);
      assert.deepEqual(ids(await store.getJobs({ afterId: 'c', offset: 1, limit: 2 })), ['e', 'f']);
      assert.deepEqual(ids(await store.getJobs({ sort: 'name', offset: 0, limit: 0 })), []);
      // Pages of 2 by offset walk each order once: nothing skipped, nothing repeated.
      for (const [sort, expected] of [
        ['nextRunTime', byNext],
        ['name', byName],
        ['id', byId],
      ] as const) {
        const walked: string[] = [];
        for (let offset = 0; offset < 10; offset += 2)
          walked.push(...ids(await store.getJobs({ sort, offset, limit: 2 })));
        assert.deepEqual(walked, expected, sort);
      }
    });

    it('countJobs counts all jobs, or those of a task and/or paused state, like getJobs', async ({
      store,
    }) => {
      assert.ok(store.countJobs, 'the store implements countJobs');
      const count = store.countJobs.bind(store);
      assert.equal(await count(), 0);
      await addSortFixture(store);
      assert.equal(await count(), 9);
      assert.equal(await count({}), 9);
      assert.equal(await count({ paused: true }), 3); // d, f, i
      assert.equal(await count({ paused: false }), 6);
      assert.equal(await count({ taskId: 't2' }), 3); // c, e, h
      assert.equal(await count({ taskId: 't1', paused: true }), 3);
      assert.equal(await count({ taskId: 't1', paused: false }), 3); // a, b, g
      assert.equal(await count({ taskId: 't2', paused: true }), 0);
      assert.equal(await count({ taskId: 'nope' }), 0);
      await store.updateJob('a', { paused: true, nextRunTime: null });
      await store.removeJob('h');
      assert.equal(await count(), 8);
      assert.equal(await count({ paused: true }), 4);
      assert.equal(await count({ paused: false }), 4);
      assert.equal(await count({ taskId: 't2' }), 2);
    });

    it('updateJob applies changes and increments version; checks expectedVersion; JOB_NOT_FOUND', async ({
      store,
    }) => {
      await store.addJob(job('a'), 'error');
      const next = new Date(Date.now() + 3 * HOUR);
      const updated = await store.updateJob(
        'a',
        { name: 'new', args: [1], nextRunTime: next, retry: null },
        1,
      );
      assert.equal(updated.version, 2);
      assert.equal(updated.name, 'new');
      assert.deepEqual(updated.args, [1]);
      assert.equal(updated.retry, null);
      assert.equal(ms(updated.nextRunTime), next.getTime());
      assert.deepEqual((await store.getJob('a'))!.args, [1]);
      await rejectsWith(store.updateJob('a', { name: 'stale' }, 1), 'JOB_VERSION_CONFLICT');
      assert.equal((await store.getJob('a'))!.name, 'new');
      const paused = await store.updateJob('a', { paused: true, nextRunTime: null });
      assert.equal(paused.version, 3);
      assert.equal(paused.paused, true);
      await rejectsWith(store.updateJob('nope', { name: 'x' }), 'JOB_NOT_FOUND');
    });

    it('removeJob cancels pending runs, keeps history and running runs; removeAllJobs counts', async ({
      store,
    }) => {
      const past = new Date(Date.now() - MIN);
      const run = await fireOne(store, job('a', { nextRunTime: past }));
      await store.addJob(
        job('b', { nextRunTime: new Date(past.getTime() - 1000), taskId: 'task-b' }),
        'error',
      );
      await store.fireDueJobs(new Date(), 10, simplePlanner());
      const [leased] = await store.acquireRuns('n1', new Date(), 1, 30_000, ['task-b']);
      assert.ok(leased);
      const removed = await store.removeJob('a');
      assert.equal(removed?.id, 'a');
      assert.equal(await store.getJob('a'), null);
      assert.equal(await store.removeJob('a'), null);
      assert.equal((await store.getRun(run.id))!.status, 'cancelled');
      assert.equal(await store.removeAllJobs(), 1);
      assert.deepEqual(await store.getJobs(), []);
      assert.equal((await store.getRun(leased.run.id))!.status, 'running');
      assert.equal(await store.removeAllJobs(), 0);
    });

    it('removeJob with expectedVersion removes only that version: another one is JOB_VERSION_CONFLICT, with nothing removed or cancelled', async ({
      store,
    }) => {
      const run = await fireOne(store, job('a', { nextRunTime: new Date(Date.now() - MIN) }));
      const stored = (await store.getJob('a'))!;
      // Another writer changes the job after it was read.
      const changed = await store.updateJob('a', { name: 'renamed' });
      assert.equal(changed.version, stored.version + 1);
      await rejectsWith(store.removeJob('a', stored.version), 'JOB_VERSION_CONFLICT');
      assert.equal((await store.getJob('a'))!.name, 'renamed');
      assert.equal((await store.getRun(run.id))!.status, 'pending');
      const removed = await store.removeJob('a', changed.version);
      assert.equal(removed?.name, 'renamed');
      assert.equal(await store.getJob('a'), null);
      assert.equal((await store.getRun(run.id))!.status, 'cancelled');
      assert.equal(await store.removeJob('a', changed.version), null, 'no job: null, as without a version');
    });

    // ------------------------------------------------------------------ firing

    it('fireDueJobs fires due unpaused jobs only, passes now and activeRuns, inserts runs, advances', async ({
      store,
    }) => {
      const base = Date.now() - 10 * MIN;
      await store.addJob(job('due', { nextRunTime: new Date(base) }), 'error');
      await store.addJob(job('future', { nextRunTime: new Date(Date.now() + HOUR) }), 'error');
      await store.addJob(job('paused', { paused: true, nextRunTime: new Date(base) }), 'error');
      await store.addJob(job('never', { nextRunTime: null }), 'error');
      const calls: { id: string; context: FireContext }[] = [];
      const now = new Date();
      const result = await store.fireDueJobs(now, 10, simplePlanner(HOUR, calls));
      assertNowish(result.now, now.getTime(), 'FireResult.now');
      assert.equal(result.more, false);
      assert.deepEqual(
        calls.map((c) => c.id),
        ['due'],
      );
      assert.equal(calls[0]!.context.activeRuns, 0);
      assert.equal(calls[0]!.context.now.getTime(), result.now.getTime(), 'planner saw the same now');
      assert.equal(result.fired.length, 1);
      const fired = result.fired[0]!;
      assert.equal(fired.job.id, 'due');
      assert.equal(ms(fired.job.nextRunTime), base, 'the job as claimed');
      assert.equal(fired.runs.length, 1);
      const run = fired.runs[0]!;
      assert.equal(run.jobId, 'due');
      assert.equal(run.taskId, 'task-a');
      assert.equal(run.status, 'pending');
      assert.equal(run.manual, false);
      assert.equal(run.attempt, 0);
      assert.equal(ms(run.scheduledFireTime), base);
      assert.deepEqual(await store.getRun(run.id), run);
      const stored = (await store.getJob('due'))!;
      assert.equal(ms(stored.nextRunTime), base + HOUR);
      assert.equal(stored.version, 2);
      assert.equal((await store.getJob('paused'))!.version, 1);
      // Nothing is due any more.
      assert.deepEqual((await store.fireDueJobs(new Date(), 10, simplePlanner())).fired, []);
    });

    it('fireDueJobs with a horizon: a store that fires ahead claims jobs due by it, others ignore it', async ({
      store,
    }) => {
      const now = Date.now();
      await store.addJob(job('due', { nextRunTime: new Date(now - MIN) }), 'error');
      await store.addJob(job('soon', { nextRunTime: new Date(now + 5 * MIN) }), 'error');
      await store.addJob(job('later', { nextRunTime: new Date(now + HOUR) }), 'error');
      const calls: { id: string; context: FireContext }[] = [];
      const result = await store.fireDueJobs(
        new Date(now),
        10,
        simplePlanner(HOUR, calls),
        new Date(now + 10 * MIN),
      );
      const ids = calls.map((c) => c.id);
      if (store.firesAhead) {
        assert.deepEqual(ids, ['due', 'soon'], 'due by the horizon, earliest first');
        for (const c of calls) {
          assert.equal(c.context.now.getTime(), now, 'the planner is told the real now');
          assert.equal(c.context.horizon?.getTime(), now + 10 * MIN, 'and the horizon');
        }
        const soon = result.fired.find((f) => f.job.id === 'soon')!;
        assert.equal(ms(soon.runs[0]!.notBefore), now + 5 * MIN);
        // The run fired ahead is due at its notBefore only: it cannot be leased before.
        const leased = await store.acquireRuns('n1', new Date(now + MIN), 10, 30_000);
        assert.deepEqual(
          leased.map((a) => a.run.jobId),
          ['due'],
        );
        assert.deepEqual(
          (await store.acquireRuns('n1', new Date(now + 5 * MIN), 10, 30_000)).map((a) => a.run.jobId),
          ['soon'],
        );
      } else {
        assert.deepEqual(ids, ['due'], 'a store on its own clock ignores the horizon');
      }
      assert.equal(ms((await store.getJob('later'))!.nextRunTime), now + HOUR, 'past the horizon: untouched');
    });

    it('activeRuns counts pending and running runs of the job', async ({ store }) => {
      const t0 = Date.now() - 10 * MIN;
      await store.addJob(job('a', { nextRunTime: new Date(t0), maxInstances: 5 }), 'error');
      const calls: { id: string; context: FireContext }[] = [];
      const minute = simplePlanner(MIN, calls);
      await store.fireDueJobs(new Date(), 1, minute); // run at t0
      await store.acquireRuns('n1', new Date(), 1, 30_000); // running
      await store.fireDueJobs(new Date(), 1, minute); // run at t0+1min, pending
      await store.fireDueJobs(new Date(), 1, minute);
      assert.deepEqual(
        calls.map((c) => c.context.activeRuns),
        [0, 1, 2],
      );
    });

    it('a fire time that has a run already is not inserted again (unique job id + fire time)', async ({
      store,
    }) => {
      const t = new Date(Date.now() - MIN);
      const first = await fireOne(store, job('a', { nextRunTime: t }));
      // Move the job back to the same fire time: the planner plans it again, the store inserts nothing.
      const j = await store.updateJob('a', { nextRunTime: t });
      const again = await store.fireDueJobs(new Date(), 10, simplePlanner());
      assert.equal(again.fired.length, 1);
      assert.deepEqual(again.fired[0]!.runs, []);
      const runs = await store.getRuns({ jobId: 'a' });
      assert.deepEqual(
        runs.map((r) => r.id),
        [first.id],
      );
      const after = (await store.getJob('a'))!;
      assert.equal(ms(after.nextRunTime), t.getTime() + HOUR, 'the job still advanced');
      assert.equal(after.version, j.version + 1);
    });

    it('planned missed and skipped runs are stored as finished; several runs per job in one plan', async ({
      store,
    }) => {
      const t = Date.now() - 10 * MIN;
      await store.addJob(job('a', { nextRunTime: new Date(t) }), 'error');
      const result = await store.fireDueJobs(
        new Date(),
        10,
        simplePlanner(HOUR, [], () => ({
          runs: [
            { scheduledFireTime: new Date(t), status: 'missed', notBefore: new Date(t) },
            { scheduledFireTime: new Date(t + 1000), status: 'skipped', notBefore: new Date(t + 1000) },
            { scheduledFireTime: new Date(t + 2000), status: 'pending', notBefore: new Date(t + 2500) },
          ],
        })),
      );
      const runs = result.fired[0]!.runs;
      assert.deepEqual(
        runs.map((r) => [r.status, ms(r.scheduledFireTime), ms(r.notBefore)]),
        [
          ['missed', t, t],
          ['skipped', t + 1000, t + 1000],
          ['pending', t + 2000, t + 2500],
        ],
      );
      assertNowish(runs[0]!.finishedAt, result.now.getTime(), 'missed finishedAt');
      assert.equal(runs[2]!.finishedAt, null);
      const stored = await store.getRuns({ jobId: 'a' });
      assert.deepEqual(
        stored.map((r) => r.status),
        ['pending', 'skipped', 'missed'],
      );
    });

    it('a plan that removes the job deletes it; its runs still get the job when acquired', async ({
      store,
    }) => {
      const t = Date.now() - MIN;
      await store.addJob(job('once', { nextRunTime: new Date(t), args: ['payload'] }), 'error');
      const result = await store.fireDueJobs(
        new Date(),
        10,
        simplePlanner(HOUR, [], () => ({ nextRunTime: null, remove: true })),
      );
      assert.equal(result.fired[0]!.runs.length, 1);
      assert.equal(await store.getJob('once'), null);
      const [acquired] = await store.acquireRuns('n1', new Date(), 10, 30_000);
      assert.equal(acquired?.run.jobId, 'once');
      assert.equal(acquired?.job?.id, 'once');
      assert.deepEqual(acquired?.job?.args, ['payload']);
    });

    it('a quarantine plan pauses the job (nextRunTime null) and never deletes it', async ({ store }) => {
      await store.addJob(job('bad', { nextRunTime: new Date(Date.now() - MIN) }), 'error');
      const result = await store.fireDueJobs(new Date(), 10, () => ({
        runs: [],
        nextRunTime: null,
        remove: false,
        quarantine: 'trigger cannot be read',
      }));
      assert.equal(result.fired.length, 1);
      const stored = (await store.getJob('bad'))!;
      assert.equal(stored.paused, true);
      assert.equal(stored.nextRunTime, null);
      assert.equal(stored.quarantine, 'trigger cannot be read');
      assert.equal(stored.version, 2);
      assert.deepEqual((await store.fireDueJobs(new Date(), 10, simplePlanner())).fired, []);
    });

    it('a quarantine is not an operator pause: a replace of the same definition ends it, as does a resume', async ({
      store,
    }) => {
      const due = new Date(Date.now() - MIN);
      const quarantine: FirePlanner = () => ({
        runs: [],
        nextRunTime: null,
        remove: false,
        quarantine: 'its plan failed',
      });
      for (const id of ['replaced', 'resumed', 'operator'])
        await store.addJob(job(id, { nextRunTime: due }), 'error');
      await store.fireDueJobs(new Date(), 10, quarantine);
      // The next boot re-adds the same definitions; the operator's pause is kept.
      await store.updateJob('operator', { paused: true, nextRunTime: null });
      assert.equal(
        (await store.getJob('operator'))!.quarantine,
        null,
        'an explicit pause ends the quarantine',
      );
      const readded = await store.addJob(job('replaced', { nextRunTime: due }), 'replace');
      assert.equal(readded.outcome, 'replaced');
      const replaced = (await store.getJob('replaced'))!;
      assert.deepEqual(
        [replaced.paused, ms(replaced.nextRunTime), replaced.quarantine],
        [false, due.getTime(), null],
      );
      const operator = await store.addJob(job('operator', { nextRunTime: due }), 'replace');
      assert.deepEqual([operator.job.paused, operator.job.nextRunTime], [true, null]);
      // Edits leave a quarantine in place; a resume ends it.
      await store.updateJob('resumed', { name: 'renamed' });
      assert.equal((await store.getJob('resumed'))!.quarantine, 'its plan failed');
      await store.updateJob('resumed', { paused: false, nextRunTime: due });
      const resumed = (await store.getJob('resumed'))!;
      assert.deepEqual([resumed.paused, resumed.quarantine], [false, null]);
    });

    it('limit: earliest nextRunTime first, `more` while due jobs remain', async ({ store }) => {
      const t = Date.now() - HOUR;
      for (const [id, offset] of [
        ['e', 4],
        ['b', 1],
        ['d', 3],
        ['a', 0],
        ['c', 2],
      ] as const)
        await store.addJob(job(id, { nextRunTime: new Date(t + offset * 1000) }), 'error');
      const planner = simplePlanner(2 * HOUR);
      const batches: string[][] = [];
      const mores: boolean[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await store.fireDueJobs(new Date(), 2, planner);
        batches.push(r.fired.map((f) => f.job.id));
        mores.push(r.more);
      }
      assert.deepEqual(batches, [['a', 'b'], ['c', 'd'], ['e'], []]);
      assert.deepEqual(mores, [true, true, false, false]);
      const exact = await makeHarness({});
      try {
        for (const id of ['x', 'y']) await exact.store.addJob(job(id, { nextRunTime: new Date(t) }), 'error');
        const r = await exact.store.fireDueJobs(new Date(), 2, planner);
        assert.equal(r.fired.length, 2);
        assert.equal(r.more, false, 'exactly `limit` due jobs: no more');
      } finally {
        await exact.cleanup();
      }
    });

    // ------------------------------------------------------------------ manual runs

    it('createManualRun: a pending manual run now, beside a scheduled one; skipped at maxInstances', async ({
      store,
    }) => {
      await rejectsWith(store.createManualRun('nope', new Date()), 'JOB_NOT_FOUND');
      await store.addJob(job('a', { maxInstances: 2 }), 'error');
      const now = new Date();
      const m1 = await store.createManualRun('a', now);
      assert.equal(m1.status, 'pending');
      assert.equal(m1.manual, true);
      assert.equal(m1.attempt, 0);
      assertNowish(m1.scheduledFireTime, now.getTime(), 'manual fire time');
      const m2 = await store.createManualRun('a', now);
      assert.equal(m2.status, 'pending');
      assert.notEqual(m2.id, m1.id);
      const m3 = await store.createManualRun('a', now);
      assert.equal(m3.status, 'skipped', 'two active runs of a maxInstances=2 job');
      assert.ok(m3.finishedAt);
      assert.deepEqual(await store.getRun(m3.id), m3);
    });

    it("a run's times as reported find it again as filter bounds (never later than the stored times)", async ({
      store,
    }) => {
      await store.addJob(job('a', { maxInstances: 1000 }), 'error');
      // Manual runs take the store's clock, which may keep finer than milliseconds.
      for (let i = 0; i < 40; i++) {
        const run = await store.createManualRun('a', new Date());
        const t = run.scheduledFireTime.getTime();
        const found = await store.getRuns({
          jobId: 'a',
          from: new Date(t),
          to: new Date(t + 1),
          limit: 1000,
        });
        assert.ok(
          found.some((r) => r.id === run.id),
          `run ${i} at ${run.scheduledFireTime.toISOString()} is in [its time, its time + 1 ms)`,
        );
        assert.deepEqual(await store.getRun(run.id), run, 'read back as created');
      }
    });

    // ------------------------------------------------------------------ running

    it('acquireRuns leases due pending runs once: notBefore, taskIds, limit, order, attempt, lease', async ({
      store,
    }) => {
      const t = Date.now() - 10 * MIN;
      await store.addJob(job('a', { nextRunTime: new Date(t), taskId: 'task-a' }), 'error');
      await store.addJob(job('b', { nextRunTime: new Date(t), taskId: 'task-b' }), 'error');
      await store.fireDueJobs(
        new Date(),
        10,
        simplePlanner(HOUR, [], (j) => ({
          runs:
            j.id === 'a'
              ? [
                  { scheduledFireTime: new Date(t), status: 'pending', notBefore: new Date(t + 2000) },
                  { scheduledFireTime: new Date(t + 1), status: 'pending', notBefore: new Date(t + 1000) },
                  {
                    scheduledFireTime: new Date(t + 2),
                    status: 'pending',
                    notBefore: new Date(Date.now() + HOUR),
                  },
                ]
              : [{ scheduledFireTime: new Date(t), status: 'pending', notBefore: new Date(t) }],
        })),
      );
      assert.deepEqual(await store.acquireRuns('n1', new Date(), 10, 30_000, []), []);
      const now = new Date();
      const first = await store.acquireRuns('n1', now, 1, 30_000, ['task-a']);
      assert.equal(first.length, 1);
      const r = first[0]!.run;
      assert.equal(r.jobId, 'a');
      assert.equal(ms(r.notBefore), t + 1000, 'oldest notBefore first');
      assert.equal(r.status, 'running');
      assert.equal(r.owner, 'n1');
      assert.equal(r.attempt, 1);
      assertNowish(r.startedAt, now.getTime(), 'startedAt');
      assertNowish(r.leaseExpiresAt, now.getTime() + 30_000, 'leaseExpiresAt');
      if (!dbClock) assert.equal(ms(r.leaseExpiresAt)! - ms(r.startedAt)!, 30_000);
      assert.equal(first[0]!.job?.id, 'a');
      assert.deepEqual(await store.getRun(r.id), r);
      const rest = await store.acquireRuns('n2', new Date(), 10, 30_000);
      assert.deepEqual(rest.map((a) => `${a.run.jobId}@${ms(a.run.notBefore)! - t}`).sort(), [
        'a@2000',
        'b@0',
      ]);
      assert.deepEqual(await store.acquireRuns('n3', new Date(), 10, 30_000), [], 'each run is leased once');
    });

    it('a queued run waits, pending, until every run of its job with an earlier fire time has finished', async ({
      store,
    }) => {
      const t = Date.now() - 10 * MIN;
      const at = (n: number) => new Date(t + n * 1000);
      await store.addJob(job('a', { nextRunTime: new Date(t), maxInstances: 1 }), 'error');
      await store.addJob(job('b', { nextRunTime: new Date(t) }), 'error');
      // As the scheduler plans a backlog of three with one free slot: the first takes it, the others queue.
      await store.fireDueJobs(
        new Date(),
        10,
        simplePlanner(HOUR, [], (j) => ({
          runs:
            j.id === 'a'
              ? [
                  { scheduledFireTime: at(0), status: 'pending', notBefore: at(0) },
                  { scheduledFireTime: at(1), status: 'pending', notBefore: at(1), queued: true },
                  { scheduledFireTime: at(2), status: 'pending', notBefore: at(2), queued: true },
                ]
              : [{ scheduledFireTime: at(0), status: 'pending', notBefore: at(0) }],
        })),
      );
      assert.deepEqual(
        (await store.getRuns({ jobId: 'a' })).map((r) => [ms(r.scheduledFireTime)! - t, r.status]),
        [
          [2000, 'pending'],
          [1000, 'pending'],
          [0, 'pending'],
        ],
      );
      const label = (list: { run: RunRecord }[]) =>
        list.map((a) => `${a.run.jobId}@${ms(a.run.scheduledFireTime)! - t}#${a.run.attempt}`).sort();
      const first = await store.acquireRuns('n1', new Date(), 10, 30_000);
      assert.deepEqual(label(first), ['a@0#1', 'b@0#1'], 'the queued runs wait for a@0');
      assert.deepEqual(await store.acquireRuns('n1', new Date(), 10, 30_000), []);
      // A retry puts a@0 back to pending (due at once): a@1000 still waits behind it.
      const head = first.find((a) => a.run.jobId === 'a')!.run;
      const retryAt = new Date(Date.now() - 1000);
      assert.ok(await store.finishRun(head.id, 'n1', 1, new Date(), { status: 'failed', retryAt }));
      const retried = await store.acquireRuns('n1', new Date(), 10, 30_000);
      assert.deepEqual(label(retried), ['a@0#2']);
      assert.ok(await store.finishRun(head.id, 'n1', 2, new Date(), { status: 'succeeded' }));
      const second = await store.acquireRuns('n1', new Date(), 10, 30_000);
      assert.deepEqual(label(second), ['a@1000#1'], 'a@1000 goes once a@0 has finished; a@2000 waits');
      assert.deepEqual(await store.acquireRuns('n1', new Date(), 10, 30_000), []);
      // A failed run has finished too.
      assert.ok(await store.finishRun(second[0]!.run.id, 'n1', 1, new Date(), { status: 'failed' }));
      assert.deepEqual(label(await store.acquireRuns('n1', new Date(), 10, 30_000)), ['a@2000#1']);
    });

    it('heartbeatRuns renews only runs held under the same owner and attempt', async ({ store }) => {
      await fireOne(store, job('a', { nextRunTime: new Date(Date.now() - MIN) }));
      const [a] = await store.acquireRuns('n1', new Date(), 1, 1000);
      const run = a!.run;
      const later = new Date(Date.now() + 1000);
      assert.deepEqual(await store.heartbeatRuns('n2', [{ id: run.id, attempt: 1 }], later, 60_000), []);
      assert.deepEqual(await store.heartbeatRuns('n1', [{ id: run.id, attempt: 2 }], later, 60_000), []);
      assert.deepEqual(
        await store.heartbeatRuns('n1', [{ id: 'no-such-run', attempt: 1 }], later, 60_000),
        [],
      );
      assert.deepEqual(await store.heartbeatRuns('n1', [{ id: run.id, attempt: 1 }], later, 60_000), [
        run.id,
      ]);
      const renewed = (await store.getRun(run.id))!;
      assertNowish(renewed.leaseExpiresAt, later.getTime() + 60_000, 'renewed lease');
      assert.ok(ms(renewed.leaseExpiresAt)! > ms(run.leaseExpiresAt)! + 50_000);
    });

    it('finishRun is fenced by owner and attempt; records status, error, result and finishedAt', async ({
      store,
    }) => {
      await fireOne(store, job('a', { nextRunTime: new Date(Date.now() - MIN) }));
      const [a] = await store.acquireRuns('n1', new Date(), 1, 30_000);
      const run = a!.run;
      const now = new Date();
      const error = { name: 'Error', message: 'boom', code: 'E1' };
      assert.equal(await store.finishRun(run.id, 'n2', 1, now, { status: 'failed', error }), false);
      assert.equal(await store.finishRun(run.id, 'n1', 2, now, { status: 'failed', error }), false);
      assert.equal(await store.finishRun('no-such-run', 'n1', 1, now, { status: 'failed', error }), false);
      assert.deepEqual(await store.getRun(run.id), run, 'nothing changed');
      assert.equal(await store.finishRun(run.id, 'n1', 1, now, { status: 'failed', error }), true);
      const done = (await store.getRun(run.id))!;
      assert.equal(done.status, 'failed');
      assert.deepEqual(done.error, error);
      assertNowish(done.finishedAt, now.getTime(), 'finishedAt');
      assert.equal(done.leaseExpiresAt, null);
      assert.equal(await store.finishRun(run.id, 'n1', 1, now, { status: 'succeeded' }), false, 'once');

      await store.createManualRun('a', new Date());
      const [b] = await store.acquireRuns('n1', new Date(), 1, 30_000);
      assert.equal(
        await store.finishRun(b!.run.id, 'n1', 1, new Date(), {
          status: 'succeeded',
          result: { ok: [1, 2] },
        }),
        true,
      );
      const ok = (await store.getRun(b!.run.id))!;
      assert.equal(ok.status, 'succeeded');
      assert.equal(ok.error, null);
      assert.deepEqual(ok.result, { ok: [1, 2] });
    });

    it('finishRuns records a group of outcomes, each fenced by owner and attempt, answering per item', async ({
      store,
    }) => {
      assert.ok(store.finishRuns, 'every bundled store groups outcomes');
      const past = new Date(Date.now() - MIN);
      for (const id of ['a', 'b', 'c']) await fireOne(store, job(id, { nextRunTime: past }));
      const acquired = await store.acquireRuns('n1', new Date(), 3, 30_000);
      assert.equal(acquired.length, 3);
      const [a, b, c] = acquired.map((x) => x.run).sort((x, y) => (x.jobId < y.jobId ? -1 : 1));
      const error = { name: 'Error', message: 'boom' };
      const now = new Date();
      const answers = await store.finishRuns!(
        'n1',
        [
          { runId: a!.id, attempt: 1, outcome: { status: 'succeeded', result: { n: 1 } } },
          { runId: b!.id, attempt: 2, outcome: { status: 'failed', error } }, // wrong attempt
          { runId: 'no-such-run', attempt: 1, outcome: { status: 'succeeded' } },
          { runId: c!.id, attempt: 1, outcome: { status: 'timed-out', error } },
        ],
        now,
      );
      assert.deepEqual(answers, [true, false, false, true]);
      const ra = (await store.getRun(a!.id))!;
      assert.equal(ra.status, 'succeeded');
      assert.deepEqual(ra.result, { n: 1 });
      assertNowish(ra.finishedAt, now.getTime(), 'finishedAt');
      assert.equal((await store.getRun(b!.id))!.status, 'running', 'the fenced item changed nothing');
      const rc = (await store.getRun(c!.id))!;
      assert.equal(rc.status, 'timed-out');
      assert.deepEqual(rc.error, error);
      assert.deepEqual(
        await store.finishRuns!('n2', [{ runId: b!.id, attempt: 1, outcome: { status: 'succeeded' } }], now),
        [false],
        'another owner',
      );
      assert.deepEqual(
        await store.finishRuns!('n1', [{ runId: a!.id, attempt: 1, outcome: { status: 'failed' } }], now),
        [false],
        'once',
      );
    });

    it('finishRun with retryAt puts the run back to pending; the next lease is attempt 2', async ({
      store,
    }) => {
      await fireOne(store, job('a', { nextRunTime: new Date(Date.now() - MIN) }));
      const [a] = await store.acquireRuns('n1', new Date(), 1, 30_000);
      const retryAt = new Date(Date.now() - 1000);
      const error = { name: 'Error', message: 'first try' };
      assert.equal(
        await store.finishRun(a!.run.id, 'n1', 1, new Date(), { status: 'failed', error, retryAt }),
        true,
      );
      const pending = (await store.getRun(a!.run.id))!;
      assert.equal(pending.status, 'pending');
      assert.equal(pending.attempt, 1);
      assert.equal(pending.owner, null);
      assert.equal(pending.leaseExpiresAt, null);
      assert.equal(ms(pending.notBefore), retryAt.getTime());
      const [again] = await store.acquireRuns('n2', new Date(), 1, 30_000);
      assert.equal(again?.run.id, a!.run.id);
      assert.equal(again?.run.attempt, 2);
      assert.equal(again?.run.owner, 'n2');
      assert.equal(await store.finishRun(a!.run.id, 'n1', 1, new Date(), { status: 'succeeded' }), false);
    });

    it('reapExpiredRuns abandons running runs whose lease ended, up to limit; they cannot be finished', async ({
      store,
    }) => {
      const t = Date.now() - 10 * MIN;
      await store.addJob(job('a', { nextRunTime: new Date(t), maxInstances: 5 }), 'error');
      await store.fireDueJobs(
        new Date(),
        10,
        simplePlanner(HOUR, [], () => ({
          runs: [0, 1, 2].map((i) => ({
            scheduledFireTime: new Date(t + i),
            status: 'pending' as const,
            notBefore: new Date(t + i),
          })),
        })),
      );
      const now = Date.now();
      const short = await store.acquireRuns('n1', new Date(now), 2, 0);
      const long = await store.acquireRuns('n1', new Date(now), 1, HOUR);
      assert.equal(short.length + long.length, 3);
      if (dbClock) await delay(5);
      const reapAt = new Date(now + 1);
      const one = await store.reapExpiredRuns(reapAt, 1);
      const two = await store.reapExpiredRuns(reapAt, 10);
      assert.equal(one.length, 1);
      assert.equal(two.length, 1);
      const reaped = [...one, ...two];
      assert.deepEqual(reaped.map((r) => r.id).sort(), short.map((a) => a.run.id).sort());
      for (const r of reaped) {
        assert.equal(r.status, 'abandoned');
        assert.ok(r.finishedAt);
        assert.equal((await store.getRun(r.id))!.status, 'abandoned');
        assert.equal(await store.finishRun(r.id, 'n1', 1, new Date(), { status: 'succeeded' }), false);
      }
      assert.equal((await store.getRun(long[0]!.run.id))!.status, 'running');
      assert.deepEqual(await store.reapExpiredRuns(reapAt, 10), []);
    });

    it('reapExpiredRuns with retry: in the same step, runs it gives a time are pending again (attempt kept), the others abandoned; a retired job is found', async ({
      store,
    }) => {
      const t = Date.now() - 10 * MIN;
      // `a` keeps firing; `once` is removed by its own plan (a date job that fired), so it is retired.
      await store.addJob(job('a', { nextRunTime: new Date(t), maxInstances: 1 }), 'error');
      await store.addJob(job('once', { nextRunTime: new Date(t), maxInstances: 1 }), 'error');
      await store.addJob(job('gone', { nextRunTime: new Date(t), maxInstances: 1 }), 'error');
      await store.fireDueJobs(new Date(), 10, (j, ctx) => ({
        ...simplePlanner(HOUR)(j, ctx),
        ...(j.id === 'once' ? { nextRunTime: null, remove: true } : {}),
      }));
      const now = Date.now();
      const leased = await store.acquireRuns('n1', new Date(now), 10, 0);
      assert.equal(leased.length, 3);
      await store.removeJob('gone');
      if (dbClock) await delay(5);
      const asked: [string, string | null, string, number, string | null][] = [];
      const retryAt = new Date(Date.now() - 1000);
      const reaped = await store.reapExpiredRuns(new Date(now + 1), 10, (run, j) => {
        asked.push([run.jobId, j?.id ?? null, run.status, run.attempt, run.owner]);
        return run.jobId === 'gone' ? null : retryAt;
      });
      assert.deepEqual(
        asked.sort(),
        [
          ['a', 'a', 'running', 1, 'n1'],
          ['gone', null, 'running', 1, 'n1'],
          ['once', 'once', 'running', 1, 'n1'],
        ],
        'asked once per run, with the run as it was and its job (retired, or null when removed)',
      );
      const byJob = new Map(reaped.map((r) => [r.jobId, r]));
      assert.equal(byJob.get('gone')!.status, 'abandoned');
      for (const id of ['a', 'once']) {
        const r = (await store.getRun(byJob.get(id)!.id))!;
        assert.equal(byJob.get(id)!.status, 'pending');
        assert.equal(r.status, 'pending');
        assert.equal(r.owner, null);
        assert.equal(r.leaseExpiresAt, null);
        assert.equal(r.finishedAt, null);
        assert.equal(ms(r.notBefore), retryAt.getTime());
      }
      // The requeued run of `a` still counts as active: the next fire of `a` is told so.
      await store.updateJob('a', { nextRunTime: new Date(Date.now() - 1000) });
      let active = -1;
      await store.fireDueJobs(new Date(), 10, (j, ctx) => {
        if (j.id === 'a') active = ctx.activeRuns;
        return simplePlanner(HOUR)(j, ctx);
      });
      assert.equal(active, 1);
      const again = await store.acquireRuns('n2', new Date(), 10, 30_000);
      const retried = again.find((x) => x.run.id === byJob.get('once')!.id);
      assert.equal(retried?.run.attempt, 2);
      assert.equal(retried?.job?.id, 'once', 'the retired job comes with its retried run');
      assert.deepEqual(await store.reapExpiredRuns(new Date(Date.now() + 1), 10, () => retryAt), []);
    });

    it('requeueRun gives an abandoned run another attempt, once, fenced by attempt', async ({ store }) => {
      await fireOne(store, job('a', { nextRunTime: new Date(Date.now() - MIN) }));
      const now = Date.now();
      const [a] = await store.acquireRuns('n1', new Date(now), 1, 0);
      if (dbClock) await delay(5);
      const [reaped] = await store.reapExpiredRuns(new Date(now + 1), 10);
      assert.equal(reaped?.id, a!.run.id);
      const retryAt = new Date(Date.now() - 1000);
      assert.equal(await store.requeueRun(a!.run.id, 2, retryAt), false, 'wrong attempt');
      assert.equal((await store.getRun(a!.run.id))!.status, 'abandoned');
      assert.equal(await store.requeueRun(a!.run.id, 1, retryAt), true);
      assert.equal(await store.requeueRun(a!.run.id, 1, retryAt), false, 'only once');
      const pending = (await store.getRun(a!.run.id))!;
      assert.equal(pending.status, 'pending');
      assert.equal(pending.owner, null);
      assert.equal(pending.finishedAt, null);
      assert.equal(ms(pending.notBefore), retryAt.getTime());
      const [again] = await store.acquireRuns('n2', new Date(), 1, 30_000);
      assert.equal(again?.run.id, a!.run.id);
      assert.equal(again?.run.attempt, 2);
      assert.equal(await store.requeueRun('00000000-0000-4000-8000-000000000000', 1, retryAt), false);
    });

    it('getRun and getRuns: filters by job, status, from/to; newest first; limit and offset', async ({
      store,
    }) => {
      const t = Date.now() - HOUR;
      await store.addJob(job('a', { nextRunTime: new Date(t), maxInstances: 10 }), 'error');
      await store.addJob(job('b', { nextRunTime: new Date(t), maxInstances: 10 }), 'error');
      await store.fireDueJobs(
        new Date(),
        10,
        simplePlanner(HOUR, [], (j) => ({
          runs: [0, 1, 2, 3].map((i) => ({
            scheduledFireTime: new Date(t + i * 1000 + (j.id === 'b' ? 500 : 0)),
            status: i === 3 ? ('missed' as const) : ('pending' as const),
            notBefore: new Date(t + i * 1000),
          })),
        })),
      );
      assert.equal(await store.getRun('00000000-0000-4000-8000-000000000000'), null);
      assert.equal(await store.getRun('not-a-run'), null);
      const key = (rs: RunRecord[]) => rs.map((r) => `${r.jobId}${(ms(r.scheduledFireTime)! - t) / 100}`);
      assert.deepEqual(key(await store.getRuns()), ['b35', 'a30', 'b25', 'a20', 'b15', 'a10', 'b5', 'a0']);
      assert.deepEqual(key(await store.getRuns({ jobId: 'a' })), ['a30', 'a20', 'a10', 'a0']);
      assert.deepEqual(key(await store.getRuns({ status: 'missed' })), ['b35', 'a30']);
      assert.deepEqual(key(await store.getRuns({ status: ['missed', 'running'] })), ['b35', 'a30']);
      assert.deepEqual(key(await store.getRuns({ jobId: 'b', status: 'pending' })), ['b25', 'b15', 'b5']);
      assert.deepEqual(key(await store.getRuns({ from: new Date(t + 1000), to: new Date(t + 2500) })), [
        'a20',
        'b15',
        'a10',
      ]);
      assert.deepEqual(key(await store.getRuns({ limit: 3, offset: 2 })), ['b25', 'a20', 'b15']);
      assert.deepEqual(key(await store.getRuns({ limit: 2, offset: 7 })), ['a0']);
    });

    it('getRuns: runs sharing a fire time come by id, descending, with status and job filters, limit and offset', async ({
      store,
    }) => {
      const t = Date.now() - HOUR;
      for (const id of ['a', 'b', 'c', 'd', 'e'])
        await store.addJob(job(id, { nextRunTime: new Date(t), maxInstances: 10 }), 'error');
      await store.fireDueJobs(
        new Date(),
        10,
        simplePlanner(HOUR, [], (j) => ({
          runs: [0, 1].map((i) => ({
            scheduledFireTime: new Date(t + i * 1000),
            status: j.id === 'c' ? ('missed' as const) : ('pending' as const),
            notBefore: new Date(t + i * 1000),
          })),
        })),
      );
      const all = await store.getRuns();
      const byIdDown = (rs: RunRecord[]) =>
        [...rs].sort((x, y) => (x.id === y.id ? 0 : compareCodePoints(y.id, x.id)));
      const at = (i: number) => all.filter((r) => ms(r.scheduledFireTime) === t + i * 1000);
      assert.equal(all.length, 10);
      assert.deepEqual(all, [...byIdDown(at(1)), ...byIdDown(at(0))]);
      const ids = (rs: RunRecord[]) => rs.map((r) => r.id);
      assert.deepEqual(ids(await store.getRuns({ limit: 4, offset: 3 })), ids(all.slice(3, 7)));
      const pending = all.filter((r) => r.status === 'pending');
      assert.deepEqual(
        ids(await store.getRuns({ status: 'pending', offset: 2, limit: 5 })),
        ids(pending.slice(2, 7)),
      );
      assert.deepEqual(
        ids(await store.getRuns({ from: new Date(t), to: new Date(t + 1), offset: 1 })),
        ids(byIdDown(at(0)).slice(1)),
      );
    });

    it('getNextWakeTime: earliest of unpaused nextRunTime, pending notBefore and running lease', async ({
      store,
    }) => {
      assert.equal(await store.getNextWakeTime(), null);
      const t = Date.now();
      await store.addJob(job('paused', { paused: true, nextRunTime: new Date(t - 5 * HOUR) }), 'error');
      assert.equal(await store.getNextWakeTime(), null, 'paused jobs do not count');
      await store.addJob(job('a', { nextRunTime: new Date(t + 2 * HOUR) }), 'error');
      assert.equal(ms(await store.getNextWakeTime()), t + 2 * HOUR);
      await store.addJob(job('b', { nextRunTime: new Date(t - HOUR) }), 'error');
      await store.fireDueJobs(
        new Date(),
        10,
        simplePlanner(3 * HOUR, [], () => ({
          runs: [{ scheduledFireTime: new Date(t - HOUR), status: 'pending', notBefore: new Date(t + HOUR) }],
        })),
      );
      // b's next fire is t+2h; the pending run's notBefore t+1h is the earliest.
      assert.equal(ms(await store.getNextWakeTime()), t + HOUR);
      await store.updateJob('b', { nextRunTime: new Date(t - 2 * HOUR), paused: true });
      const manual = await store.createManualRun('a', new Date());
      const leaseAt = new Date();
      const [leased] = await store.acquireRuns('n1', leaseAt, 1, 10 * MIN);
      assert.equal(leased?.run.id, manual.id);
      assertNowish(await store.getNextWakeTime(), leaseAt.getTime() + 10 * MIN, 'the lease end');
    });

    it('getNextWakeTime(taskIds): pending runs of other tasks are left out', async ({ store }) => {
      const t = Date.now();
      await store.addJob(job('mine', { taskId: 'here', nextRunTime: new Date(t + 3 * HOUR) }), 'error');
      await store.addJob(job('theirs', { taskId: 'elsewhere', nextRunTime: new Date(t - HOUR) }), 'error');
      await store.addJob(job('early', { taskId: 'here', nextRunTime: new Date(t - HOUR) }), 'error');
      await store.fireDueJobs(
        new Date(),
        10,
        simplePlanner(5 * HOUR, [], (j) => ({
          // theirs waits from t+1h, early from t+2h
          runs: [
            {
              scheduledFireTime: new Date(t - HOUR),
              status: 'pending',
              notBefore: new Date(j.id === 'theirs' ? t + HOUR : t + 2 * HOUR),
            },
          ],
        })),
      );
      assert.equal(ms(await store.getNextWakeTime()), t + HOUR, 'every pending run');
      assert.equal(ms(await store.getNextWakeTime(['here'])), t + 2 * HOUR, 'the runs of task here');
      assert.equal(ms(await store.getNextWakeTime(['nothing'])), t + 3 * HOUR, "no run: mine's next fire");
      assert.equal(ms(await store.getNextWakeTime(['here', 'elsewhere'])), t + HOUR);
    });

    it('subscribe: listeners hear changes until they unsubscribe', async (h) => {
      const { store } = h;
      const heard: StoreChange[] = [];
      const off = store.subscribe((c) => heard.push(c));
      await store.addJob(job('a'), 'error');
      await store.updateJob('a', { name: 'x' });
      await store.removeJob('a');
      assert.deepEqual(
        heard.filter((c) => c.jobId === 'a').map((c) => c.kind),
        ['job-added', 'job-modified', 'job-removed'],
      );
      off();
      const before = heard.length;
      await store.addJob(job('b'), 'error');
      assert.equal(heard.length, before);
    });

    if (options.persistent) {
      it("a change made through a second store instance wakes the first one's listener", async (h) => {
        const other = await h.another!();
        const heard: StoreChange[] = [];
        let wake!: () => void;
        const woken = new Promise<void>((resolve) => (wake = resolve));
        const off = h.store.subscribe((c) => {
          heard.push(c);
          wake();
        });
        try {
          await (h.store as { listening?: () => Promise<void> }).listening?.();
          await other.addJob(job('from-other'), 'error');
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([
            woken,
            new Promise((_, reject) => {
              timer = setTimeout(() => reject(new Error('no notification within 5 s')), 5000);
            }),
          ]);
          clearTimeout(timer);
          assert.ok(heard.length >= 1);
        } finally {
          off();
        }
      });

      it('a row whose JSON cannot be decoded is listed with an __invalid__ trigger, quarantined, never deleted', async (h) => {
        const { store } = h;
        const past = new Date(Date.now() - MIN);
        const trigger = new IntervalTrigger({ seconds: 60, startDate: new Date(0) }).toJSON();
        for (const id of ['a', 'b', 'c', 'd'])
          await store.addJob(job(id, { nextRunTime: past, trigger }), 'error');
        await h.corrupt!('b', 'trigger', '{"type": "interval", "version": 1, ');
        await h.corrupt!('c', 'args', 'not json');
        const listed = await store.getJobs();
        assert.deepEqual(
          listed.map((j) => [j.id, j.trigger.type]),
          [
            ['a', 'interval'],
            ['b', '__invalid__'],
            ['c', '__invalid__'],
            ['d', 'interval'],
          ],
        );
        const b = (await store.getJob('b'))!;
        assert.equal(b.trigger.raw, '{"type": "interval", "version": 1, ');
        assert.equal(b.trigger.field, 'trigger');
        assert.equal((await store.getJob('c'))!.trigger.field, 'args');
        assert.throws(
          () => triggerFromJSON(b.trigger),
          'the scheduler cannot build it, so it quarantines it',
        );
        const result = await store.fireDueJobs(new Date(), 10, quarantiningPlanner());
        assert.deepEqual(
          result.fired.map((f) => [f.job.id, f.runs.length, f.plan.quarantine !== undefined]),
          [
            ['a', 1, false],
            ['b', 0, true],
            ['c', 0, true],
            ['d', 1, false],
          ],
        );
        const after = await store.getJobs();
        assert.equal(after.length, 4, 'nothing deleted');
        const bad = after.filter((j) => j.paused).map((j) => j.id);
        assert.deepEqual(bad, ['b', 'c']);
        assert.equal(
          (await store.getJob('b'))!.trigger.raw,
          '{"type": "interval", "version": 1, ',
          'raw text kept',
        );
        // Editing the quarantined job's other fields does not overwrite its stored trigger text.
        await store.updateJob('b', { name: 'renamed' });
        assert.equal((await store.getJob('b'))!.trigger.raw, '{"type": "interval", "version": 1, ');
        // Repairing the trigger brings it back.
        await store.updateJob('b', { trigger, paused: false, nextRunTime: past });
        assert.equal((await store.getJob('b'))!.trigger.type, 'interval');
      });

      it('a job quarantined for a row that cannot be read is resumed by a replace that repairs it (not an operator pause)', async (h) => {
        const { store } = h;
        const past = new Date(Date.now() - MIN);
        const trigger = new IntervalTrigger({ seconds: 60, startDate: new Date(0) }).toJSON();
        await store.addJob(job('b', { nextRunTime: past, trigger }), 'error');
        await h.corrupt!('b', 'trigger', '{"type": "interval", ');
        await store.fireDueJobs(new Date(), 10, quarantiningPlanner());
        assert.deepEqual(
          [(await store.getJob('b'))!.paused, (await store.getJob('b'))!.nextRunTime],
          [true, null],
        );
        // The next boot re-adds the job's definition.
        const readded = await store.addJob(job('b', { nextRunTime: past, trigger }), 'replace');
        assert.equal(readded.outcome, 'replaced');
        const b = (await store.getJob('b'))!;
        assert.deepEqual([b.paused, ms(b.nextRunTime), b.trigger.type], [false, past.getTime(), 'interval']);
      });

      it('a job quarantined for its args fires again once they are repaired (its trigger text unchanged)', async (h) => {
        const { store } = h;
        const past = new Date(Date.now() - MIN);
        const trigger = new IntervalTrigger({ seconds: 60, startDate: new Date(0) }).toJSON();
        await store.addJob(job('c', { nextRunTime: past, trigger }), 'error');
        await h.corrupt!('c', 'args', 'not json');
        const planner = quarantiningPlanner();
        const first = await store.fireDueJobs(new Date(), 10, planner);
        assert.deepEqual(
          first.fired.map((f) => [f.job.trigger.type, f.plan.quarantine !== undefined]),
          [['__invalid__', true]],
        );
        // The same store instance (which may keep decoded triggers between claims) after the repair.
        await store.updateJob('c', { args: [1], paused: false, nextRunTime: past });
        const second = await store.fireDueJobs(new Date(), 10, planner);
        assert.deepEqual(
          second.fired.map((f) => [f.job.trigger.type, f.job.args, f.plan.quarantine ?? null, f.runs.length]),
          [['interval', [1], null, 1]],
        );
      });
    }

    it(
      'retention: the newest maxRunsPerJob finished runs of a job are kept',
      async (h) => {
        const { store } = h;
        const t = Date.now() - HOUR;
        await store.addJob(job('a', { nextRunTime: new Date(t), maxInstances: 100 }), 'error');
        await store.addJob(job('b', { nextRunTime: new Date(t), maxInstances: 100 }), 'error');
        await store.fireDueJobs(
          new Date(),
          10,
          simplePlanner(HOUR, [], () => ({
            runs: Array.from({ length: 10 }, (_, i) => ({
              scheduledFireTime: new Date(t + i * 1000),
              status: 'pending' as const,
              notBefore: new Date(t),
            })),
          })),
        );
        const leased = await store.acquireRuns('n1', new Date(), 100, 30_000);
        assert.equal(leased.length, 20);
        const ofA = leased.filter((x) => x.run.jobId === 'a');
        // Finished oldest fire time first, so "newest finished" and "newest fire time" agree.
        ofA.sort((x, y) => ms(x.run.scheduledFireTime)! - ms(y.run.scheduledFireTime)!);
        for (const a of ofA)
          assert.equal(await store.finishRun(a.run.id, 'n1', 1, new Date(), { status: 'succeeded' }), true);
        await h.prune?.();
        const kept = await store.getRuns({ jobId: 'a' });
        // The memory store drops in chunks (up to 2 x maxRunsPerJob); persistent stores prune to the limit.
        assert.ok(kept.length >= 2 && kept.length <= 4, `kept ${kept.length}`);
        assert.deepEqual(
          kept.slice(0, 2).map((r) => ms(r.scheduledFireTime)),
          [t + 9000, t + 8000],
          'the newest are kept',
        );
        assert.equal(
          (await store.getRuns({ jobId: 'b', limit: 100 })).length,
          10,
          'active runs are never pruned',
        );
      },
      { maxRunsPerJob: 2 },
    );
  });
}

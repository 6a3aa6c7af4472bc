// The dashboard's files as the API serves them (no browser: see test/browser/ for the page itself), and
// keyset paging of GET /runs, which the dashboard and large histories rely on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DASHBOARD_CSP, DASHBOARD_PATHS } from '../../src/dashboard/index.js';
import { harness } from './helpers.js';

test('GET /scheduler/ serves the dashboard without a token, with its content types and CSP', async () => {
  const h = await harness();
  const page = await h.call('GET', '/scheduler/', { token: null });
  assert.equal(page.status, 200);
  assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(page.headers.get('content-security-policy'), DASHBOARD_CSP);
  assert.match(DASHBOARD_CSP, /script-src 'self'/);
  assert.doesNotMatch(DASHBOARD_CSP, /unsafe-inline|unsafe-eval/);
  assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(page.headers.get('x-frame-options'), 'DENY');
  const html = await page.text();
  assert.match(html, /<script type="module" src="dashboard.js"><\/script>/);
  assert.doesNotMatch(html, /<script>|<style>| style=| on[a-z]+=/i, 'no inline script, style or handler');

  const types: Record<string, RegExp> = {
    '/index.html': /^text\/html/,
    '/dashboard.js': /^text\/javascript/,
    '/dashboard.css': /^text\/css/,
    '/favicon.svg': /^image\/svg\+xml/,
  };
  for (const path of DASHBOARD_PATHS.filter((p) => p !== '/')) {
    const res = await h.call('GET', `/scheduler${path}`, { token: null });
    assert.equal(res.status, 200, path);
    assert.match(res.headers.get('content-type') ?? '', types[path]!, path);
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    const etag = res.headers.get('etag')!;
    const again = await h.call('GET', `/scheduler${path}`, {
      token: null,
      headers: { 'if-none-match': etag },
    });
    assert.equal(again.status, 304, path);
  }
  // The data is not public: API routes still need the token.
  assert.equal((await h.call('GET', '/scheduler/jobs', { token: null })).status, 401);
  assert.equal((await h.call('GET', '/scheduler/nope.js', { token: null })).status, 404);
  await h.close();
});

test('the prefix without its slash redirects to the page; HEAD answers without a body', async () => {
  const h = await harness();
  const res = await h.call('GET', '/scheduler?x=1', { token: null });
  assert.equal(res.status, 308);
  assert.equal(res.headers.get('location'), '/scheduler/?x=1');
  const head = await h.call('HEAD', '/scheduler/dashboard.js', { token: null });
  assert.equal(head.status, 200);
  await h.close();
  const root = await harness({ api: { prefix: '' } });
  assert.equal((await root.call('GET', '/', { token: null })).status, 200);
  await root.close();
});

test('dashboard: false leaves it out; an assets hook is asked first; a bad value is rejected', async () => {
  const off = await harness({ api: { dashboard: false } });
  assert.equal((await off.call('GET', '/scheduler/', { token: null })).status, 404);
  await off.close();
  const own = await harness({
    api: {
      assets: (path) =>
        path === '/' ? new Response('mine', { headers: { 'content-type': 'text/plain' } }) : null,
    },
  });
  assert.equal(await (await own.call('GET', '/scheduler/', { token: null })).text(), 'mine');
  assert.equal((await own.call('GET', '/scheduler/dashboard.js', { token: null })).status, 200);
  await own.close();
  await assert.rejects(
    harness({ api: { dashboard: 'yes' as unknown as boolean } }),
    (err: Error & { code?: string }) => err.code === 'INVALID_OPTION' && /dashboard/.test(err.message),
  );
});

test('GET /runs by cursor: a run recorded between pages with a fire time already paged repeats none', async () => {
  const h = await harness();
  const T = '2024-01-01T00:00:00.000Z';
  // Each job fires late at T, one second apart: runs sharing the fire time T, the newest created first.
  const fireLateAtT = async (id: string) => {
    const created = await h.json('POST', '/scheduler/jobs', {
      body: { id, taskId: 'tick', trigger: { type: 'interval', hours: 1 }, nextRunTime: T },
    });
    assert.equal(created.status, 201);
    await h.clock.advance(1000);
  };
  await h.clock.advance(1000);
  for (const id of ['a', 'b', 'c', 'd']) await fireLateAtT(id);
  const range = `from=${T}&to=2024-01-01T00:00:00.001Z`;
  const first = await h.json('GET', `/scheduler/runs?${range}&limit=2`);
  assert.deepEqual(
    first.body.items.map((r: { jobId: string }) => r.jobId),
    ['d', 'c'],
  );
  // A run recorded now, at the fire time T, sorts before the runs already seen.
  await fireLateAtT('e');
  const seen: string[] = first.body.items.map((r: { jobId: string }) => r.jobId);
  let cursor: string | null = first.body.nextCursor;
  for (let pages = 0; cursor; pages++) {
    assert.ok(pages < 5);
    const page: { body: { items: { jobId: string }[]; nextCursor: string | null } } = await h.json(
      'GET',
      `/scheduler/runs?${range}&limit=2&cursor=${cursor}`,
    );
    seen.push(...page.body.items.map((r) => r.jobId));
    cursor = page.body.nextCursor;
  }
  assert.deepEqual(seen, ['d', 'c', 'b', 'a']);
  await h.close();
});

test('GET /runs pages by cursor through ties of the same fire time, like one big page', async () => {
  const h = await harness();
  for (const id of ['a', 'b', 'c']) {
    await h.json('POST', '/scheduler/jobs', {
      body: { id, taskId: 'tick', trigger: { type: 'interval', hours: 1 }, maxInstances: 10 },
    });
  }
  // Manual runs at the same instant share a fire time: ties the cursor must page through.
  for (let round = 0; round < 3; round++) {
    for (const id of ['a', 'b', 'c', 'a'])
      assert.equal((await h.call('POST', `/scheduler/jobs/${id}/run`)).status, 202);
    await h.clock.advance(1000);
  }
  const all = await h.json('GET', '/scheduler/runs?limit=500');
  assert.equal(all.body.items.length, 12);
  assert.equal(all.body.nextCursor, null);
  for (const limit of [1, 2, 3, 5]) {
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: {
        body: { items: { id: string }[]; nextCursor: string | null; nextOffset: number | null };
      } = await h.json('GET', `/scheduler/runs?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
      ids.push(...page.body.items.map((r) => r.id));
      if (cursor) assert.equal(page.body.nextOffset, null);
      cursor = page.body.nextCursor;
      assert.ok(++pages <= 12);
    } while (cursor);
    assert.deepEqual(
      ids,
      all.body.items.map((r: { id: string }) => r.id),
      `limit ${limit}`,
    );
  }
  // With a filter, and errors.
  const first = await h.json('GET', '/scheduler/runs?limit=2&jobId=a');
  const second = await h.json('GET', `/scheduler/runs?limit=10&jobId=a&cursor=${first.body.nextCursor}`);
  assert.equal(first.body.items.length + second.body.items.length, 6);
  assert.ok(second.body.items.every((r: { jobId: string }) => r.jobId === 'a'));
  const both = await h.json('GET', `/scheduler/runs?offset=2&cursor=${first.body.nextCursor}`);
  assert.equal(both.status, 400);
  const bad = await h.json('GET', '/scheduler/runs?cursor=nope');
  assert.deepEqual([bad.status, bad.body.details.field], [400, 'cursor']);
  await h.close();
});

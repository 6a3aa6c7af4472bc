// The dashboard in a real headless Chromium (Debian's, driven by playwright-core) against a real Fastify
// server on an ephemeral port: sign in, see the jobs, pause, run now, remove with a confirmation, live
// updates from GET /events, and hostile job names rendered as text. Waits are for DOM states (bounded by
// Playwright timeouts), never fixed sleeps.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Page } from 'playwright-core';
import { tickwork } from '../../src/plugins/fastify.js';
import { IntervalTrigger, silentLogger, type Scheduler } from '../../src/index.js';
import type { ApiAuthOptions } from '../../src/http/index.js';
import { DASHBOARD_CSP } from '../../src/dashboard/index.js';
import { launchChromium, type Chromium } from './chromium.js';

const ADMIN = 'dashboard-admin-token-0123456789';
const XSS = '<img src=x onerror=alert(1)>';
const WAIT = { timeout: 20_000 };

interface Server {
  app: FastifyInstance;
  scheduler: Scheduler;
  url: string;
}

async function startServer(auth: ApiAuthOptions): Promise<Server> {
  const app = Fastify({ logger: false });
  await app.register(tickwork, {
    logger: silentLogger,
    api: { auth, heartbeatInterval: 1000 },
    async setup(scheduler) {
      scheduler.defineTask('tick', async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return 'tock';
      });
      await scheduler.addJob('tick', 'interval', {
        id: 'tick',
        seconds: 1,
        maxInstances: 2,
        retry: { attempts: 3, backoff: 'fixed', delay: 2000 },
      });
      await scheduler.addJob('tick', 'interval', { id: 'xss', name: XSS, hours: 1 });
      await scheduler.addJob('tick', 'cron', { id: 'nightly', name: 'nightly report', hour: 3 });
      // A trigger whose second search fails: the job is quarantined after its first run.
      let searches = 0;
      class Flaky extends IntervalTrigger {
        override getNextFireTime(previous: Date | null, now: Date): Date | null {
          if (++searches > 1 && previous !== null) throw new Error('the fire-time search failed');
          return super.getNextFireTime(previous, now);
        }
      }
      await scheduler.addJob('tick', new Flaky({ seconds: 1 }), { id: 'flaky' });
    },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return { app, scheduler: app.scheduler, url: `http://127.0.0.1:${port}/scheduler/` };
}

let chromium: Chromium;
before(async () => {
  chromium = await launchChromium();
});
after(async () => {
  await chromium?.close();
});

/** A page that records dialogs (an `alert` from injected markup would show here) and errors (CSP too). */
async function openPage(): Promise<{ page: Page; dialogs: string[]; errors: string[] }> {
  const page = await chromium.context.newPage();
  const dialogs: string[] = [];
  const errors: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource.*(401|404)/.test(m.text())) errors.push(m.text());
  });
  return { page, dialogs, errors };
}

const row = (page: Page, id: string) => page.locator(`#jobs-table tr[data-job-id="${id}"]`);

test('the dashboard: sign in, jobs, pause, run now, remove, live updates, escaping', async () => {
  const server = await startServer({ tokens: [{ token: ADMIN, role: 'admin' }] });
  const { page, dialogs, errors } = await openPage();
  try {
    const response = await page.goto(server.url);
    assert.equal(response?.status(), 200);
    const headers = response!.headers();
    assert.match(headers['content-type'] ?? '', /^text\/html/);
    assert.equal(headers['content-security-policy'], DASHBOARD_CSP);
    assert.equal(headers['x-content-type-options'], 'nosniff');

    // No token yet: the sign-in form. A wrong token is refused, the right one kept in sessionStorage.
    await page.waitForSelector('#login-view:not([hidden])', WAIT);
    await page.fill('#token', 'not-the-token-0123456789');
    await page.click('#login-form button[type=submit]');
    // A locator, not waitForFunction: a string predicate is evaluated in the page, which the dashboard's
    // Content-Security-Policy (no 'unsafe-eval') may refuse.
    await page.locator('#login-error', { hasText: 'not accepted' }).waitFor(WAIT);
    await page.fill('#token', ADMIN);
    await page.click('#login-form button[type=submit]');
    await row(page, 'tick').waitFor(WAIT);
    assert.equal(await page.evaluate("sessionStorage.getItem('tickwork.token')"), ADMIN);
    assert.equal(
      await row(page, 'tick')
        .locator('td.schedule')
        .innerText()
        .then((t) => t.split('\n')[0]),
      'Every second',
    );
    await page.waitForSelector('#live[data-state="on"]', WAIT);

    // A quarantined job says so, with the reason in its badge's title.
    const quarantined = row(page, 'flaky').locator('[data-state="quarantined"]');
    await quarantined.waitFor(WAIT);
    assert.match((await quarantined.getAttribute('title')) ?? '', /the fire-time search failed/);

    // A hostile name is text, not markup.
    assert.equal(await row(page, 'xss').locator('td.name a').textContent(), XSS);
    assert.equal(await page.locator('#jobs-table img').count(), 0);

    // The tick job runs: its last status shows up.
    await row(page, 'tick').locator('td.last .badge').waitFor(WAIT);

    // Pause from the page.
    await row(page, 'tick').locator('button[data-action="pause"]').click();
    await row(page, 'tick').locator('[data-state="paused"]').waitFor(WAIT);
    assert.equal((await server.scheduler.getJob('tick'))?.paused, true);
    await page.screenshot({ path: '/tmp/tickwork-dashboard.png', fullPage: true });

    // A change made elsewhere arrives through GET /events.
    await server.scheduler.pauseJob('nightly');
    await row(page, 'nightly').locator('[data-state="paused"]').waitFor(WAIT);

    // The job page; run now: the manual run appears in its runs.
    await row(page, 'tick').locator('td.name a').click();
    await page.waitForSelector('#job-view:not([hidden])', WAIT);
    assert.equal(await page.locator('#job-title').textContent(), 'tick');
    // Its options, the retry policy among them.
    assert.match((await page.locator('#job-details').textContent()) ?? '', /Retry3 attempts, 2\.00 s apart/);
    assert.equal(await page.locator('#runs-table tr[data-kind="manual"]').count(), 0);
    await page.click('#job-actions button[data-action="run"]');
    await page.waitForSelector('#runs-table tr[data-kind="manual"][data-status="succeeded"]', WAIT);
    await page.waitForSelector('#chart-duration svg rect.bar', WAIT);
    await page.waitForSelector('#chart-lateness svg rect.bar', WAIT);
    await page.screenshot({ path: '/tmp/tickwork-dashboard-job.png', fullPage: true });
    await page.click('#job-actions button[data-action="resume"]');
    await page.waitForSelector('#job-state [data-state="active"]', WAIT);

    // A job that does not exist (here: after another job's page) shows nothing of the job shown before.
    await page.goto(`${server.url}#/jobs/no-such-job`);
    await page.locator('#job-state', { hasText: 'not found' }).waitFor(WAIT);
    assert.equal(await page.locator('#job-title').textContent(), 'no-such-job');
    assert.equal(await page.locator('#runs-table tbody tr').count(), 0);
    assert.equal(await page.locator('#job-next li').count(), 0);
    assert.equal(await page.locator('#chart-duration svg, #chart-lateness svg').count(), 0);
    assert.equal(await page.locator('#job-counts .badge').count(), 0);
    assert.equal(await page.isVisible('#runs-empty'), true);
    assert.equal(await page.title(), 'no-such-job · tickwork');
    await page.goto(`${server.url}#/jobs/tick`);
    await page.waitForSelector('#runs-table tr[data-kind="manual"]', WAIT);
    // A link whose escape is cut short (not decodable) is a job that does not exist, not a failed page.
    await page.goto(`${server.url}#/jobs/%E0%A4%A`);
    await page.locator('#job-state', { hasText: 'not found' }).waitFor(WAIT);
    assert.equal(await page.locator('#job-title').textContent(), '%E0%A4%A');
    await page.goto(`${server.url}#/jobs/tick`);
    await page.waitForSelector('#runs-table tr[data-kind="manual"]', WAIT);

    // Remove, with a confirmation: cancel keeps the job, confirm removes it.
    await page.click('a[href="#/"]');
    await row(page, 'xss').waitFor(WAIT);
    await row(page, 'xss').locator('button[data-action="remove"]').click();
    await page.waitForSelector('#confirm[open]', WAIT);
    assert.ok((await page.locator('#confirm-text').textContent())?.includes(XSS));
    await page.click('#confirm-cancel');
    assert.ok(await server.scheduler.getJob('xss'));
    await row(page, 'xss').locator('button[data-action="remove"]').click();
    await page.click('#confirm-ok');
    await row(page, 'xss').waitFor({ state: 'detached', ...WAIT });
    assert.equal(await server.scheduler.getJob('xss'), null);

    assert.deepEqual(dialogs, [], 'no alert() ran');
    assert.deepEqual(errors, [], 'no script errors or CSP violations');
  } finally {
    await page.close();
    await server.app.close();
  }
});

/**
 * A Fastify app with the plugin and `n` interval jobs `job-0000`..., listening, and a page signed in to its
 * dashboard, showing the first page of jobs with live updates on.
 */
async function signedInWithJobs(n: number): Promise<{ app: FastifyInstance; page: Page; errors: string[] }> {
  const app = Fastify({ logger: false });
  await app.register(tickwork, {
    logger: silentLogger,
    api: { auth: { tokens: [{ token: ADMIN, role: 'admin' }] }, heartbeatInterval: 1000 },
    async setup(scheduler) {
      scheduler.defineTask('tick', () => {});
      for (let i = 0; i < n; i++) {
        await scheduler.addJob('tick', 'interval', { id: `job-${String(i).padStart(4, '0')}`, hours: 1 });
      }
    },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const { page, errors } = await openPage();
  await page.goto(`http://127.0.0.1:${port}/scheduler/`);
  await page.waitForSelector('#login-view:not([hidden])', WAIT);
  await page.fill('#token', ADMIN);
  await page.click('#login-form button[type=submit]');
  await row(page, `job-${String(Math.min(n, 50) - 1).padStart(4, '0')}`).waitFor(WAIT);
  await page.waitForSelector('#live[data-state="on"]', WAIT);
  return { app, page, errors };
}

test('a live refresh keeps every row "Load more" showed, beyond the API\'s largest page (500)', async () => {
  const { app, page, errors } = await signedInWithJobs(560);
  try {
    for (let shown = 50; shown < 560; shown += 50) {
      await page.click('#jobs-more');
      await row(page, `job-${String(Math.min(shown + 49, 559)).padStart(4, '0')}`).waitFor(WAIT);
    }
    assert.equal(await page.locator('#jobs-table tbody tr').count(), 560);
    // A change arrives through GET /events: the list is reloaded, all 560 rows of it.
    await app.scheduler.pauseJob('job-0001');
    await row(page, 'job-0001').locator('[data-state="paused"]').waitFor(WAIT);
    assert.equal(await page.locator('#jobs-table tbody tr').count(), 560);
    assert.equal(await page.isHidden('#jobs-more'), true);
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
    await app.close();
  }
});

test('a live refresh that starts before "Load more" and ends after it keeps the rows "Load more" added', async () => {
  const { app, page, errors } = await signedInWithJobs(120);
  try {
    // From now on, a first page of the list (a refresh: no cursor) is held until released.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let held = 0;
    await page.route(/\/scheduler\/jobs\?/, async (route) => {
      if (!route.request().url().includes('cursor=')) {
        held++;
        await released;
      }
      await route.continue();
    });
    // A change arrives through GET /events: a refresh of the 50 rows shown starts, and is held.
    await app.scheduler.pauseJob('job-0001');
    for (let i = 0; i < 200 && held === 0; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(held, 1, 'the refresh is under way');
    // "Load more" meanwhile; then the refresh ends.
    await page.click('#jobs-more');
    // (time for a "Load more" that does not wait for the refresh to show its rows: 100 rows, then the refresh
    // would put back the 50 it began with)
    await new Promise((r) => setTimeout(r, 300));
    release();
    await row(page, 'job-0001').locator('[data-state="paused"]').waitFor(WAIT);
    await row(page, 'job-0099').waitFor(WAIT);
    assert.equal(await page.locator('#jobs-table tbody tr').count(), 100);
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
    await app.close();
  }
});

test('with auth: false the dashboard opens without a token; assets have their content types', async () => {
  const server = await startServer(false);
  const { page, errors } = await openPage();
  try {
    // The prefix without its slash redirects to the page.
    await page.goto(server.url.replace(/\/$/, ''));
    assert.ok(page.url().endsWith('/scheduler/'));
    await row(page, 'tick').waitFor(WAIT);
    assert.equal(await page.locator('#login-view').isHidden(), true);
    assert.equal(await page.locator('#logout').isHidden(), true);
    for (const [file, type] of [
      ['dashboard.js', /^text\/javascript/],
      ['dashboard.css', /^text\/css/],
      ['favicon.svg', /^image\/svg\+xml/],
    ] as const) {
      const res = await fetch(server.url + file);
      assert.equal(res.status, 200, file);
      assert.match(res.headers.get('content-type') ?? '', type, file);
      assert.equal(res.headers.get('content-security-policy'), DASHBOARD_CSP);
      const etag = res.headers.get('etag');
      assert.ok(etag);
      assert.equal((await fetch(server.url + file, { headers: { 'if-none-match': etag } })).status, 304);
    }
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
    await server.app.close();
  }
});

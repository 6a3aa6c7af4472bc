// @ts-check
/**
 * The tickwork dashboard: a page served by the HTTP API under its prefix, calling the same API with a
 * bearer token. Hand-written ES module, no dependencies, no build step.
 *
 * Safety: every string that comes from the server (job names, ids, error messages) reaches the page as a
 * text node or an attribute value (`textContent`, `append(string)`, `setAttribute`); nothing is parsed as
 * HTML. The page is served with a Content-Security-Policy that forbids inline scripts and styles.
 *
 * Live updates: `GET /events` read with `fetch` (an `EventSource` cannot send the `Authorization` header),
 * parsed as server-sent events, reconnecting with a backoff.
 */

const TOKEN_KEY = 'tickwork.token';
/** The API's base path: the page's own path without the trailing `/` (`/scheduler`). */
const BASE = location.pathname.replace(/\/(index\.html)?$/, '');
const STATUSES = new Set([
  'pending',
  'running',
  'succeeded',
  'failed',
  'timed-out',
  'missed',
  'skipped',
  'abandoned',
  'cancelled',
]);

/**
 * @typedef {{ id: string, status: string, manual: boolean, scheduledFireTime: string,
 *   startedAt: string | null, finishedAt: string | null, duration: number | null }} RunSummary
 * @typedef {RunSummary & { jobId: string, attempt: number, lateness: number | null,
 *   error: { name: string, message: string } | null }} Run
 * @typedef {{ id: string, name: string, taskId: string, triggerText: string, description: string,
 *   paused: boolean, quarantine: string | null, pending: boolean, nextRunTime: string | null, maxInstances: number,
 *   misfireGraceTime: number | null, coalesce: boolean, jitter: number | null, timeout: number | null,
 *   retry: RetryPolicy | null, lastRun: RunSummary | null }} Job
 * @typedef {{ attempts: number, backoff: string, delay: number, maxDelay: number, jitter: boolean }} RetryPolicy
 * @typedef {Job & { nextFireTimes: string[], recentRunCounts: Record<string, number> }} JobDetail
 */

const state = {
  /** @type {string | null} */
  token: sessionStorage.getItem(TOKEN_KEY),
  /** Whether the API answered without a token (`auth: false`). */
  open: false,
  /** @type {Job[]} */
  jobs: [],
  /** @type {string | null} */
  nextCursor: null,
  /** @type {AbortController | null} */
  stream: null,
  firstRender: true,
  /** @type {{ view: 'jobs' } | { view: 'job', id: string }} */
  route: { view: 'jobs' },
};

// ------------------------------------------------------------------ DOM helpers

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing`);
  return el;
}

/**
 * Creates an element. Children are nodes or strings (strings become text nodes: never parsed as HTML).
 * @param {string} tag
 * @param {Record<string, string | boolean | EventListener | undefined>} [attrs]
 * @param {(Node | string | null | undefined)[]} children
 * @returns {HTMLElement}
 */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(key.replace(/^on/, ''), value);
    else if (key === 'class') el.className = String(value);
    else el.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children) if (child !== null && child !== undefined) el.append(child);
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';
/**
 * Creates an SVG element with attributes (numbers and fixed strings only).
 * @param {string} tag
 * @param {Record<string, string | number>} [attrs]
 * @returns {SVGElement}
 */
function s(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  return el;
}

/**
 * A status badge; unknown statuses get a neutral style.
 * @param {string} status
 */
function statusBadge(status) {
  return h('span', { class: `badge status-${STATUSES.has(status) ? status : 'unknown'}` }, status);
}

/**
 * @param {number} ms
 * @returns {Promise<void>}
 */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ------------------------------------------------------------------ formatting

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });

/** @param {string | null} iso */
function formatTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  const sameDay = d.toDateString() === new Date().toDateString();
  return (sameDay ? timeOnly : dateTime).format(d);
}

/** @param {number | null} ms */
function formatMs(ms) {
  if (ms === null || !Number.isFinite(ms)) return '—';
  const sign = ms < 0 ? '−' : '';
  const a = Math.abs(ms);
  if (a < 1000) return `${sign}${Math.round(a)} ms`;
  if (a < 60_000) return `${sign}${(a / 1000).toFixed(a < 10_000 ? 2 : 1)} s`;
  if (a < 3_600_000) return `${sign}${Math.floor(a / 60_000)} min ${Math.round((a % 60_000) / 1000)} s`;
  return `${sign}${Math.floor(a / 3_600_000)} h ${Math.round((a % 3_600_000) / 60_000)} min`;
}

/** @param {string} iso */
function relative(iso) {
  const diff = new Date(iso).getTime() - Date.now();
  const a = Math.abs(diff);
  const text =
    a < 1000
      ? 'now'
      : a < 60_000
        ? `${Math.round(a / 1000)} s`
        : a < 3_600_000
          ? `${Math.round(a / 60_000)} min`
          : a < 86_400_000
            ? `${Math.round(a / 3_600_000)} h`
            : `${Math.round(a / 86_400_000)} d`;
  if (text === 'now') return text;
  return diff > 0 ? `in ${text}` : `${text} ago`;
}

/**
 * A time element whose relative part is kept fresh by {@link tickClocks}.
 * @param {string | null} iso
 */
function timeCell(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const rel = h('span', { class: 'rel', 'data-at': iso }, relative(iso));
  return h('time', { datetime: iso, title: iso }, formatTime(iso), ' ', rel);
}

function tickClocks() {
  for (const el of document.querySelectorAll('[data-at]')) {
    const at = el.getAttribute('data-at');
    if (at) el.textContent = relative(at);
  }
}

/**
 * @param {string} message
 * @param {'info' | 'error'} [kind]
 */
function toast(message, kind = 'info') {
  const el = h('div', { class: `toast ${kind}` }, message);
  $('toasts').append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 4000);
}

// ------------------------------------------------------------------ API

class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** @returns {Record<string, string>} */
function authHeaders() {
  return state.token ? { authorization: `Bearer ${state.token}` } : {};
}

/**
 * Calls the API; throws {@link ApiError} for an error answer (401 also shows the sign-in form).
 * @param {string} method
 * @param {string} path below the prefix, with its query
 * @returns {Promise<any>}
 */
async function api(method, path) {
  const res = await fetch(BASE + path, { method, headers: authHeaders(), cache: 'no-store' });
  const text = await res.text();
  /** @type {any} */
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    const err = new ApiError(res.status, body?.code ?? 'HTTP_ERROR', body?.message ?? `HTTP ${res.status}`);
    if (res.status === 401) signOut(state.token ? 'The token was not accepted.' : '');
    throw err;
  }
  return body;
}

/**
 * Reports a failed action.
 * @param {unknown} err
 */
function report(err) {
  if (err instanceof ApiError && err.status === 401) return;
  if (err instanceof ApiError && err.status === 403) toast('This needs an admin token.', 'error');
  else toast(err instanceof Error ? err.message : String(err), 'error');
}

// ------------------------------------------------------------------ sign-in

/** @param {string} message */
function signOut(message) {
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  state.stream?.abort();
  state.stream = null;
  setLive('off');
  show('login-view');
  $('login-error').textContent = message;
  $('logout').hidden = true;
  /** @type {HTMLInputElement} */ ($('token')).focus();
}

/** @param {SubmitEvent} event */
async function onLogin(event) {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ ($('token'));
  const token = input.value.trim();
  if (!token) return;
  state.token = token;
  try {
    await api('GET', '/status');
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) $('login-error').textContent = String(err);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  input.value = '';
  $('login-error').textContent = '';
  await enter();
}

/**
 * Shows the signed-in page: header, event stream, the current route.
 * @param {boolean} [routed] the current route is rendered already
 */
async function enter(routed = false) {
  $('logout').hidden = state.open;
  void loadStatus();
  startStream();
  if (!routed) await route();
}

// ------------------------------------------------------------------ views

/** @param {'loading' | 'login-view' | 'jobs-view' | 'job-view'} id */
function show(id) {
  for (const view of ['loading', 'login-view', 'jobs-view', 'job-view']) $(view).hidden = view !== id;
}

async function loadStatus() {
  try {
    const status = await api('GET', '/status');
    const pill = $('scheduler-state');
    pill.hidden = false;
    pill.textContent = status.state;
    pill.className = `pill state-${/^[a-z]+$/.test(status.state) ? status.state : 'unknown'}`;
    const health = status.store.health;
    $('scheduler-info').textContent =
      `${status.store.kind} store${health && !health.ok ? ' (unhealthy)' : ''} · ${status.timezone} · ` +
      `node ${status.nodeId}`;
    $('jobs-count').textContent = String(status.jobs);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) $('scheduler-info').textContent = String(err);
  }
}

async function route() {
  const m = /^#\/jobs\/(.+)$/.exec(location.hash);
  if (m && m[1]) {
    let id = m[1];
    try {
      id = decodeURIComponent(id);
    } catch {
      // A malformed escape (a link cut short): the text as written, which names no job.
    }
    state.route = { view: 'job', id };
    await loadJob();
  } else {
    state.route = { view: 'jobs' };
    await loadJobs();
  }
}

/** The query of the jobs list from its filter and sort controls. */
function jobsQuery() {
  const filter = /** @type {HTMLSelectElement} */ ($('jobs-filter')).value;
  const sort = /** @type {HTMLSelectElement} */ ($('jobs-sort')).value;
  const q = new URLSearchParams({ sort });
  if (filter) q.set('paused', filter);
  return q;
}

/**
 * Loads the jobs list: the first page, or as many rows as are shown (live refresh).
 * @param {{ keep?: boolean }} [options]
 */
function loadJobs(options = {}) {
  return queueList(() => loadJobsNow(options));
}

/**
 * The loads of the jobs list, one after another, each reading the list as the previous one left it: a live
 * refresh that ran beside "Load more" replaced the rows it had added with the shorter list it had begun with.
 */
let listQueue = Promise.resolve();

/**
 * Runs `load` after the list loads queued before it.
 * @param {() => Promise<void>} load
 * @returns {Promise<void>}
 */
function queueList(load) {
  const done = listQueue.then(load);
  listQueue = done.catch(() => {});
  return done;
}

/**
 * {@link loadJobs}, now.
 * @param {{ keep?: boolean }} options
 */
async function loadJobsNow(options) {
  const q = jobsQuery();
  // A refresh reloads as many rows as are shown ("Load more" may have shown more than the API's largest
  // page, 500): page by page.
  const wanted = Math.max(50, options.keep ? state.jobs.length : 50);
  /** @type {Job[]} */
  let jobs = [];
  /** @type {string | null} */
  let cursor = null;
  do {
    q.set('limit', String(Math.min(500, wanted - jobs.length)));
    if (cursor) q.set('cursor', cursor);
    const page = await api('GET', `/jobs?${q}`);
    if (state.route.view !== 'jobs') return;
    jobs = jobs.concat(page.items);
    cursor = page.nextCursor;
  } while (cursor && jobs.length < wanted);
  state.jobs = jobs;
  state.nextCursor = cursor;
  renderJobs();
}

function loadMoreJobs() {
  return queueList(loadMoreJobsNow);
}

async function loadMoreJobsNow() {
  if (!state.nextCursor || state.route.view !== 'jobs') return;
  const q = jobsQuery();
  q.set('limit', '50');
  q.set('cursor', state.nextCursor);
  const page = await api('GET', `/jobs?${q}`);
  if (state.route.view !== 'jobs') return;
  state.jobs = state.jobs.concat(page.items);
  state.nextCursor = page.nextCursor;
  renderJobs();
}

/**
 * The action buttons of a job.
 * @param {Job} job
 */
function jobActions(job) {
  const id = job.id;
  return h(
    'div',
    { class: 'actions' },
    job.paused
      ? h('button', { type: 'button', 'data-action': 'resume', onclick: () => act('resume', job) }, 'Resume')
      : h('button', { type: 'button', 'data-action': 'pause', onclick: () => act('pause', job) }, 'Pause'),
    h('button', { type: 'button', 'data-action': 'run', onclick: () => act('run', job) }, 'Run now'),
    h(
      'button',
      { type: 'button', class: 'danger', 'data-action': 'remove', onclick: () => act('remove', job) },
      'Remove',
    ),
    // keeps the id reachable for tests and assistive tools without showing it twice
    h('span', { class: 'sr-only' }, id),
  );
}

/** @param {Job} job */
function jobState(job) {
  if (job.paused && job.quarantine)
    return h(
      'span',
      { class: 'badge paused', 'data-state': 'quarantined', title: job.quarantine },
      'quarantined',
    );
  if (job.paused) return h('span', { class: 'badge paused', 'data-state': 'paused' }, 'paused');
  if (job.pending) return h('span', { class: 'badge pending', 'data-state': 'pending' }, 'pending');
  return h('span', { class: 'badge active', 'data-state': 'active' }, 'active');
}

/** @param {Job} job */
function jobRow(job) {
  const href = `#/jobs/${encodeURIComponent(job.id)}`;
  return h(
    'tr',
    { 'data-job-id': job.id },
    h(
      'td',
      { class: 'name' },
      h('a', { href }, job.name),
      job.name !== job.id ? h('div', { class: 'muted small' }, job.id) : null,
    ),
    h(
      'td',
      { class: 'schedule', title: job.triggerText },
      job.description,
      h('div', { class: 'muted small mono' }, job.triggerText),
    ),
    h('td', { class: 'next' }, job.paused ? h('span', { class: 'muted' }, '—') : timeCell(job.nextRunTime)),
    h(
      'td',
      { class: 'last' },
      job.lastRun
        ? h(
            'span',
            {},
            statusBadge(job.lastRun.status),
            ' ',
            h(
              'span',
              { class: 'muted small' },
              formatTime(job.lastRun.startedAt ?? job.lastRun.scheduledFireTime),
            ),
          )
        : h('span', { class: 'muted' }, 'never'),
    ),
    h('td', { class: 'state' }, jobState(job)),
    h('td', {}, jobActions(job)),
  );
}

function renderJobs() {
  show('jobs-view');
  const body = /** @type {HTMLTableElement} */ ($('jobs-table')).tBodies[0];
  if (!body) return;
  body.replaceChildren(...state.jobs.map(jobRow));
  $('jobs-empty').hidden = state.jobs.length > 0;
  $('jobs-more').hidden = !state.nextCursor;
  document.title = 'Jobs · tickwork';
  if (state.firstRender) {
    state.firstRender = false;
    performance.mark('tickwork:jobs-rendered');
    document.documentElement.dataset.ready = 'jobs';
  }
}

async function loadJob() {
  if (state.route.view !== 'job') return;
  const id = state.route.id;
  const path = `/jobs/${encodeURIComponent(id)}`;
  let job;
  try {
    job = await api('GET', `${path}?n=5`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      show('job-view');
      document.title = `${id} · tickwork`;
      $('job-title').textContent = id;
      $('job-state').replaceChildren('not found');
      $('job-actions').replaceChildren();
      $('job-details').replaceChildren(h('p', { class: 'muted' }, 'This job does not exist (any more).'));
      // Nothing of the job shown before (this one before its removal, or the previous page's) stays.
      $('job-next-note').textContent = '';
      $('job-next').replaceChildren();
      $('job-counts').replaceChildren();
      $('chart-duration').replaceChildren();
      $('chart-lateness').replaceChildren();
      /** @type {HTMLTableElement} */ ($('runs-table')).tBodies[0]?.replaceChildren();
      $('runs-empty').hidden = false;
      return;
    }
    throw err;
  }
  const runs = await api('GET', `/runs?jobId=${encodeURIComponent(id)}&limit=100`);
  if (state.route.view !== 'job' || state.route.id !== id) return;
  renderJob(job, runs.items);
}

/**
 * A retry policy in words: `3 attempts, exponential from 1 s (at most 5 min), jittered`.
 * @param {RetryPolicy | null} retry
 */
function retryText(retry) {
  if (retry === null) return 'none';
  const backoff =
    retry.backoff === 'fixed'
      ? `${formatMs(retry.delay)} apart`
      : `exponential from ${formatMs(retry.delay)} (at most ${formatMs(retry.maxDelay)})`;
  return `${retry.attempts} attempts, ${backoff}${retry.jitter ? ', jittered' : ''}`;
}

/**
 * @param {JobDetail} job
 * @param {Run[]} runs newest first
 */
function renderJob(job, runs) {
  show('job-view');
  document.title = `${job.name} · tickwork`;
  $('job-title').textContent = job.name;
  $('job-state').replaceChildren(jobState(job));
  $('job-actions').replaceChildren(jobActions(job));
  /** @type {[string, Node | string][]} */
  const rows = [
    ['ID', h('span', { class: 'mono' }, job.id)],
    ['Task', h('span', { class: 'mono' }, job.taskId)],
    ['Schedule', job.description],
    ['Trigger', h('span', { class: 'mono' }, job.triggerText)],
    ['Next run', job.paused ? 'paused' : timeCell(job.nextRunTime)],
    ['Max instances', String(job.maxInstances)],
    ['Misfire grace', job.misfireGraceTime === null ? 'no limit' : formatMs(job.misfireGraceTime)],
    ['Coalesce', job.coalesce ? 'yes' : 'no'],
    ['Jitter', job.jitter === null ? 'none' : formatMs(job.jitter)],
    ['Timeout', job.timeout === null ? 'none' : formatMs(job.timeout)],
    ['Retry', retryText(job.retry)],
  ];
  if (job.quarantine) rows.splice(5, 0, ['Quarantined', job.quarantine]);
  $('job-details').replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  $('job-next-note').textContent = job.paused ? '(if resumed now)' : '';
  $('job-next').replaceChildren(
    ...(job.nextFireTimes.length
      ? job.nextFireTimes.map((t) => h('li', {}, timeCell(t)))
      : [h('li', { class: 'muted' }, 'none')]),
  );
  const counts = Object.entries(job.recentRunCounts);
  $('job-counts').replaceChildren(
    ...(counts.length
      ? counts.flatMap(([status, n]) => [statusBadge(status), ` ${n}  `])
      : [h('span', { class: 'muted' }, 'no runs yet')]),
  );
  const chronological = runs.slice().reverse();
  $('chart-duration').replaceChildren(
    barChart(chronological, (r) => r.duration, 'No finished runs yet.', 'duration'),
  );
  $('chart-lateness').replaceChildren(
    barChart(
      chronological.filter((r) => !r.manual),
      (r) => r.lateness,
      'No scheduled runs started yet.',
      'lateness',
    ),
  );
  const body = /** @type {HTMLTableElement} */ ($('runs-table')).tBodies[0];
  body?.replaceChildren(
    ...runs
      .slice(0, 50)
      .map((r) =>
        h(
          'tr',
          { 'data-run-id': r.id, 'data-status': r.status, 'data-kind': r.manual ? 'manual' : 'scheduled' },
          h('td', {}, timeCell(r.scheduledFireTime)),
          h('td', {}, formatTime(r.startedAt)),
          h('td', { class: 'num' }, formatMs(r.lateness)),
          h('td', { class: 'num' }, formatMs(r.duration)),
          h('td', {}, statusBadge(r.status)),
          h('td', {}, r.manual ? 'manual' : 'scheduled'),
          h('td', { class: 'num' }, String(r.attempt)),
          h(
            'td',
            { class: 'error-cell', title: r.error ? r.error.message : '' },
            r.error ? r.error.message : '',
          ),
        ),
      ),
  );
  $('runs-empty').hidden = runs.length > 0;
}

/**
 * An SVG bar chart of `value(run)` over runs in time order; bars take their status's colour, each with a
 * tooltip.
 * @param {Run[]} runs oldest first
 * @param {(run: Run) => number | null} value
 * @param {string} empty text when there is nothing to draw
 * @param {string} label what the value is
 * @returns {Node}
 */
function barChart(runs, value, empty, label) {
  const points = runs.flatMap((r) => {
    const v = value(r);
    return v === null || !Number.isFinite(v) ? [] : [{ run: r, v }];
  });
  if (points.length === 0) return h('p', { class: 'empty' }, empty);
  const W = 600;
  const H = 180;
  const left = 64;
  const right = 8;
  const top = 10;
  const bottom = 26;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const max = Math.max(1, ...points.map((p) => p.v));
  const min = Math.min(0, ...points.map((p) => p.v));
  const y = (/** @type {number} */ v) => top + plotH - ((v - min) / (max - min)) * plotH;
  const svg = s('svg', {
    viewBox: `0 0 ${W} ${H}`,
    class: 'chart-svg',
    role: 'img',
    'aria-label': `${label} of the last ${points.length} runs, at most ${formatMs(max)}`,
  });
  for (const v of [min, (min + max) / 2, max]) {
    svg.append(s('line', { x1: left, x2: W - right, y1: y(v), y2: y(v), class: 'grid-line' }));
    const t = s('text', { x: left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' });
    t.textContent = formatMs(v);
    svg.append(t);
  }
  const step = plotW / points.length;
  const bw = Math.max(1, Math.min(24, step * 0.8));
  points.forEach((p, i) => {
    const x = left + i * step + (step - bw) / 2;
    const y0 = y(Math.max(0, Math.min(p.v, 0)));
    const y1 = y(Math.max(p.v, 0));
    const status = STATUSES.has(p.run.status) ? p.run.status : 'unknown';
    const bar = s('rect', {
      x,
      y: Math.min(y0, y1),
      width: bw,
      height: Math.max(1, Math.abs(y0 - y1)),
      class: `bar status-${status}`,
    });
    const tip = s('title');
    tip.textContent = `${formatTime(p.run.scheduledFireTime)}: ${label} ${formatMs(p.v)} (${p.run.status}${
      p.run.manual ? ', manual' : ''
    })`;
    bar.append(tip);
    svg.append(bar);
  });
  const first = points[0];
  const last = points[points.length - 1];
  if (first && last) {
    const a = s('text', { x: left, y: H - 6, class: 'axis' });
    a.textContent = formatTime(first.run.scheduledFireTime);
    const b = s('text', { x: W - right, y: H - 6, 'text-anchor': 'end', class: 'axis' });
    b.textContent = formatTime(last.run.scheduledFireTime);
    svg.append(a, b);
  }
  return svg;
}

// ------------------------------------------------------------------ actions

/**
 * Asks for confirmation in the page's dialog.
 * @param {string} text
 * @returns {Promise<boolean>}
 */
function confirmDialog(text) {
  const dialog = /** @type {HTMLDialogElement} */ ($('confirm'));
  $('confirm-text').textContent = text;
  return new Promise((resolve) => {
    const done = (/** @type {boolean} */ ok) => {
      $('confirm-ok').removeEventListener('click', yes);
      $('confirm-cancel').removeEventListener('click', no);
      dialog.removeEventListener('cancel', no);
      if (dialog.open) dialog.close();
      resolve(ok);
    };
    const yes = () => done(true);
    const no = () => done(false);
    $('confirm-ok').addEventListener('click', yes);
    $('confirm-cancel').addEventListener('click', no);
    dialog.addEventListener('cancel', no);
    dialog.showModal();
    $('confirm-cancel').focus();
  });
}

/**
 * Pauses, resumes, runs or removes a job.
 * @param {'pause' | 'resume' | 'run' | 'remove'} action
 * @param {Job} job
 */
async function act(action, job) {
  const path = `/jobs/${encodeURIComponent(job.id)}`;
  try {
    if (action === 'remove') {
      const ok = await confirmDialog(
        `Remove the job “${job.name}”? Its schedule is deleted and pending runs are cancelled; its run history is kept.`,
      );
      if (!ok) return;
      await api('DELETE', path);
      toast(`Removed “${job.name}”.`);
      if (state.route.view === 'job') location.hash = '#/';
    } else if (action === 'run') {
      await api('POST', `${path}/run`);
      toast(`“${job.name}” started.`);
    } else {
      const result = await api('POST', `${path}/${action}`);
      if (result && result.removed) toast(`“${job.name}” had no fire time left and was removed.`);
      else toast(`${action === 'pause' ? 'Paused' : 'Resumed'} “${job.name}”.`);
    }
  } catch (err) {
    report(err);
  }
  await refresh();
}

/** Reloads what is on screen. */
async function refresh() {
  try {
    if (state.route.view === 'job') await loadJob();
    else await loadJobs({ keep: true });
  } catch (err) {
    report(err);
  }
}

// ------------------------------------------------------------------ live updates

/** @param {'on' | 'off' | 'connecting'} value */
function setLive(value) {
  const el = $('live');
  el.dataset.state = value;
  el.textContent = value === 'on' ? 'live' : value === 'connecting' ? 'connecting…' : 'offline';
}

let refreshTimer = /** @type {ReturnType<typeof setTimeout> | null} */ (null);
let statusDue = false;
/**
 * Coalesces the events of a burst into one refresh.
 * @param {boolean} [status] the header's status changed too
 */
function scheduleRefresh(status = false) {
  statusDue ||= status;
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    if (statusDue) void loadStatus();
    statusDue = false;
    void refresh();
  }, 250);
}

/**
 * Handles one server-sent event.
 * @param {string} name
 * @param {string} data
 */
function onEvent(name, data) {
  /** @type {any} */
  let payload = null;
  try {
    payload = JSON.parse(data);
  } catch {
    return;
  }
  if (name.startsWith('scheduler:')) {
    scheduleRefresh(true);
    return;
  }
  if (!name.startsWith('job:')) return;
  // The job count changes by one: no GET /status for every job event.
  const delta = name === 'job:removed' ? -1 : name === 'job:added' && payload?.outcome === 'added' ? 1 : 0;
  const count = $('jobs-count');
  if (delta !== 0 && /^\d+$/.test(count.textContent ?? ''))
    count.textContent = String(Number(count.textContent) + delta);
  const membership = name === 'job:added' || name === 'job:removed';
  if (state.route.view === 'job') {
    if (payload?.jobId === state.route.id) scheduleRefresh();
  } else if (membership || state.jobs.some((j) => j.id === payload?.jobId)) {
    scheduleRefresh();
  }
}

/**
 * Parses server-sent events from a text stream (the `text/event-stream` format: `event:`, `data:`,
 * `retry:`, comments, blank-line separated).
 * @param {ReadableStreamDefaultReader<string>} reader
 * @param {(retry: number) => void} onRetry
 */
async function readEvents(reader, onRetry) {
  let buffer = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer = (buffer + value).replace(/\r\n?/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const v = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') name = v;
        else if (field === 'data') data.push(v);
        else if (field === 'retry' && /^\d+$/.test(v)) onRetry(Number(v));
      }
      if (data.length) onEvent(name, data.join('\n'));
    }
  }
}

/** Keeps one `GET /events` stream open while signed in, reconnecting with a growing delay. */
function startStream() {
  state.stream?.abort();
  const controller = new AbortController();
  state.stream = controller;
  void (async () => {
    let delay = 1000;
    let retry = 5000;
    let first = true;
    while (!controller.signal.aborted) {
      setLive('connecting');
      try {
        const res = await fetch(`${BASE}/events`, {
          headers: { ...authHeaders(), accept: 'text/event-stream' },
          cache: 'no-store',
          signal: controller.signal,
        });
        if (res.status === 401) {
          signOut('The token was not accepted.');
          return;
        }
        if (!res.ok || !res.body) throw new Error(`GET /events answered ${res.status}`);
        setLive('on');
        delay = 1000;
        if (!first) scheduleRefresh(true); // events were missed while disconnected
        first = false;
        await readEvents(res.body.pipeThrough(new TextDecoderStream()).getReader(), (r) => (retry = r));
      } catch {
        if (controller.signal.aborted) return;
      }
      setLive('off');
      await sleep(Math.max(delay, Math.min(retry, 30_000)));
      delay = Math.min(delay * 2, 30_000);
    }
  })();
}

// ------------------------------------------------------------------ start

async function boot() {
  $('login-form').addEventListener('submit', (e) => void onLogin(/** @type {SubmitEvent} */ (e)));
  $('logout').addEventListener('click', () => signOut(''));
  $('jobs-more').addEventListener('click', () => void loadMoreJobs().catch(report));
  for (const id of ['jobs-filter', 'jobs-sort']) {
    $(id).addEventListener('change', () => void loadJobs().catch(report));
  }
  window.addEventListener('hashchange', () => void route().catch(report));
  setInterval(tickClocks, 1000);
  try {
    // The first page of jobs decides: 401 without a token means "sign in"; 200 without one, `auth: false`.
    const listing = !/^#\/jobs\/./.test(location.hash);
    if (listing) await loadJobs();
    else await api('GET', '/status');
    state.open = !state.token;
    await enter(listing);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return; // the sign-in form is shown
    show('jobs-view');
    report(err);
  }
}

void boot();

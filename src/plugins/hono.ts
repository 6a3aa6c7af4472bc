/**
 * Hono adapter: `tickwork/hono`. A sub-app serving the HTTP API (`tickwork/http`), to mount with
 * `app.route('/scheduler', tickworkApp(scheduler, options))`, and a lifecycle helper for `@hono/node-server`.
 *
 * @example
 * ```ts
 * const app = new Hono();
 * const api = tickworkApp(scheduler, { auth: { tokens: [{ token, role: 'admin' }] } });
 * app.route('/scheduler', api);
 * const server = serve({ fetch: app.fetch, port: 8000 });
 * bindLifecycle(scheduler, server, { api: api.api });
 * ```
 * @module
 */
import { Hono } from 'hono';
import type { Scheduler } from '../core/scheduler.js';
import { createApi, type ApiOptions, type TickworkApi } from '../http/api.js';

export { bindLifecycle, type Lifecycle, type LifecycleOptions } from './lifecycle.js';

/** The sub-app, with the API it serves. */
export type TickworkHono = Hono & { api: TickworkApi };

/**
 * A Hono app serving the API. Mounted with `app.route(path, ...)`, it answers under that path whatever
 * `options.prefix` says (the prefix is read from the matched route); used on its own (`app.fetch`), it
 * answers under `options.prefix` (default `/scheduler`).
 *
 * @throws TickworkError `INVALID_OPTION` / `UNKNOWN_OPTION` for bad options (see `createApi`).
 */
export function tickworkApp(scheduler: Scheduler, options: ApiOptions): TickworkHono {
  const api = createApi(scheduler, options);
  const app = new Hono() as TickworkHono;
  app.api = api;
  app.all('*', (c) => {
    // Mounted with app.route('/x', sub), the matched route is '/x/*': its prefix is '/x'.
    const route = c.req.routePath;
    const mounted = route.endsWith('/*') ? route.slice(0, -2) : null;
    return api.handle(c.req.raw, mounted ? { prefix: mounted } : {});
  });
  return app;
}

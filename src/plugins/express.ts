/**
 * Express adapter: `tickwork/express`. Mounts the HTTP API (`tickwork/http`) as an Express router and ties
 * the scheduler to the server's lifecycle.
 *
 * @example
 * ```ts
 * const app = express();
 * const router = tickworkRouter(scheduler, { auth: { tokens: [{ token, role: 'admin' }] } });
 * app.use(router);                        // answers under /scheduler (so does app.use('/scheduler', router))
 * const server = app.listen(8000);
 * bindLifecycle(scheduler, server, { api: router.api });
 * ```
 * @module
 */
import express, { type Router } from 'express';
import type { Scheduler } from '../core/scheduler.js';
import { createApi, type ApiOptions, type TickworkApi } from '../http/api.js';
import { clientGone, toWebRequest, writeWebResponse } from '../http/node.js';

export { bindLifecycle, type Lifecycle, type LifecycleOptions } from './lifecycle.js';

/** The router, with the API it serves. */
export type TickworkRouter = Router & { api: TickworkApi };

/**
 * An Express router answering the API under `options.prefix` (default `/scheduler`), a path from the
 * server's root wherever the router is mounted: `app.use(router)` and `app.use('/scheduler', router)` both
 * answer at `/scheduler/jobs`; requests outside the prefix go on to the next handler. A body that
 * `express.json()` parsed already is re-serialised; otherwise the request stream is read (size-limited) by
 * the API.
 *
 * @throws TickworkError `INVALID_OPTION` / `UNKNOWN_OPTION` for bad options (see `createApi`).
 */
export function tickworkRouter(scheduler: Scheduler, options: ApiOptions): TickworkRouter {
  const api = createApi(scheduler, options);
  const router = express.Router() as TickworkRouter;
  router.api = api;
  const { prefix } = api;
  router.use((req, res, next) => {
    // Matched on the whole path (`originalUrl`), not the path below the router's mount point (`req.url`),
    // which has lost the mount path: mounted at `/scheduler`, `/scheduler/jobs` arrives as `/jobs`.
    const path = new URL(req.originalUrl, 'http://localhost').pathname;
    if (prefix !== '' && path !== prefix && !path.startsWith(prefix + '/')) {
      next();
      return;
    }
    // A body parser (express.json()) may have read the stream already.
    const parsed =
      (req as { _body?: boolean })._body === true || (req.readableEnded && req.body !== undefined);
    const request = toWebRequest(req, {
      url: req.originalUrl,
      signal: clientGone(res),
      ...(parsed ? { body: JSON.stringify(req.body) } : {}),
    });
    api
      .handle(request)
      .then((response) => writeWebResponse(res, response))
      .catch((err: unknown) => {
        if (res.headersSent) res.destroy(err as Error);
        else next(err);
      });
  });
  return router;
}

/**
 * The HTTP API on Web `Request`/`Response`: `tickwork/http`. Mount it with `tickwork/fastify`,
 * `tickwork/express` or `tickwork/hono`, or call {@link createApi}'s `handle` from any server that speaks
 * the Fetch API.
 * @packageDocumentation
 */
export {
  createApi,
  triggerFromInput,
  type ApiOptions,
  type AssetHandler,
  type CorsOptions,
  type HandleOptions,
  type TickworkApi,
} from './api.js';
export {
  constantTimeEqual,
  TokenAuth,
  MIN_TOKEN_LENGTH,
  type ApiAuthOptions,
  type ApiRole,
  type ApiToken,
} from './auth.js';
export { HTTP_ERROR_CODES, ApiError, type HttpErrorCode } from './errors.js';
export { createMetrics, RUN_OUTCOMES, type MetricsOptions, type SchedulerMetrics } from './metrics.js';
export { buildOpenApi, type OpenApiDocument } from './openapi.js';
export type { Route, RouteContext, Method } from './router.js';
export * as schemas from './schemas.js';

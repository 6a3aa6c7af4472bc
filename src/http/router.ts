/**
 * A small router on Web `Request`/`Response`: a table of routes, each with the metadata the OpenAPI document
 * is generated from. No dependency on any framework.
 * @module
 */
import type { ZodType } from 'zod';
import type { ApiRole } from './auth.js';

/** HTTP methods the API routes. */
export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** One documented response of a route. */
export interface ResponseSpec {
  description: string;
  /** JSON body schema; absent for an empty body. */
  schema?: ZodType;
  /** Content type when not JSON (`text/plain`, `text/event-stream`). */
  contentType?: string;
}

/** What a route handler receives. */
export interface RouteContext<Q = Record<string, unknown>> {
  request: Request;
  url: URL;
  /** Path parameters (`:id`), decoded. */
  params: Record<string, string>;
  /** The query string, validated with the route's `query` schema. */
  query: Q;
  /** The JSON body (size-limited, content type checked); `undefined` when empty. */
  body(): Promise<unknown>;
  /** The path prefix the API is mounted under (`/scheduler`). */
  prefix: string;
}

/** A route: method, path (`/jobs/:id`), the role it needs, its documentation and its handler. */
export interface Route {
  method: Method;
  /** Path below the prefix, with `:name` parameters. */
  path: string;
  operationId: string;
  summary: string;
  tag: string;
  role: ApiRole;
  /** Query-string schema (a strict object of strings in). */
  query?: ZodType;
  /** Request body schema (for the documentation; handlers validate the body themselves). */
  body?: ZodType;
  responses: Record<number, ResponseSpec>;
  handler(context: RouteContext<never>): Promise<Response>;
}

/** The result of {@link matchRoute}. */
export type RouteMatch =
  | {
      route: Route;
      params: Record<string, string>;
      /** Path parameters that are not valid percent-encoded UTF-8 (`%FF`), kept undecoded in `params`. */
      malformed: string[];
    }
  | { route: null; allowed: Method[] };

/** Finds the route for `method` and `path`; with none, the methods the path allows (empty: no such path). */
export function matchRoute(routes: readonly Route[], method: string, path: string): RouteMatch {
  const parts = path.split('/');
  const allowed: Method[] = [];
  for (const route of routes) {
    const malformed: string[] = [];
    const params = matchPath(route.path, parts, malformed);
    if (!params) continue;
    if (route.method === method) return { route, params, malformed };
    allowed.push(route.method);
  }
  return { route: null, allowed };
}

function matchPath(pattern: string, parts: string[], malformed: string[]): Record<string, string> | null {
  const want = pattern.split('/');
  if (want.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const p = parts[i]!;
    if (w.startsWith(':')) {
      if (p === '') return null;
      try {
        params[w.slice(1)] = decodeURIComponent(p);
      } catch {
        params[w.slice(1)] = p;
        malformed.push(w.slice(1));
      }
    } else if (w !== p) return null;
  }
  return params;
}

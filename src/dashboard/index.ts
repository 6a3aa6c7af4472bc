/**
 * The dashboard: a static page (one HTML file, one ES module, one stylesheet, an icon) that the HTTP API
 * serves under its prefix (`GET /scheduler/`). The page holds no data: it calls the API from the browser
 * with the bearer token the user types in (kept in `sessionStorage`).
 *
 * The files live in `src/dashboard/assets/` and are copied next to this module by `npm run build`
 * (`scripts/copy-assets.mjs`); they are read once, on the first request for each, never at import time.
 * @module
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { AssetHandler } from '../http/api.js';

/**
 * The Content-Security-Policy of every dashboard file: scripts, styles, images and requests from the
 * page's own origin only; no inline script or style, no plugins, no framing, no form posts.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The dashboard's files by path below the prefix, with their content types. */
const FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard.css': { file: 'dashboard.css', type: 'text/css; charset=utf-8' },
  '/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};

/** Paths below the prefix that the dashboard answers. */
export const DASHBOARD_PATHS: readonly string[] = Object.keys(FILES);

/** Options of {@link dashboardAssets}. */
export interface DashboardOptions {
  /**
   * Directory holding `index.html`, `dashboard.js`, `dashboard.css` and `favicon.svg`.
   * @defaultValue the `assets/` directory next to this module
   */
  directory?: string | URL;
}

/** Headers of every dashboard response. */
function securityHeaders(): Record<string, string> {
  return {
    'content-security-policy': DASHBOARD_CSP,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
  };
}

/**
 * The dashboard as an {@link AssetHandler} for `createApi`'s `assets` option (`createApi` serves it by
 * default; see its `dashboard` option). `GET <prefix>` without the trailing slash is redirected to
 * `<prefix>/` so that the page's relative URLs resolve under the prefix. Responses carry an `ETag` and
 * `cache-control: no-cache` (revalidated, answered 304 when unchanged), the content type of the file and
 * {@link DASHBOARD_CSP}.
 */
export function dashboardAssets(options: DashboardOptions = {}): AssetHandler {
  const directory = options.directory ?? new URL('./assets/', import.meta.url);
  const base = typeof directory === 'string' ? directory.replace(/\/*$/, '/') : directory;
  const cache = new Map<string, Promise<{ body: Uint8Array; etag: string }>>();
  const load = (file: string): Promise<{ body: Uint8Array; etag: string }> => {
    let entry = cache.get(file);
    if (!entry) {
      const location = typeof base === 'string' ? base + file : new URL(file, base);
      entry = readFile(location).then((bytes) => ({
        body: new Uint8Array(bytes),
        etag: `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`,
      }));
      entry.catch(() => cache.delete(file)); // a missing file is retried on the next request
      cache.set(file, entry);
    }
    return entry;
  };
  return async (path, request) => {
    const spec = FILES[path];
    if (!spec) return null;
    const url = new URL(request.url);
    if (path === '/' && !url.pathname.endsWith('/')) {
      return new Response(null, {
        status: 308,
        headers: { location: `${url.pathname}/${url.search}`, ...securityHeaders() },
      });
    }
    const { body, etag } = await load(spec.file);
    const headers = {
      ...securityHeaders(),
      'content-type': spec.type,
      'cache-control': 'no-cache',
      etag,
    };
    const match = request.headers.get('if-none-match');
    if (match && match.split(',').some((t) => t.trim() === etag)) {
      return new Response(null, { status: 304, headers });
    }
    return new Response(body, { status: 200, headers });
  };
}

/**
 * Opening a store from a URL, for servers and the CLI: `memory:`, `sqlite:PATH`, `postgres://...`, `redis://...`, each with
 * the store's options as query parameters. The driver modules are loaded only when asked for (they are
 * optional peer dependencies).
 * @module
 */
import { TickworkError } from '../core/errors.js';
import { closest } from '../core/validate.js';
import { MemoryStore } from './memory/index.js';
import type { Store } from './store.js';

/**
 * A query parameter's value as an option value: `true`/`false` as booleans, `null` as null, a decimal number
 * as a number, anything else as the string (the store's own checks then name the option).
 */
export function optionValue(text: string): unknown {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text === 'null') return null;
  if (/^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(text)) return Number(text);
  return text;
}

/**
 * The store options (`keys`) in a connection string's query, as values (see {@link optionValue}; the `verbatim`
 * ones as the text given, such as a schema or key prefix that may be named "2024"), and the connection string
 * without them. A string without a scheme (`host=... dbname=...`) is kept whole. The driver's own parameters
 * stay in the string.
 * `driver`: the parameters the driver takes (with its name, for messages); any other parameter is refused.
 * @throws TickworkError `UNKNOWN_OPTION` for a parameter within two letters of a store option (a misspelling
 *   the driver would ignore), and with `driver`, for a parameter that is neither a store option nor one of
 *   the driver's; `INVALID_OPTION` for a store option given twice.
 */
/**
 * A connection string split around its query, by hand: the drivers take URLs that WHATWG URL refuses, such
 * as an empty host (`postgres://user@/db?host=/var/run/postgresql`). A fragment ends the query (a `?` within
 * it starts none). `join` puts the string back together with the (changed) parameters.
 */
export function splitQuery(text: string): {
  base: string;
  params: URLSearchParams;
  fragment: string;
  join(): string;
} {
  const hash = text.indexOf('#');
  const end = hash < 0 ? text.length : hash;
  const q = text.slice(0, end).indexOf('?');
  const base = text.slice(0, q < 0 ? end : q);
  const params = new URLSearchParams(q < 0 ? '' : text.slice(q + 1, end));
  const fragment = text.slice(end);
  return {
    base,
    params,
    fragment,
    join() {
      const rest = params.toString();
      return base + (rest ? `?${rest}` : '') + fragment;
    },
  };
}

export function storeOptionsOf(
  connectionString: string,
  keys: readonly string[],
  verbatim: readonly string[] = [],
  driver?: { name: string; keys: readonly string[] },
): { url: string; options: Record<string, unknown> } {
  // (Split by hand: a URL that WHATWG URL refuses but the driver takes must not pass its options unseen.)
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(connectionString)) return { url: connectionString, options: {} };
  const split = splitQuery(connectionString);
  const params = split.params;
  const options: Record<string, unknown> = {};
  for (const key of params.keys()) {
    const near = keys.includes(key) ? null : closest(key, keys);
    if (near !== null) {
      throw new TickworkError(
        'UNKNOWN_OPTION',
        `Unknown option \`${key}\` in the connection string; did you mean \`${near}\`?`,
        { field: key },
      );
    }
    if (driver && !keys.includes(key) && !driver.keys.includes(key)) {
      const hint = closest(key, driver.keys);
      throw new TickworkError(
        'UNKNOWN_OPTION',
        `Unknown option \`${key}\` in the connection string: neither a store option (${keys
          .map((k) => `\`${k}\``)
          .join(', ')}) nor a connection parameter of ${driver.name}` +
          (hint === null ? '' : `; did you mean \`${hint}\`?`),
        { field: key },
      );
    }
  }
  for (const key of keys) {
    const values = params.getAll(key);
    if (values.length === 0) continue;
    if (values.length > 1) {
      throw new TickworkError('INVALID_OPTION', `Expected \`${key}\` once in the connection string`, {
        field: key,
      });
    }
    options[key] = verbatim.includes(key) ? values[0]! : optionValue(values[0]!);
    params.delete(key);
  }
  return Object.keys(options).length === 0
    ? { url: connectionString, options }
    : { url: split.join(), options };
}

/**
 * The options in `params` (each given once), by name.
 * @throws TickworkError `INVALID_OPTION` (field `store.NAME`) for a parameter given twice.
 */
function optionsOf(params: URLSearchParams, url: string): Record<string, unknown> {
  // No prototype: a parameter named `__proto__` is a key like any other (and refused as unknown).
  const options: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [key, value] of params) {
    if (Object.hasOwn(options, key)) {
      throw new TickworkError('INVALID_OPTION', `Expected \`${key}\` to be given once in the store URL`, {
        field: `store.${key}`,
        value: url,
      });
    }
    options[key] = optionValue(value);
  }
  return options;
}

/**
 * `text` with the credentials of the URLs in it hidden: `//user:secret@` and `password=secret` become `***`.
 * The user part runs to the last `@` of the URL (a password may hold an `@` or a `/`; with a space in it, to
 * the `@` after `user:`), as URL parsers read it; a `password` parameter runs to the next `&`, space, or a
 * `: ` that ends the URL in a message. Where it cannot tell, it hides more rather than less.
 */
export function redactUrl(text: string): string {
  return (
    text
      // A password parameter first: its value may hold an `@`.
      .replace(/([?&]password=)[^&\s]*?(?=:\s|:$|&|\s|$)/gi, '$1***')
      // The user part: to the last `@` before a space (a password may hold `@` or `/`) ...
      .replace(/\/\/\S*@/g, '//***@')
      // ... or, with a space in the password (in an environment variable), `user:pass word@`.
      .replace(/\/\/[^\s/@]+:[^@/]*@/g, '//***@')
  );
}

/**
 * Imports a store module, whose driver is an optional peer dependency.
 * @throws Error naming the package to install when the driver is not installed.
 */
export async function importDriver<T>(load: () => Promise<T>, pkg: string, install: string): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === 'ERR_MODULE_NOT_FOUND' && e.message?.includes(`'${pkg}'`)) {
      throw new Error(`this needs the ${pkg} package, which is not installed: ${install}`, { cause: err });
    }
    throw err;
  }
}

/** `TickworkError`s of a store's constructor, with the field named as a parameter of the store URL. */
function asUrlOption(err: unknown): unknown {
  if (!(err instanceof TickworkError) || typeof err.details.field !== 'string') return err;
  return new TickworkError(
    err.code,
    `${err.message} (a query parameter of the store URL)`,
    { ...err.details, field: `store.${err.details.field}` },
    { cause: err },
  );
}

/**
 * The file and the query of a SQLite store URL: `sqlite:PATH` (or `sqlite://PATH`), whose path is
 * percent-decoded up to the first `?` (`%20` is a space, `%3F` a `?`, `%23` a `#`; a `%` not followed by two
 * hex digits stays a `%`, as in WHATWG URLs), or a bare path ending in `.db`, `.sqlite` or `.sqlite3` (with
 * or without a query), which is taken as written. `null` for anything else.
 * @throws TickworkError `INVALID_OPTION` (field `store`) for a `sqlite:` URL with a fragment (`#...`, which a
 *   URL's path and query end before: a PostgreSQL or Redis driver ignores it, but a file name would silently
 *   lose it) or whose escapes are not UTF-8 (`%FF`), and for an empty path.
 */
export function sqliteUrlParts(url: string): { path: string; params: URLSearchParams } | null {
  const value = url.trim();
  const scheme = /^sqlite:(?:\/\/)?/i.exec(value);
  if (scheme === null) {
    const bare = /^(.*\.(?:db|sqlite3?))(?:\?(.*))?$/is.exec(value);
    return bare ? { path: bare[1]!, params: new URLSearchParams(bare[2] ?? '') } : null;
  }
  const refuse = (why: string): never => {
    throw new TickworkError('INVALID_OPTION', `Expected \`store\` ${why}, got ${JSON.stringify(url)}`, {
      field: 'store',
      value: url,
    });
  };
  // The query and fragment rule of the other store URLs (see splitQuery).
  const { base, params, fragment } = splitQuery(value.slice(scheme[0].length));
  if (fragment !== '') {
    refuse('to have no fragment (a `#` ends a URL’s path: write `%23` for a `#` in the file name)');
  }
  const path = percentDecode(base);
  if (path === null) refuse('to have a path whose %-escapes are UTF-8');
  if (path === '') refuse('to name a file: `sqlite:PATH`');
  return { path: path!, params };
}

/**
 * `text` with its `%XX` escapes decoded as UTF-8 (a `%` not followed by two hex digits is kept, as WHATWG's
 * percent-decode does), or `null` when the decoded bytes are not UTF-8.
 */
function percentDecode(text: string): string | null {
  if (!text.includes('%')) return text;
  const bytes: number[] = [];
  const encoder = new TextEncoder();
  for (let i = 0; i < text.length;) {
    if (text[i] === '%' && /^[0-9a-f]{2}$/i.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 3;
    } else {
      const cp = text.codePointAt(i)!;
      const char = String.fromCodePoint(cp);
      bytes.push(...encoder.encode(char));
      i += char.length;
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(bytes));
  } catch {
    return null;
  }
}

/**
 * A `sqlite:` store URL for the file `path` (escaping `%`, `?` and `#`, which {@link sqliteUrlParts} would
 * read as an escape, the query and a fragment) with the query `params`.
 */
export function sqliteUrl(path: string, params: URLSearchParams): string {
  const escaped = path.replace(/[%?#]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const query = params.toString();
  return `sqlite:${escaped}${query === '' ? '' : `?${query}`}`;
}

/**
 * Opens the store a URL names; the store's options go in its query string
 * (`postgres://db/app?schema=jobs&listen=false&poolSize=8`, `sqlite:data/jobs.db?maxRunsPerJob=20`):
 * `true`/`false` are booleans, `null` is null, decimal numbers are numbers (durations in milliseconds).
 * - `memory:`: a new {@link MemoryStore} (options: `maxRunsPerJob`, `maxRunAge`);
 * - `sqlite:PATH` (or `sqlite://PATH`, or a path ending in `.db`/`.sqlite`): a `SqliteStore` on that file
 *   (`better-sqlite3` must be installed); the path ends at the first `?` and is percent-decoded, and a
 *   fragment is refused (see {@link sqliteUrlParts});
 * - `postgres://…` or `postgresql://…`: a `PostgresStore` (`pg` must be installed); `schema` selects the
 *   schema (default `tickwork`); the driver's connection parameters (`sslmode`, `application_name`, ...) stay
 *   in the connection string.
 * - `redis://…` or `rediss://…` (TLS): a `RedisStore` (`ioredis` must be installed); `prefix` selects the key
 *   prefix (default `tickwork:`); ioredis's own parameters (`family`, ...) stay in the URL.
 *
 * @throws TickworkError `INVALID_OPTION` (field `store`, or `store.NAME` for a query parameter) for anything
 *   else, or for an option value the store refuses; `UNKNOWN_OPTION` (field `store.NAME`) for a query
 *   parameter that is not a store option (`memory:`, `sqlite:`), or (PostgreSQL and Redis, whose other
 *   parameters go to the driver) is within two letters of one.
 */
export async function openStore(url: string): Promise<Store> {
  const value = url.trim();
  const memory = /^memory:?(?:\?(.*))?$/i.exec(value);
  if (memory) {
    const options = optionsOf(new URLSearchParams(memory[1] ?? ''), url);
    try {
      return new MemoryStore(options);
    } catch (err) {
      throw asUrlOption(err);
    }
  }
  if (/^postgres(ql)?:\/\//i.test(value)) {
    try {
      // (An empty host, `postgres://user@/db?host=/var/run/postgresql`, is the driver's form for a socket.)
      new URL(value.replace(/@\//, '@localhost/'));
    } catch {
      throw new TickworkError(
        'INVALID_OPTION',
        `Expected \`store\` to be a valid URL, got ${JSON.stringify(redactUrl(url))}`,
        { field: 'store', value: redactUrl(url) },
      );
    }
    // The store takes its options out of the connection string itself (see PostgresStore), leaving the
    // driver its connection parameters.
    const { PostgresStore } = await importDriver(() => import('./postgres/index.js'), 'pg', 'npm install pg');
    try {
      return new PostgresStore({ connectionString: value });
    } catch (err) {
      throw asUrlOption(err);
    }
  }
  if (/^rediss?:\/\//i.test(value)) {
    try {
      new URL(value);
    } catch {
      throw new TickworkError(
        'INVALID_OPTION',
        `Expected \`store\` to be a valid URL, got ${JSON.stringify(redactUrl(url))}`,
        { field: 'store', value: redactUrl(url) },
      );
    }
    // As PostgreSQL's: the store takes its options out of the URL, leaving the client its own parameters.
    const { RedisStore } = await importDriver(
      () => import('./redis/index.js'),
      'ioredis',
      'npm install ioredis@6',
    );
    try {
      return new RedisStore({ url: value });
    } catch (err) {
      throw asUrlOption(err);
    }
  }
  const sqlite = sqliteUrlParts(value);
  if (sqlite) {
    const { path, params } = sqlite;
    // The file is the URL's path: a `path` in the query too would be the one silently left unused.
    const given = params.get('path');
    if (given !== null) {
      throw asUrlOption(
        new TickworkError(
          'INVALID_OPTION',
          `Expected \`path\` once: the URL names the file ${JSON.stringify(path)}, its query ${JSON.stringify(given)}`,
          { field: 'path' },
        ),
      );
    }
    const options = optionsOf(params, url);
    const { SqliteStore } = await importDriver(
      () => import('./sqlite/index.js'),
      'better-sqlite3',
      'npm install better-sqlite3@12',
    );
    try {
      return new SqliteStore({ ...options, path });
    } catch (err) {
      throw asUrlOption(err);
    }
  }
  throw new TickworkError(
    'INVALID_OPTION',
    `Expected \`store\` to be "memory:", "sqlite:PATH", a "postgres://" or a "redis://" URL, got ${JSON.stringify(url)}`,
    { field: 'store', value: url },
  );
}

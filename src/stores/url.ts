/**
 * Opening a store from a URL, for servers and the CLI: `memory:`, `sqlite:PATH`, `postgres://...`.
 * The driver modules are loaded only when asked for (they are optional peer dependencies).
 * @module
 */
import { TickworkError } from '../core/errors.js';
import { MemoryStore } from './memory/index.js';
import type { Store } from './store.js';

/**
 * Opens the store a URL names:
 * - `memory:`: a new {@link MemoryStore};
 * - `sqlite:PATH` (or `sqlite://PATH`, or a path ending in `.db`/`.sqlite`): a `SqliteStore` on that file
 *   (`better-sqlite3` must be installed);
 * - `postgres://…` or `postgresql://…`: a `PostgresStore` (`pg` must be installed); a `schema` query
 *   parameter selects the schema (default `tickwork`).
 *
 * @throws TickworkError `INVALID_OPTION` (field `store`) for anything else.
 */
export async function openStore(url: string): Promise<Store> {
  const value = url.trim();
  if (value === 'memory:' || value === 'memory') return new MemoryStore();
  if (/^postgres(ql)?:\/\//i.test(value)) {
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new TickworkError(
        'INVALID_OPTION',
        `Expected \`store\` to be a valid URL, got ${JSON.stringify(url)}`,
        {
          field: 'store',
          value: url,
        },
      );
    }
    const schema = parsed.searchParams.get('schema') ?? undefined;
    parsed.searchParams.delete('schema');
    const { PostgresStore } = await import('./postgres/index.js');
    return new PostgresStore({ connectionString: parsed.toString(), ...(schema ? { schema } : {}) });
  }
  const sqlite = /^sqlite:(?:\/\/)?(.+)$/i.exec(value);
  if (sqlite || /\.(db|sqlite3?)$/i.test(value)) {
    const path = sqlite ? sqlite[1]! : value;
    const { SqliteStore } = await import('./sqlite/index.js');
    return new SqliteStore({ path });
  }
  throw new TickworkError(
    'INVALID_OPTION',
    `Expected \`store\` to be "memory:", "sqlite:PATH" or a "postgres://" URL, got ${JSON.stringify(url)}`,
    { field: 'store', value: url },
  );
}

// RedisStore's defaults are written three times: in the code, in the TSDoc of RedisStoreOptions
// (`@defaultValue`) and in the options table of docs/stores.md. This reads the two texts and checks them
// against a store built without options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { RedisStore } from '../../src/stores/redis/index.js';

const root = new URL('../../', import.meta.url);

/** The `RedisStore` rows of the options table in docs/stores.md: option → default as written. */
function documented(): Map<string, string> {
  const lines = readFileSync(new URL('docs/stores.md', root), 'utf8').split('\n');
  const out = new Map<string, string>();
  let inRedis = false;
  for (const line of lines) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 5) {
      inRedis = false;
      continue;
    }
    if (cells[1] !== '') inRedis = cells[1] === '`RedisStore`';
    if (inRedis) out.set(cells[2]!.replace(/`/g, ''), cells[3]!.replace(/`/g, ''));
  }
  return out;
}

/** `@defaultValue` of each member of RedisStoreOptions in the source. */
function tsdoc(): Map<string, string> {
  const text = readFileSync(new URL('src/stores/redis/index.ts', root), 'utf8');
  const body = text.slice(text.indexOf('export interface RedisStoreOptions'));
  const block = body.slice(0, body.indexOf('\n}\n'));
  const out = new Map<string, string>();
  for (const m of block.matchAll(/@defaultValue ([^\n]+)\n\s*\*\/\n\s*(\w+)\?:/g))
    out.set(m[2]!, m[1]!.trim().replace(/^'|'$/g, ''));
  return out;
}

test('RedisStore: the defaults of the docs table and of the TSDoc are those of the code', () => {
  const store = new RedisStore({ url: 'redis://127.0.0.1:6379' }) as unknown as Record<string, unknown>;
  const docs = documented();
  const docComments = tsdoc();
  const options = [
    'prefix',
    'claimTimeout',
    'maxRunsPerJob',
    'maxRunAge',
    'pruneEvery',
    'maxWakeInterval',
    'listen',
  ];
  assert.deepEqual([...docComments.keys()].sort(), [...options].sort(), 'every option has a @defaultValue');
  for (const name of options) {
    const actual = store[name];
    const shown = actual === null ? 'null' : String(actual);
    assert.equal(docComments.get(name), shown, `TSDoc of ${name}`);
    assert.equal(docs.get(name)?.replace(' (off)', ''), shown, `docs/stores.md row of ${name}`);
  }
});

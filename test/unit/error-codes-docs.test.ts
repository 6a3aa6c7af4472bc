// docs/errors.md lists exactly the codes of the ERROR_CODES registry, with the same HTTP statuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, TickworkError, type ErrorCode } from '../../src/index.js';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

/** Rows of the table: code and status from the first two cells. */
function documented(): Map<string, number> {
  const rows = new Map<string, number>();
  for (const line of doc.split('\n')) {
    const m = /^\|\s*`([A-Z_]+)`\s*\|\s*(\d{3})\s*\|/.exec(line);
    if (!m) continue;
    assert.ok(!rows.has(m[1]!), `${m[1]} is listed once`);
    rows.set(m[1]!, Number(m[2]));
  }
  return rows;
}

test('docs/errors.md lists exactly the codes in ERROR_CODES, with their HTTP status', () => {
  const rows = documented();
  assert.deepEqual([...rows.keys()].sort(), Object.keys(ERROR_CODES).sort());
  for (const [code, { status }] of Object.entries(ERROR_CODES)) {
    assert.equal(rows.get(code), status, `status of ${code}`);
  }
});

test('a TickworkError takes its status from the registry and serialises its code', () => {
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    const err = new TickworkError(code, 'x', { field: 'f' });
    assert.equal(err.status, documented().get(code));
    assert.deepEqual(JSON.parse(JSON.stringify(err)), { code, message: 'x', details: { field: 'f' } });
  }
});

// test/vectors holds verbatim copies of the independent reference vectors in ../shared/vectors (beside
// the repository). When that folder is present, the copies must be identical to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const copies = fileURLToPath(new URL('../vectors/', import.meta.url));
const originals = fileURLToPath(new URL('../../../shared/vectors/', import.meta.url));

test('the vector copies in test/vectors are identical to ../shared/vectors', (t) => {
  const files = readdirSync(copies).filter((f) => f !== 'SOURCE.md');
  assert.ok(files.includes('cron-public.json') && files.includes('behaviour.json'));
  if (!existsSync(originals)) {
    t.diagnostic('../shared/vectors is not beside this clone; nothing to compare with');
    return;
  }
  const names = readdirSync(originals).sort();
  assert.deepEqual(files.sort(), names, 'run: bash scripts/sync-vectors.sh');
  for (const name of names) {
    assert.ok(
      readFileSync(copies + name).equals(readFileSync(originals + name)),
      `${name} differs from ../shared/vectors; run: bash scripts/sync-vectors.sh`,
    );
  }
});

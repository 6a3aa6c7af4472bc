// Run ids of the PostgreSQL store: UUID version 7 (RFC 9562), checked against the layout the RFC gives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uuidv7 } from '../../src/stores/common.js';

test('uuidv7: 48-bit Unix milliseconds, version 7, RFC variant, random rest; later ids sort later', () => {
  // RFC 9562 appendix A.6 uses 2022-02-22 19:22:22 UTC = 0x017F22E279B0 ms.
  const ms = 0x017f22e279b0;
  assert.equal(ms, Date.UTC(2022, 1, 22, 19, 22, 22));
  const id = uuidv7(ms);
  assert.match(id, /^017f22e2-79b0-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const many = new Set(Array.from({ length: 5000 }, () => uuidv7(ms)));
  assert.equal(many.size, 5000, 'random bits differ');
  const earlier = uuidv7(ms);
  const later = uuidv7(ms + 1);
  assert.ok(later.slice(0, 13) > earlier.slice(0, 13));
  assert.match(uuidv7(Date.UTC(9999, 11, 31)), /^[0-9a-f]{8}-[0-9a-f]{4}-7/);
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { uuidV7 } from '../../src/saga/store/uuid-v7.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('uuidV7', () => {
  it('is a lowercase canonical UUID', () => {
    for (let i = 0; i < 100; i++) assert.match(uuidV7(), UUID);
  });

  it('has version 7 and the RFC 9562 variant (10xx)', () => {
    for (let i = 0; i < 1000; i++) {
      const id = uuidV7();
      assert.equal(id[14], '7', id);
      assert.ok(['8', '9', 'a', 'b'].includes(id[19]), id);
    }
  });

  it('holds the timestamp in milliseconds in its first 48 bits', () => {
    const now = Date.UTC(2025, 0, 2, 3, 4, 5, 678);
    const id = uuidV7(now);
    assert.equal(parseInt(id.slice(0, 8) + id.slice(9, 13), 16), now);
    assert.equal(
      id.slice(0, 13),
      `${now.toString(16).padStart(12, '0').slice(0, 8)}-${now.toString(16).padStart(12, '0').slice(8)}`,
    );
  });

  it('defaults to the current time', () => {
    const before = Date.now();
    const id = uuidV7();
    const after = Date.now();
    const time = parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
    assert.ok(time >= before && time <= after);
  });

  it('handles the smallest and largest 48-bit timestamps', () => {
    assert.ok(uuidV7(0).startsWith('00000000-0000-7'));
    assert.ok(uuidV7(2 ** 48 - 1).startsWith('ffffffff-ffff-7'));
  });

  it('ids made at the same time differ', () => {
    const now = Date.now();
    const ids = new Set(Array.from({ length: 10_000 }, () => uuidV7(now)));
    assert.equal(ids.size, 10_000);
  });

  it('ids made at increasing times sort increasingly as strings', () => {
    const start = Date.UTC(2024, 5, 1);
    const ids = Array.from({ length: 2000 }, (_, i) => uuidV7(start + i * 7));
    const sorted = [...ids].sort();
    assert.deepEqual(sorted, ids);
  });

  it('property: a later millisecond always sorts after, whatever the random bits', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 48 - 2 }),
        fc.integer({ min: 1, max: 10 ** 9 }),
        (t, gap) => {
          const later = Math.min(t + gap, 2 ** 48 - 1);
          const a = uuidV7(t);
          const b = uuidV7(later);
          assert.ok(a < b, `${a} < ${b}`);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

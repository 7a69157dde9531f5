import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evenRateLimiter } from '../../src/saga/execution/even-rate-limiter.js';

/** The most starts that BullMQ's fixed windows let into any span of `span` ms. */
function worstCase({ max, duration }: { max: number; duration: number }, span: number): number {
  return max === 1 ? Math.ceil(span / duration) : max * (Math.ceil(span / duration) + 1);
}

describe('evenRateLimiter', () => {
  it('spaces 50 per second one start every 22 ms: a tenth of headroom for the delay before a start is recorded', () => {
    assert.deepEqual(evenRateLimiter({ max: 50, durationMs: 1000 }), { max: 1, duration: 22 });
  });

  it('one per window: the window and its headroom', () => {
    assert.deepEqual(evenRateLimiter({ max: 1, durationMs: 60_000 }), { max: 1, duration: 66_000 });
  });

  for (const [max, durationMs] of [
    [50, 1000],
    [3, 1000],
    [7, 10],
    [1000, 1000],
    [5000, 1000],
    [100, 3_600_000],
    [2, 1],
    [100, 1],
  ]) {
    it(`${max} per ${durationMs} ms: never more in any window, and close to that rate`, () => {
      const limiter = evenRateLimiter({ max, durationMs });
      assert.ok(Number.isInteger(limiter.max) && limiter.max >= 1);
      assert.ok(Number.isInteger(limiter.duration) && limiter.duration >= 1);
      assert.ok(worstCase(limiter, durationMs) <= max, `${JSON.stringify(limiter)} lets more than ${max} in`);
      const rate = limiter.max / limiter.duration;
      // The headroom and the integer milliseconds of BullMQ's windows cost little, except at more than one start per ms.
      assert.ok(rate >= (max / durationMs) * (max <= durationMs ? 0.45 : 0.3), `rate ${rate}`);
    });
  }
});

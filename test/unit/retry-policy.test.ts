import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DEFAULT_RETRY_POLICY,
  backoffDelay,
  resolveRetryPolicy,
  type RetryPolicy,
} from '../../src/saga/definition/retry-policy.js';

type Backoff = RetryPolicy['backoff'];

const backoff = (patch: Partial<Backoff> = {}): Backoff => ({
  type: 'exponential',
  delay: 200,
  maxDelay: 60_000,
  jitter: 0,
  ...patch,
});

describe('backoffDelay', () => {
  it('fixed: the same delay after every failed attempt', () => {
    const b = backoff({ type: 'fixed', delay: 250 });
    assert.deepEqual(
      [1, 2, 3, 10, 50].map((n) => backoffDelay(b, n)),
      [250, 250, 250, 250, 250],
    );
  });

  it('exponential: the base delay after the first failure, doubling after each one', () => {
    const b = backoff({ delay: 100 });
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(b, n)),
      [100, 200, 400, 800, 1600, 3200],
    );
  });

  it('maxDelay caps a single delay, for both types', () => {
    const exponential = backoff({ delay: 1000, maxDelay: 5000 });
    assert.deepEqual(
      [1, 2, 3, 4, 5, 20].map((n) => backoffDelay(exponential, n)),
      [1000, 2000, 4000, 5000, 5000, 5000],
    );
    assert.equal(backoffDelay(backoff({ type: 'fixed', delay: 9000, maxDelay: 3000 }), 1), 3000);
  });

  it('stays finite and capped for the largest attempt counts', () => {
    const b = backoff({ delay: 200, maxDelay: 60_000 });
    for (const n of [100, 1000, 1100, 5000]) assert.equal(backoffDelay(b, n), 60_000);
  });

  it('a zero delay is zero', () => {
    assert.equal(backoffDelay(backoff({ delay: 0 }), 5), 0);
    assert.equal(
      backoffDelay(backoff({ type: 'fixed', delay: 0, jitter: 1 }), 1, () => 0.5),
      0,
    );
  });

  it('jitter 0 ignores the random source', () => {
    assert.equal(
      backoffDelay(backoff({ delay: 100 }), 2, () => 0.99),
      200,
    );
  });

  it('jitter takes up to that fraction off the delay: full delay at random 0, (1 - jitter) at random 1', () => {
    const b = backoff({ type: 'fixed', delay: 1000, jitter: 0.3 });
    assert.equal(
      backoffDelay(b, 1, () => 0),
      1000,
    );
    assert.equal(
      backoffDelay(b, 1, () => 1),
      700,
    );
    assert.equal(
      backoffDelay(b, 1, () => 0.5),
      850,
    );
    const full = backoff({ type: 'fixed', delay: 1000, jitter: 1 });
    assert.equal(
      backoffDelay(full, 1, () => 0),
      1000,
    );
    assert.equal(
      backoffDelay(full, 1, () => 1),
      0,
    );
  });

  it('jitter applies to the capped delay', () => {
    const b = backoff({ delay: 1000, maxDelay: 2000, jitter: 0.5 });
    assert.equal(
      backoffDelay(b, 10, () => 1),
      1000,
    );
  });

  it('uses Math.random when no source is injected, within the jitter bounds', () => {
    const b = backoff({ type: 'fixed', delay: 1000, jitter: 0.5 });
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(b, 1);
      assert.ok(d >= 500 && d <= 1000, `${d}`);
    }
  });

  it('property: always an integer within [(1 - jitter) * capped, capped]', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<'fixed' | 'exponential'>('fixed', 'exponential'),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 600_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 1000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (type, delay, maxDelay, jitter, attempt, r) => {
          const b = backoff({ type, delay, maxDelay, jitter });
          const d = backoffDelay(b, attempt, () => r);
          const capped = Math.min(type === 'fixed' ? delay : delay * 2 ** (attempt - 1), maxDelay);
          assert.ok(Number.isInteger(d), `${d} is an integer`);
          assert.ok(d <= capped, `${d} <= ${capped}`);
          assert.ok(d >= Math.floor(capped * (1 - jitter)), `${d} >= ${capped * (1 - jitter)}`);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('property: exponential delays never decrease with the attempt (without jitter)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 600_000 }),
        (delay, maxDelay) => {
          const b = backoff({ delay, maxDelay });
          let previous = -1;
          for (let n = 1; n <= 40; n++) {
            const d = backoffDelay(b, n);
            assert.ok(d >= previous);
            previous = d;
          }
        },
      ),
    );
  });
});

describe('resolveRetryPolicy', () => {
  const base: RetryPolicy = {
    attempts: 7,
    backoff: { type: 'fixed', delay: 50, maxDelay: 900, jitter: 0.25 },
  };

  it('the documented defaults', () => {
    assert.deepEqual(DEFAULT_RETRY_POLICY, {
      attempts: 3,
      backoff: { type: 'exponential', delay: 200, maxDelay: 60_000, jitter: 0 },
    });
  });

  it('no options: the base policy', () => {
    assert.deepEqual(resolveRetryPolicy(undefined, base), base);
    assert.deepEqual(resolveRetryPolicy({}, base), base);
    assert.deepEqual(resolveRetryPolicy({ backoff: {} }, base), base);
  });

  it('attempts alone keeps the base backoff', () => {
    assert.deepEqual(resolveRetryPolicy({ attempts: 1 }, base), { ...base, attempts: 1 });
  });

  it('backoff fields are merged one by one over the base', () => {
    assert.deepEqual(resolveRetryPolicy({ backoff: { type: 'exponential' } }, base), {
      attempts: 7,
      backoff: { type: 'exponential', delay: 50, maxDelay: 900, jitter: 0.25 },
    });
    assert.deepEqual(resolveRetryPolicy({ attempts: 2, backoff: { delay: 10, jitter: 0 } }, base), {
      attempts: 2,
      backoff: { type: 'fixed', delay: 10, maxDelay: 900, jitter: 0 },
    });
  });

  it('explicitly undefined fields do not erase the base', () => {
    assert.deepEqual(
      resolveRetryPolicy(
        {
          attempts: undefined,
          backoff: { type: undefined, delay: undefined, maxDelay: 5, jitter: undefined },
        },
        base,
      ),
      { attempts: 7, backoff: { ...base.backoff, maxDelay: 5 } },
    );
  });

  it('does not mutate the base policy', () => {
    const copy = structuredClone(base);
    const resolved = resolveRetryPolicy({ backoff: { delay: 1 } }, base);
    resolved.backoff.jitter = 1;
    assert.deepEqual(base, copy);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runInNewContext } from 'node:vm';
import { NonRetryableError } from '../../src/saga/errors/non-retryable.error.js';
import { toSagaError } from '../../src/saga/errors/saga-error.js';
import { StepTimeoutError } from '../../src/saga/errors/step-timeout.error.js';

describe('toSagaError', () => {
  it('an ordinary Error is retryable and keeps its name and message, never its stack', () => {
    const error = new Error('provider unavailable');
    const sagaError = toSagaError(error);
    assert.deepEqual(sagaError, { name: 'Error', message: 'provider unavailable', retryable: true });
    assert.deepEqual(Object.keys(sagaError).sort(), ['message', 'name', 'retryable']);
  });

  it('built-in subclasses keep their name', () => {
    assert.deepEqual(toSagaError(new TypeError('x is not a function')), {
      name: 'TypeError',
      message: 'x is not a function',
      retryable: true,
    });
  });

  it('NonRetryableError is not retryable', () => {
    assert.deepEqual(toSagaError(new NonRetryableError('card declined')), {
      name: 'NonRetryableError',
      message: 'card declined',
      retryable: false,
    });
  });

  it('a subclass of NonRetryableError with its own name is not retryable', () => {
    class CardDeclinedError extends NonRetryableError {
      constructor() {
        super('card declined');
        this.name = 'CardDeclinedError';
      }
    }
    assert.deepEqual(toSagaError(new CardDeclinedError()), {
      name: 'CardDeclinedError',
      message: 'card declined',
      retryable: false,
    });
  });

  it('any error with retryable === false is not retryable', () => {
    const error = Object.assign(new Error('out of stock'), { retryable: false });
    assert.deepEqual(toSagaError(error), { name: 'Error', message: 'out of stock', retryable: false });
    class InsufficientStock extends Error {
      readonly retryable = false;
    }
    assert.equal(toSagaError(new InsufficientStock('sku-1')).retryable, false);
  });

  it('only retryable === false counts: other falsy values stay retryable', () => {
    for (const retryable of [0, '', null, undefined, 'false']) {
      assert.equal(
        toSagaError(Object.assign(new Error('x'), { retryable })).retryable,
        true,
        String(retryable),
      );
    }
    assert.equal(toSagaError(Object.assign(new Error('x'), { retryable: true })).retryable, true);
  });

  it("a different class named 'NonRetryableError' is classified by name", () => {
    // As from another copy of the package: same name, not the same class.
    class NonRetryableErrorCopy extends Error {
      constructor(message: string) {
        super(message);
        this.name = 'NonRetryableError';
      }
    }
    const error = new NonRetryableErrorCopy('declined');
    assert.equal(error instanceof NonRetryableError, false);
    assert.deepEqual(toSagaError(error), {
      name: 'NonRetryableError',
      message: 'declined',
      retryable: false,
    });
  });

  it('a StepTimeoutError is retryable', () => {
    assert.deepEqual(toSagaError(new StepTimeoutError('order.chargePayment', 100)), {
      name: 'StepTimeout',
      message: 'order.chargePayment did not finish within 100 ms',
      retryable: true,
    });
  });

  it('an aborted signal reason (DOMException) is retryable and keeps its name', () => {
    const reason = AbortSignal.abort().reason as Error;
    const sagaError = toSagaError(reason);
    assert.equal(sagaError.name, 'AbortError');
    assert.equal(sagaError.retryable, true);
  });

  it('non-Error throwables are retryable errors named Error with the value as message', () => {
    assert.deepEqual(toSagaError('plain string'), {
      name: 'Error',
      message: 'plain string',
      retryable: true,
    });
    assert.deepEqual(toSagaError(42), { name: 'Error', message: '42', retryable: true });
    assert.deepEqual(toSagaError(null), { name: 'Error', message: 'null', retryable: true });
    assert.deepEqual(toSagaError(undefined), { name: 'Error', message: 'undefined', retryable: true });
    assert.deepEqual(toSagaError(false), { name: 'Error', message: 'false', retryable: true });
    assert.deepEqual(toSagaError(Symbol('boom')), {
      name: 'Error',
      message: 'Symbol(boom)',
      retryable: true,
    });
  });

  it('a non-Error throwable never makes toSagaError throw', () => {
    const throwing = {
      toString() {
        throw new Error('no string for you');
      },
    };
    for (const value of [Object.create(null), throwing]) {
      let result: unknown;
      assert.doesNotThrow(() => {
        result = toSagaError(value);
      });
      assert.equal((result as { name: string }).name, 'Error');
      assert.equal((result as { retryable: boolean }).retryable, true);
    }
  });

  it('a non-retryable error from another realm (vm context) is classified by name', () => {
    const error = runInNewContext(
      "(() => { const e = new Error('declined'); e.name = 'NonRetryableError'; return e; })()",
    ) as Error;
    assert.equal(error instanceof Error, false, 'not an Error of this realm');
    const sagaError = toSagaError(error);
    assert.equal(sagaError.retryable, false);
    assert.equal(sagaError.name, 'NonRetryableError');
    assert.equal(sagaError.message, 'declined');
  });

  it('an error-like object rebuilt from a serialized form keeps its classification', () => {
    const rebuilt = { name: 'NonRetryableError', message: 'declined', retryable: false };
    assert.deepEqual(toSagaError(rebuilt), rebuilt);
  });
});

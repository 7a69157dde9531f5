/**
 * Thrown by a step or compensation to skip its remaining attempts. The engine recognises it by
 * `name` (or by `retryable === false` on any error), not only by `instanceof`, so an error built
 * by another copy of this package or rebuilt from a serialized form still counts.
 */
export class NonRetryableError extends Error {
  readonly retryable = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NonRetryableError';
  }
}

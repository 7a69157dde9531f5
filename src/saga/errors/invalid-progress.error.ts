/**
 * Thrown by `ctx.progress()` to the handler that passed a value it cannot keep. Not retryable: the
 * same code reports the same kind of value on every attempt.
 */
export class InvalidProgressError extends Error {
  readonly retryable = false;

  constructor(problem: string) {
    super(`ctx.progress(): ${problem}`);
    this.name = 'InvalidProgressError';
  }
}

/** The saga's deadline passed before it finished: it is cancelled with this error and compensates. */
export class DeadlineExceededError extends Error {
  readonly retryable = false;

  constructor() {
    super('the saga did not finish before its deadline');
    this.name = 'DeadlineExceeded';
  }
}

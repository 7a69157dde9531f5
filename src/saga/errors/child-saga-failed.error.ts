/** A child step's child saga ended without completing (compensated, or failed): the step fails, not retried. */
export class ChildSagaFailedError extends Error {
  readonly retryable = false;

  constructor(childId: string, status: string) {
    super(`child saga ${childId} ended ${status}`);
    this.name = 'ChildSagaFailed';
  }
}

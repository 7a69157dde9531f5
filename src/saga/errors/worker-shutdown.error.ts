/** The worker shut down before the attempt finished: a retryable failure, so the attempt runs again elsewhere. */
export class WorkerShutdownError extends Error {
  readonly retryable = true;

  constructor() {
    super('the worker shut down before the attempt finished');
    this.name = 'WorkerShutdownError';
  }
}

export class StepTimeoutError extends Error {
  readonly retryable = true;

  constructor(handler: string, timeoutMs: number) {
    super(`${handler} did not finish within ${timeoutMs} ms`);
    this.name = 'StepTimeout';
  }
}

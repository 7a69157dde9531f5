/** A wait step's signal did not arrive within its timeout: the step fails, not retried. */
export class SignalTimeoutError extends Error {
  readonly retryable = false;

  constructor(signal: string, timeoutMs: number) {
    super(`signal "${signal}" did not arrive within ${timeoutMs} ms`);
    this.name = 'SignalTimeout';
  }
}

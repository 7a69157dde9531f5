/** The demo card acquirer did not answer: a retryable failure. */
export class AcquirerUnavailableError extends Error {
  constructor() {
    super('card acquirer unavailable');
    this.name = 'AcquirerUnavailableError';
  }
}

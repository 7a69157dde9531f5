/** The car rental desk did not answer: a retryable failure. */
export class DeskUnavailableError extends Error {
  constructor() {
    super('desk unavailable');
    this.name = 'DeskUnavailableError';
  }
}

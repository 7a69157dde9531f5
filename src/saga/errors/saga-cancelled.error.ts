/** The reason a cancelled saga's in-flight step receives on its signal. */
export class SagaCancelledError extends Error {
  readonly retryable = false;

  constructor() {
    super('cancelled on request');
    this.name = 'SagaCancelled';
  }
}

/**
 * Every attempt the policy allows was claimed by a worker that stopped before recording its
 * outcome: the step fails for good instead of running again (a step that kills its worker cannot
 * loop forever).
 */
export class AttemptsExhaustedError extends Error {
  readonly retryable = false;

  constructor() {
    super('every allowed attempt was claimed by a worker that stopped before recording an outcome');
    this.name = 'AttemptsExhausted';
  }
}

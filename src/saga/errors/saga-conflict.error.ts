/** The saga's state does not allow what was asked (cancel a terminal saga, retry one that is not failed). */
export class SagaConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SagaConflictError';
  }
}

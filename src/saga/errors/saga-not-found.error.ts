export class SagaNotFoundError extends Error {
  constructor(id: string) {
    super(`No saga has id ${id}`);
    this.name = 'SagaNotFoundError';
  }
}

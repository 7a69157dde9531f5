export class UnknownSagaError extends Error {
  constructor(name: string) {
    super(`No saga is named "${name}"`);
    this.name = 'UnknownSagaError';
  }
}

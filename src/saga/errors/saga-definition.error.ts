/** A saga class that cannot run as declared; thrown at boot so a bad definition never starts. */
export class SagaDefinitionError extends Error {
  constructor(className: string, problem: string) {
    super(`Invalid saga ${className}: ${problem}`);
    this.name = 'SagaDefinitionError';
  }
}

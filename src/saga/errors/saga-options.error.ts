/** A `SagaModule` option the engine cannot run with; thrown at boot, naming the option. */
export class SagaOptionsError extends Error {
  constructor(option: string, problem: string) {
    super(`Invalid SagaModule option ${option}: ${problem}`);
    this.name = 'SagaOptionsError';
  }
}

/**
 * The saga runs a version of its definition that this process does not register (another version
 * is deployed beside it): the process cannot decide for it, and a process that has it can. A 503,
 * so that the client or the load balancer tries again, on another process.
 */
export class SagaVersionUnavailableError extends Error {
  constructor(id: string, name: string, version: number) {
    super(
      `Saga ${id} runs ${name}@${version}, which this process does not have (another version of "${name}" ` +
        'is deployed beside it); retry, and a process that has it will answer',
    );
    this.name = 'SagaVersionUnavailableError';
  }
}

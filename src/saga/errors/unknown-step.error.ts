/** Step names echoed in messages are cut here, so a client cannot make the error body as large as its URL. */
const MAX_ECHOED = 100;

/** A step that the saga's definition does not declare. */
export class UnknownStepError extends Error {
  constructor(sagaId: string, sagaName: string, step: string) {
    const shown = step.length > MAX_ECHOED ? `${step.slice(0, MAX_ECHOED)}…` : step;
    super(`Saga ${sagaId} ("${sagaName}") has no step "${shown}"`);
    this.name = 'UnknownStepError';
  }
}

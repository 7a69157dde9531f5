/** Signal names echoed in messages are cut here, so a client cannot make the error body as large as its URL. */
const MAX_ECHOED = 100;

/** A signal that the saga's definition does not declare (no step waits for it). */
export class UnknownSignalError extends Error {
  constructor(sagaId: string, sagaName: string, signal: string) {
    const shown = signal.length > MAX_ECHOED ? `${signal.slice(0, MAX_ECHOED)}…` : signal;
    super(`Saga ${sagaId} ("${sagaName}") declares no signal "${shown}"`);
    this.name = 'UnknownSignalError';
  }
}

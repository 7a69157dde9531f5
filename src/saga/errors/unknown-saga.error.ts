/** Names echoed in messages are cut here, so a client cannot make the error body as large as its URL. */
const MAX_ECHOED = 100;

export class UnknownSagaError extends Error {
  constructor(name: string) {
    super(`No saga is named "${name.length > MAX_ECHOED ? `${name.slice(0, MAX_ECHOED)}…` : name}"`);
    this.name = 'UnknownSagaError';
  }
}

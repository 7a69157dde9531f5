import type { SagaView } from '../store/saga-views.js';
import { describeSaga } from './describe-saga.js';

/** A saga the kit was running until something happened in it ended first; the message shows how its steps ended. */
export class SagaEndedError extends Error {
  constructor(
    readonly saga: SagaView,
    /** What the kit waited for: "a step waited for signal "approval"". */
    awaited: string,
  ) {
    super(`the saga ended before ${awaited}: ${describeSaga(saga)}`);
    this.name = 'SagaEndedError';
  }
}

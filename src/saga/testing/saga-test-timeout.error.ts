import type { SagaView } from '../store/saga-views.js';
import { describeSaga } from './describe-saga.js';

/** A saga the kit waited for did not end in time; the message shows where each of its steps stands. */
export class SagaTestTimeoutError extends Error {
  constructor(
    readonly saga: SagaView,
    timeoutMs: number,
    dueInMs?: number | null,
  ) {
    const signal = saga.steps?.find((step) => step.waitingFor)?.waitingFor;
    const hint = signal
      ? ` (nothing sends signal "${signal}": send it with signal(), before or after the step waits)`
      : dueInMs
        ? ' (waitForEnd waits in real time: runToEnd or skipTime skip the wait)'
        : '';
    super(`timed out after ${timeoutMs} ms: ${describeSaga(saga, dueInMs)}${hint}`);
    this.name = 'SagaTestTimeoutError';
  }
}

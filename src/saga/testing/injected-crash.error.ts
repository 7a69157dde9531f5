import { describeCrash, type CrashBoundary, type SagaUnit } from './crash-point.js';

/**
 * Thrown by the test kit at a crash point. It escapes the job the way a process death does: the
 * engine never records it as the outcome of an attempt.
 */
export class InjectedCrashError extends Error {
  constructor(
    readonly sagaId: string,
    readonly boundary: CrashBoundary,
    readonly unit: SagaUnit,
  ) {
    super(`crash injected ${describeCrash(boundary, unit)} in saga ${sagaId}`);
    this.name = 'InjectedCrash';
  }
}

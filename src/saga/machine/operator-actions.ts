import { SagaStatus } from '../saga-status.js';
import { unitKey, UnitStatus, type SagaSnapshot, type UnitSnapshot } from './saga-snapshot.js';

/**
 * The unit an operator's retry of step `step` runs now: its forward unit waiting out a retry
 * backoff (in a running saga), its compensation waiting out one (in a compensating saga), or its
 * compensation that exhausted its retries (in a `failed` saga). Undefined: nothing to retry. A
 * unit that waits for a scheduled start has no attempt behind it: that is no backoff.
 */
export function unitToRetry(saga: SagaSnapshot, step: number): UnitSnapshot | undefined {
  const forward = saga.units.find((u) => u.key === unitKey.step(step));
  const undo = saga.units.find((u) => u.key === unitKey.compensation(step));
  if (saga.status === SagaStatus.Running && forward && betweenAttempts(forward)) return forward;
  if (saga.status === SagaStatus.Compensating && undo && betweenAttempts(undo)) return undo;
  if (saga.status === SagaStatus.Failed && undo?.status === UnitStatus.Failed) return undo;
  return undefined;
}

function betweenAttempts(unit: UnitSnapshot): boolean {
  return unit.status === UnitStatus.Pending && unit.scheduled && unit.attempts > 0;
}

/**
 * Why an operator may not skip step `step` now, or undefined when they may. Only a saga running
 * forward: a saga not started yet may be queued behind a concurrency key or a scheduled start,
 * which a skip must not jump. A running attempt is not skipped under its handler: its outcome
 * would race the skip; the operator skips it once the attempt has ended (between attempts).
 */
export function skipRefusal(saga: SagaSnapshot, step: number): string | undefined {
  if (saga.status !== SagaStatus.Running) {
    return saga.status === SagaStatus.Pending
      ? 'the saga has not started yet'
      : `the saga is ${saga.status}: it no longer runs forward`;
  }
  const unit = saga.units.find((u) => u.key === unitKey.step(step))!;
  if (unit.status === UnitStatus.Running)
    return 'an attempt of it is running; skip it once that attempt ends';
  if (unit.status === UnitStatus.Completed || unit.status === UnitStatus.Skipped)
    return `it is ${unit.status} already`;
  if (unit.status === UnitStatus.Failed) return 'it failed';
  return undefined;
}

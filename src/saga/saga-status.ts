export const SagaStatus = {
  /** Recorded; no worker has started its first step yet. */
  Pending: 'pending',
  /** Running its steps forward. */
  Running: 'running',
  /** A step finally failed or the saga was cancelled; completed steps are being undone. */
  Compensating: 'compensating',
  /** Every step completed. Terminal. */
  Completed: 'completed',
  /** Every completed step was undone (or there was nothing to undo). Terminal. */
  Compensated: 'compensated',
  /** A compensation exhausted its retries: the dead-letter state, waiting for an operator. Terminal. */
  Failed: 'failed',
} as const;
export type SagaStatus = (typeof SagaStatus)[keyof typeof SagaStatus];

export const ACTIVE_SAGA_STATUSES: readonly SagaStatus[] = [
  SagaStatus.Pending,
  SagaStatus.Running,
  SagaStatus.Compensating,
];

export const TERMINAL_SAGA_STATUSES: readonly SagaStatus[] = [
  SagaStatus.Completed,
  SagaStatus.Compensated,
  SagaStatus.Failed,
];

export const StepStatus = {
  /** Not started yet, or waiting for its next attempt. */
  Pending: 'pending',
  /** An attempt is in progress. */
  Running: 'running',
  /** Waits for a signal or a child saga. */
  Waiting: 'waiting',
  Completed: 'completed',
  /** Finally failed: retries exhausted or a non-retryable error. */
  Failed: 'failed',
  /** Its compensation is in progress or waiting for its next attempt. */
  Compensating: 'compensating',
  Compensated: 'compensated',
  /** Its compensation exhausted its retries. */
  CompensationFailed: 'compensation_failed',
  /**
   * Never ran because the saga stopped before it (shown, not stored), or an operator skipped it
   * (with the output they gave): either way it is not compensated.
   */
  Skipped: 'skipped',
} as const;
export type StepStatus = (typeof StepStatus)[keyof typeof StepStatus];

export const CompensationStatus = {
  Pending: 'pending',
  Running: 'running',
  Completed: 'completed',
  Failed: 'failed',
} as const;
export type CompensationStatus = (typeof CompensationStatus)[keyof typeof CompensationStatus];

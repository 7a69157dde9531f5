export const SagaEventType = {
  SagaStarted: 'saga_started',
  StepStarted: 'step_started',
  StepCompleted: 'step_completed',
  /** One attempt failed; `data.retryInMs` is set when another attempt follows. */
  StepFailed: 'step_failed',
  CompensationStarted: 'compensation_started',
  CompensationCompleted: 'compensation_completed',
  CompensationFailed: 'compensation_failed',
  CancelRequested: 'cancel_requested',
  SagaCompensating: 'saga_compensating',
  SagaCompleted: 'saga_completed',
  SagaCompensated: 'saga_compensated',
  SagaFailed: 'saga_failed',
  SagaRetried: 'saga_retried',
} as const;
export type SagaEventType = (typeof SagaEventType)[keyof typeof SagaEventType];

/** An event as a transition records it; the store numbers and timestamps it. */
export interface EventDraft {
  type: SagaEventType;
  step?: string;
  attempt?: number;
  data?: Record<string, unknown>;
}

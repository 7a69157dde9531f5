export const SagaEventType = {
  SagaStarted: 'saga_started',
  StepStarted: 'step_started',
  StepCompleted: 'step_completed',
  /** One attempt failed; `data.retryInMs` is set when another attempt follows. */
  StepFailed: 'step_failed',
  /** A wait step waits for `data.signal` (until `data.timeoutMs`, when it has one). */
  StepWaiting: 'step_waiting',
  /** A signal was delivered; `data.taken` says whether a step took it at once. */
  SignalReceived: 'signal_received',
  /** A child step started its child saga, `data.childId`. */
  ChildStarted: 'child_started',
  CompensationStarted: 'compensation_started',
  CompensationCompleted: 'compensation_completed',
  CompensationFailed: 'compensation_failed',
  CancelRequested: 'cancel_requested',
  SagaCompensating: 'saga_compensating',
  SagaCompleted: 'saga_completed',
  SagaCompensated: 'saga_compensated',
  SagaFailed: 'saga_failed',
  SagaRetried: 'saga_retried',
  /** An operator ran a step's next attempt (or its dead-lettered compensation) now; `data.unit` says which. */
  StepRetried: 'step_retried',
  /** An operator completed a step in place of running it; `data.reason` when they gave one. */
  StepSkipped: 'step_skipped',
} as const;
export type SagaEventType = (typeof SagaEventType)[keyof typeof SagaEventType];

/** An event as a transition records it; the store numbers and timestamps it. */
export interface EventDraft {
  type: SagaEventType;
  step?: string;
  attempt?: number;
  data?: Record<string, unknown>;
}

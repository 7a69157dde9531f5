import type { SagaError } from '../errors/saga-error.js';
import type { CompensationStatus, Phase, SagaStatus, StepStatus } from '../saga-status.js';

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

export interface StepSnapshot {
  index: number;
  name: string;
  status: StepStatus;
  attempts: number;
  output: unknown;
  compensationStatus: CompensationStatus | null;
  compensationAttempts: number;
}

/** What the engine knows about a saga when it decides its next transition. */
export interface SagaSnapshot {
  id: string;
  name: string;
  version: number;
  status: SagaStatus;
  seq: number;
  phase: Phase;
  stepIndex: number;
  /** A worker has claimed the current unit and not recorded its outcome yet. */
  running: boolean;
  cancelRequested: boolean;
  input: unknown;
  steps: StepSnapshot[];
}

export type Outcome =
  | { kind: 'succeeded'; output: unknown }
  | { kind: 'failed'; error: SagaError }
  /** The unit was not run because the saga was cancelled before it started. */
  | { kind: 'cancelled' };

/** New values for one side (forward step or compensation) of one step row. */
export interface StepPatch {
  index: number;
  side: Phase;
  /** The step's overall status. */
  status: StepStatus;
  /** The compensation's own status, when `side` is `compensation`. */
  compensationStatus?: CompensationStatus;
  output?: unknown;
  /** Left as it is when undefined. */
  error?: SagaError | null;
  finished: boolean;
  /** A dead-letter retry gives the compensation a fresh attempt budget. */
  resetAttempts?: boolean;
}

export interface EventDraft {
  type: SagaEventType;
  step?: string;
  attempt?: number;
  data?: Record<string, unknown>;
}

/** The attempt of the next unit that a transition starts, when that unit is due at once. */
export interface StartedAttempt {
  index: number;
  side: Phase;
  /** The step's name, for the event. */
  step: string;
  /** The attempt's number, counted from 1 for each side of each step. */
  attempt: number;
}

/**
 * One saga transition, committed in one Postgres statement together with the next unit of work
 * it schedules (`delayMs`), only if the saga is still at `seq` and its cancel flag is still `cancelSeen`.
 */
export interface Transition {
  sagaId: string;
  seq: number;
  cancelSeen: boolean;
  status: SagaStatus;
  phase: Phase;
  stepIndex: number;
  /** When the next unit is due, from now; null when the saga is terminal. */
  delayMs: number | null;
  output?: unknown;
  error?: SagaError | null;
  step?: StepPatch;
  events: EventDraft[];
  /**
   * Set when the next unit is due at once: the same statement claims it (counts its attempt and
   * marks it running), so that its job runs without a claim of its own.
   */
  started?: StartedAttempt;
}

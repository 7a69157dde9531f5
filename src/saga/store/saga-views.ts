import type { SagaError } from '../errors/saga-error.js';
import { SagaStatus, StepStatus, type CompensationStatus } from '../saga-status.js';
import type { sagaEvents, sagas, sagaSteps } from './schema.js';

export interface CompensationView {
  status: CompensationStatus;
  attempts: number;
  startedAt?: string;
  finishedAt?: string;
  error?: SagaError;
}

export interface StepView {
  name: string;
  status: StepStatus;
  attempts: number;
  startedAt?: string;
  finishedAt?: string;
  output?: unknown;
  error?: SagaError;
  compensation?: CompensationView;
}

export interface SagaView {
  id: string;
  name: string;
  version: number;
  status: SagaStatus;
  input: unknown;
  output?: unknown;
  error?: SagaError;
  createdAt: string;
  updatedAt: string;
  completedAt?: string;
  steps?: StepView[];
}

export interface SagaEventView {
  seq: number;
  type: string;
  step?: string;
  attempt?: number;
  at: string;
  data?: unknown;
}

type SagaRow = typeof sagas.$inferSelect;
type StepRow = typeof sagaSteps.$inferSelect;
type EventRow = typeof sagaEvents.$inferSelect;

export function toSagaView(row: SagaRow, steps?: StepRow[]): SagaView {
  return compact({
    id: row.id,
    name: row.name,
    version: row.version,
    status: row.status as SagaStatus,
    input: row.input,
    output: row.output,
    error: row.error as SagaError | null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    completedAt: row.completedAt?.toISOString(),
    steps: steps?.map((step) => toStepView(row.status as SagaStatus, step)),
  });
}

function toStepView(sagaStatus: SagaStatus, row: StepRow): StepView {
  // A step still pending in a saga that no longer runs forward will never run; that is derived, not stored.
  const stoppedBefore =
    row.status === StepStatus.Pending &&
    sagaStatus !== SagaStatus.Running &&
    sagaStatus !== SagaStatus.Pending;
  return compact({
    name: row.name,
    status: stoppedBefore ? StepStatus.Skipped : (row.status as StepStatus),
    attempts: row.attempts,
    startedAt: row.startedAt?.toISOString(),
    finishedAt: row.finishedAt?.toISOString(),
    output: row.output,
    error: row.error as SagaError | null,
    compensation: row.compensationStatus
      ? compact({
          status: row.compensationStatus as CompensationStatus,
          attempts: row.compensationAttempts,
          startedAt: row.compensationStartedAt?.toISOString(),
          finishedAt: row.compensationFinishedAt?.toISOString(),
          error: row.compensationError as SagaError | null,
        })
      : undefined,
  });
}

export function toEventView(row: EventRow, index: number): SagaEventView {
  return compact({
    seq: index + 1,
    type: row.type,
    step: row.step,
    attempt: row.attempt,
    at: row.at.toISOString(),
    data: row.data,
  });
}

/** Drops absent fields, so that optional fields are missing from JSON rather than null. */
function compact<T extends object>(value: { [K in keyof T]: T[K] | null | undefined }): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined)) as T;
}

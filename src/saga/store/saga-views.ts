import type { StepKind } from '../definition/saga-definition.interface.js';
import type { SagaError } from '../errors/saga-error.js';
import { UnitKind, UnitStatus } from '../machine/saga-snapshot.js';
import { CompensationStatus, SagaStatus, StepStatus } from '../saga-status.js';
import type { sagaEvents, sagas, sagaUnits } from './schema.js';

export interface CompensationView {
  status: CompensationStatus;
  attempts: number;
  startedAt?: string;
  finishedAt?: string;
  error?: SagaError;
  /** What the compensation's handler last reported with `ctx.progress()`. */
  progress?: unknown;
}

export interface StepView {
  name: string;
  /** `task` runs a handler, `wait` waits for a signal first, `child` runs a child saga. */
  kind: StepKind;
  /** The parallel group it runs in, if any. */
  group?: string;
  status: StepStatus;
  attempts: number;
  startedAt?: string;
  finishedAt?: string;
  output?: unknown;
  error?: SagaError;
  /** When its next attempt is due (a delay or a backoff), or when its wait times out. */
  dueAt?: string;
  /** The signal it waits for, while it waits. */
  waitingFor?: string;
  /** Its child saga, once started. */
  childId?: string;
  /** What its handler last reported with `ctx.progress()`: a number 0..100 or a small object. */
  progress?: unknown;
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
  /** When a scheduled start is due. */
  startAt?: string;
  deadlineAt?: string;
  parentId?: string;
  /** The child sagas its child steps started, and the step that started each. */
  children?: ChildView[];
  steps?: StepView[];
}

export interface ChildView {
  id: string;
  name: string;
  status: SagaStatus;
  step: string;
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
type UnitRow = typeof sagaUnits.$inferSelect;
type EventRow = typeof sagaEvents.$inferSelect;

export function toSagaView(
  row: SagaRow,
  units?: UnitRow[],
  children?: { id: string; name: string; status: string; step: number | null }[],
): SagaView {
  const status = row.status as SagaStatus;
  return compact({
    id: row.id,
    name: row.name,
    version: row.version,
    status,
    input: row.input,
    output: row.output,
    error: row.error as SagaError | null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    completedAt: row.completedAt?.toISOString(),
    startAt: row.startAt?.toISOString(),
    deadlineAt: row.deadlineAt?.toISOString(),
    parentId: row.parentId,
    children: children?.length
      ? children.map((c) => ({
          id: c.id,
          name: c.name,
          status: c.status as SagaStatus,
          step:
            units?.find((u) => u.kind === UnitKind.Step && u.stepIndex === c.step)?.name ?? String(c.step),
        }))
      : undefined,
    steps: units
      ?.filter((u) => u.kind === UnitKind.Step)
      .sort((a, b) => a.stepIndex! - b.stepIndex!)
      .map((step) =>
        toStepView(
          status,
          step,
          units.find((u) => u.kind === UnitKind.Compensation && u.stepIndex === step.stepIndex),
        ),
      ),
  });
}

const COMPENSATION_STEP_STATUS: Record<string, StepStatus> = {
  [UnitStatus.Pending]: StepStatus.Compensating,
  [UnitStatus.Running]: StepStatus.Compensating,
  [UnitStatus.Waiting]: StepStatus.Compensating,
  [UnitStatus.Completed]: StepStatus.Compensated,
  [UnitStatus.Failed]: StepStatus.CompensationFailed,
};

function toStepView(sagaStatus: SagaStatus, step: UnitRow, compensation: UnitRow | undefined): StepView {
  // A step still pending in a saga that no longer runs forward will never run; that is derived, not stored.
  const stoppedBefore =
    step.status === UnitStatus.Pending &&
    sagaStatus !== SagaStatus.Running &&
    sagaStatus !== SagaStatus.Pending;
  const status = compensation
    ? COMPENSATION_STEP_STATUS[compensation.status]
    : stoppedBefore
      ? StepStatus.Skipped
      : (step.status as StepStatus);
  return compact({
    name: step.name,
    kind: step.stepKind as StepKind,
    group: step.stepGroup,
    status,
    attempts: step.attempts,
    startedAt: step.startedAt?.toISOString(),
    finishedAt: step.finishedAt?.toISOString(),
    output: step.output,
    error: step.error as SagaError | null,
    dueAt:
      step.status === UnitStatus.Pending || step.status === UnitStatus.Waiting
        ? step.dueAt?.toISOString()
        : undefined,
    waitingFor: step.status === UnitStatus.Waiting && !step.childId ? step.signal : undefined,
    childId: step.childId,
    progress: step.progress,
    compensation: compensation
      ? compact({
          // Undoing a child step runs no handler: it waits while the child saga compensates.
          status: (compensation.status === UnitStatus.Waiting
            ? CompensationStatus.Running
            : compensation.status) as CompensationStatus,
          attempts: compensation.attempts,
          startedAt: compensation.startedAt?.toISOString(),
          finishedAt: compensation.finishedAt?.toISOString(),
          error: compensation.error as SagaError | null,
          progress: compensation.progress,
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

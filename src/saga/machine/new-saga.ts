import type { SagaDefinition, StepKind } from '../definition/saga-definition.interface.js';
import { UnitKind, unitKey, UnitStatus, type UnitSnapshot } from './saga-snapshot.js';

/** A unit as a new saga's rows hold it. */
export interface NewUnit extends Pick<UnitSnapshot, 'key' | 'kind' | 'step' | 'name' | 'status'> {
  /** What a step unit's step does, and the signal a wait step waits for, for the view. */
  stepKind: StepKind;
  signal: string | null;
  group: string | null;
  /** When its first job is due, from the start; null when none is due yet. */
  dueInMs: number | null;
}

/**
 * The units a saga starts with: one per step, those of the first stage due when the saga starts,
 * and the control unit when the saga has a deadline. The first stage is claimed by a worker, not
 * by the start, so that a saga is `pending` until a worker takes it.
 */
export function initialUnits(
  def: SagaDefinition,
  timing: { startInMs: number; deadlineInMs?: number },
): NewUnit[] {
  const units: NewUnit[] = def.steps.map((step) => ({
    key: unitKey.step(step.index),
    kind: UnitKind.Step,
    step: step.index,
    name: step.name,
    stepKind: step.kind,
    signal: step.signal?.name ?? null,
    group: step.group ?? null,
    status: UnitStatus.Pending,
    dueInMs: step.stage === 0 ? timing.startInMs : null,
  }));
  if (timing.deadlineInMs === undefined) return units;
  return [
    ...units,
    {
      key: unitKey.control,
      kind: UnitKind.Control,
      step: null,
      name: unitKey.control,
      stepKind: 'task',
      signal: null,
      group: null,
      status: UnitStatus.Waiting,
      dueInMs: timing.deadlineInMs,
    },
  ];
}

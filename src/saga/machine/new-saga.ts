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
 * The units a saga starts with: one per step, those of the first stage due when the saga starts
 * (or their `delayMs` after it), and the control unit when the saga has a deadline. The first
 * stage is claimed by a worker, not by the start, so that a saga is `pending` until a worker takes it.
 */
export function initialUnits(
  def: SagaDefinition,
  input: unknown,
  timing: { startInMs: number; deadlineInMs?: number },
): NewUnit[] {
  const units: NewUnit[] = def.steps.map((step) => {
    const unit = {
      key: unitKey.step(step.index),
      kind: UnitKind.Step,
      step: step.index,
      name: step.name,
      stepKind: step.kind,
      signal: step.signal?.name ?? null,
      group: step.group ?? null,
    };
    if (step.stage !== 0) return { ...unit, status: UnitStatus.Pending, dueInMs: null };
    // A first step that waits for a signal waits from the start, until its timeout if it has one.
    if (step.kind !== 'wait')
      return { ...unit, status: UnitStatus.Pending, dueInMs: timing.startInMs + (step.delayMs ?? 0) };
    const timeoutMs = step.signal!.timeoutMs(input);
    return {
      ...unit,
      status: UnitStatus.Waiting,
      dueInMs: timeoutMs === undefined ? null : timing.startInMs + timeoutMs,
    };
  });
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

/**
 * The units of a saga queued behind its concurrency key: no step is due, a first step that waits
 * for a signal does not wait yet (its wait starts when the saga goes forward), and its admission
 * unit waits, due `admissionDueInMs` from the start (when a scheduled start comes, to take the key)
 * or never (until the key is handed to it). Its deadline runs as it would.
 */
export function queuedUnits(units: NewUnit[], admissionDueInMs: number | null): NewUnit[] {
  return [
    ...units.map((u) => (u.kind === UnitKind.Step ? { ...u, status: UnitStatus.Pending, dueInMs: null } : u)),
    {
      key: unitKey.admission,
      kind: UnitKind.Admission,
      step: null,
      name: unitKey.admission,
      stepKind: 'task',
      signal: null,
      group: null,
      status: UnitStatus.Waiting,
      dueInMs: admissionDueInMs,
    },
  ];
}

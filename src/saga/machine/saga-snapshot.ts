import type { SagaStatus } from '../saga-status.js';

/** What a unit of work does. */
export const UnitKind = {
  /** Runs a step forward: one attempt of its handler per job. */
  Step: 'step',
  /** Undoes a completed step: one attempt of its compensation per job. */
  Compensation: 'compensation',
  /** The saga's own unit: its deadline, or its parent's request to stop it. */
  Control: 'control',
  /**
   * A saga with a concurrency key waits on it, `pending`, until it holds its key: then it is due,
   * and the saga goes forward.
   */
  Admission: 'admission',
} as const;
export type UnitKind = (typeof UnitKind)[keyof typeof UnitKind];

export const UnitStatus = {
  /** Not started, or between two attempts (then scheduled, after a backoff). */
  Pending: 'pending',
  /** An attempt is counted and its outcome not recorded yet. */
  Running: 'running',
  /** No attempt running: it waits for a time (a deadline, a signal's timeout), a signal or a child saga. */
  Waiting: 'waiting',
  Completed: 'completed',
  /** Finally failed: it will not run again. */
  Failed: 'failed',
  /** Completed by an operator in place of running (with the output they gave): it is never compensated. */
  Skipped: 'skipped',
} as const;
export type UnitStatus = (typeof UnitStatus)[keyof typeof UnitStatus];

/** One unit of work of a saga, as its row in Postgres holds it. */
export interface UnitSnapshot {
  /** Unique within the saga; with `seq`, it names the unit's job. */
  key: string;
  kind: UnitKind;
  /** The index of the step it runs or undoes; null for the control unit. */
  step: number | null;
  /** The step's name (the control unit's: `saga`). */
  name: string;
  status: UnitStatus;
  /** Bumped each time the unit is scheduled, so that each job of a unit has an id of its own. */
  seq: number;
  /** Attempts counted so far (claimed, whether or not their outcome was recorded). */
  attempts: number;
  /** Whether a job is due for it: it has a due time. */
  scheduled: boolean;
  output: unknown;
  /** The saga's `seq` when the unit completed or finally failed: compensation goes in reverse of it. */
  endedAt: number | null;
  /** A wait step's signal payload, once it has one (an object; null: none yet). */
  payload: unknown;
  /** A child step's child saga, once started, as it is now. */
  child: ChildSnapshot | null;
}

/**
 * A unit as its row is created: no attempt yet, nothing recorded; its first job, if it is due at
 * once (`scheduled`), is its `seq` 1.
 */
export function unitAtCreation(
  unit: Pick<UnitSnapshot, 'key' | 'kind' | 'step' | 'name' | 'status' | 'scheduled'>,
): UnitSnapshot {
  const { key, kind, step, name, status, scheduled } = unit;
  return {
    key,
    kind,
    step,
    name,
    status,
    seq: scheduled ? 1 : 0,
    attempts: 0,
    scheduled,
    output: null,
    endedAt: null,
    payload: null,
    child: null,
  };
}

/** What a parent knows of its child saga. */
export interface ChildSnapshot {
  id: string;
  status: SagaStatus;
  output: unknown;
}

/** What the engine knows about a saga when it decides its next transition. */
export interface SagaSnapshot {
  id: string;
  name: string;
  version: number;
  status: SagaStatus;
  /** Bumped by every commit and claim: a transition commits only on the `seq` it was decided on. */
  seq: number;
  /** A cancel was asked for (by an operator, or by the saga's parent). */
  cancelRequested: boolean;
  /** 1 (first) .. 10: the priority of its units' jobs. */
  priority: number;
  input: unknown;
  /** The saga whose child step started this one, and that step's index; null for a saga started on its own. */
  parent: { id: string; step: number } | null;
  units: UnitSnapshot[];
  /** The W3C `traceparent` its attempts' spans are children of; absent when it was started untraced. */
  traceContext?: string;
}

/**
 * Made once per index: the state machine looks units up by key on every step, and a string made
 * anew is hashed anew.
 */
const stepKeys: string[] = [];
const compensationKeys: string[] = [];

/** Unit keys: short, and free of ':' (BullMQ rejects job ids that contain one). */
export const unitKey = {
  step: (index: number): string => (stepKeys[index] ??= `s${index}`),
  compensation: (index: number): string => (compensationKeys[index] ??= `c${index}`),
  control: 'saga',
  admission: 'key',
};

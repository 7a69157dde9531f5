import type { SagaSnapshot, UnitSnapshot } from '../machine/saga-snapshot.js';

/**
 * The points in a unit of work at which a process may die, each losing something else: the
 * attempt before its handler runs, the handler's outcome before it is committed, or the next unit
 * after its transition is committed but before it reaches Redis.
 */
export type UnitBoundary = 'beforeHandler' | 'afterHandler' | 'afterCommit';

/**
 * Told by the worker each time a unit reaches a boundary; the test kit provides one to inject
 * crashes. What it throws escapes the job as a process death would: nothing more of the unit is
 * done, and the job is redelivered. Production provides none, and the worker then makes no call.
 */
export interface UnitBoundaryHook {
  /** `unit` of `saga` as claimed (its kind, step and attempt); at `afterCommit`, as before the commit. */
  reached(boundary: UnitBoundary, saga: SagaSnapshot, unit: UnitSnapshot): void | Promise<void>;
}

export const UNIT_BOUNDARY_HOOK = Symbol('UNIT_BOUNDARY_HOOK');

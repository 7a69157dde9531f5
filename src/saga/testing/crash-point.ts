import type { UnitBoundary } from '../execution/unit-boundary-hook.js';

/**
 * Where a process dies, as the engine sees it: `beforeHandler` (the attempt is claimed, its
 * handler not called), `afterHandler` (the handler returned or threw; nothing is recorded) or
 * `afterCommit` (the transition is committed; the next unit never reached Redis).
 */
export type CrashBoundary = UnitBoundary;

/** What a unit runs: a step forward, or its compensation. */
export type Phase = 'step' | 'compensation';

export const CRASH_BOUNDARIES: readonly CrashBoundary[] = ['beforeHandler', 'afterHandler', 'afterCommit'];

/** A unit of work: one attempt of a step, or of its compensation. */
export interface SagaUnit {
  /** The step's name (its method name), for its compensation too. */
  step: string;
  phase: Phase;
  /** Counted from 1, for a step and for its compensation apart. */
  attempt: number;
  /**
   * For a unit of a child saga: the child steps that lead to that saga from the saga explored
   * (`['pay']`: the child its step `pay` started). Absent for the explored saga's own units.
   */
  via?: string[];
  /** For a unit of a child saga: that saga's name. */
  saga?: string;
}

export interface CrashPoint {
  /** The step whose unit crashes; with `phase: 'compensation'`, its compensation's. */
  step: string;
  /** @defaultValue 'step' */
  phase?: Phase;
  boundary: CrashBoundary;
  /** Only this attempt. @defaultValue the first attempt that reaches the boundary */
  attempt?: number;
  /** Only in the saga with this id (with `via`, in a child saga of it). @defaultValue any saga */
  sagaId?: string;
  /** Only in sagas of this name. @defaultValue any saga */
  saga?: string;
  /**
   * Only in a child saga: the one these child steps lead to (`['pay']`: a saga started by a step
   * `pay`), from the saga `sagaId` if given. @defaultValue any saga, child or not
   */
  via?: string[];
}

/** A crash armed with `SagaTestKit.crashAt`: it fires once, at the first unit that matches its point. */
export interface ArmedCrash {
  readonly point: CrashPoint;
  /** The id of the saga it crashed, once it fired. */
  readonly firedIn?: string;
  /** The unit it crashed, once it fired. */
  readonly unit?: SagaUnit;
  /** Takes the crash back if it has not fired. */
  disarm(): void;
}

const WHERE: Record<CrashBoundary, string> = {
  beforeHandler: 'before the handler',
  afterHandler: 'after the handler',
  afterCommit: 'after the commit',
};

/**
 * "after the handler of the compensation of chargePayment (attempt 1)", or "before the handler of
 * step authorize (attempt 1) of child saga payment (via pay)", for messages.
 */
export function describeCrash(boundary: CrashBoundary, unit: Partial<SagaUnit> & { step: string }): string {
  const what = unit.phase === 'compensation' ? `the compensation of ${unit.step}` : `step ${unit.step}`;
  const attempt = unit.attempt === undefined ? '' : ` (attempt ${unit.attempt})`;
  const child = unit.via?.length ? ` of child saga ${unit.saga ?? '?'} (via ${unit.via.join(' → ')})` : '';
  return `${WHERE[boundary]} of ${what}${attempt}${child}`;
}

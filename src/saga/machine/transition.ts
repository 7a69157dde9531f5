import type { SagaError } from '../errors/saga-error.js';
import type { SagaStatus } from '../saga-status.js';
import type { EventDraft } from './saga-events.js';
import type { UnitKind, UnitStatus } from './saga-snapshot.js';

/** A child saga as a child step's attempt made it, for the commit to create. */
export interface NewChild {
  id: string;
  name: string;
  version: number;
  /** Its new rows, built by the store from the child's definition (opaque to the machine). */
  record: unknown;
}

/** What came of one attempt of a unit. */
export type Outcome =
  | { kind: 'succeeded'; output: unknown }
  /** A child step's handler returned the child's input: the commit starts this child. */
  | { kind: 'spawned'; child: NewChild }
  | { kind: 'failed'; error: SagaError }
  /** The attempt was not run: the saga stopped going forward before it started. */
  | { kind: 'cancelled' };

/** Everything that makes a saga move. */
export type SagaInput =
  /** An attempt of a running unit ended. */
  | { kind: 'outcome'; unit: string; outcome: Outcome }
  /** A waiting unit's time came (a deadline, a signal's timeout), or its child saga ended. */
  | { kind: 'due'; unit: string }
  /** A signal was delivered (and kept in the inbox). */
  | { kind: 'signal'; name: string; payload: unknown }
  /** An operator (or a parent saga) cancels the saga: stop going forward and compensate. */
  | { kind: 'cancel' }
  /** An operator resumes a dead-lettered saga at the compensation that exhausted its retries. */
  | { kind: 'retry' }
  /** An operator runs one step's unit now (see `unitToRetry`). */
  | { kind: 'retryStep'; step: number }
  /** An operator completes a step that has not completed with `output`, in place of running it. */
  | { kind: 'skipStep'; step: number; output: unknown; reason?: string };

/** New values for one unit; a field left undefined keeps its value. */
export interface UnitChange {
  key: string;
  kind: UnitKind;
  step: number | null;
  /** The step's name (the control unit's: `saga`), for the row a unit's first change creates. */
  name: string;
  /** The unit has no row yet: this change creates it (a compensation's first attempt). */
  create?: boolean;
  status: UnitStatus;
  output?: unknown;
  error?: SagaError | null;
  /** A fresh attempt budget (an operator's retry). */
  resetAttempts?: boolean;
  /** The signal payload a wait step takes. */
  payload?: unknown;
  /** The child saga a child step started. */
  childId?: string;
  /** It completed or finally failed now: records the order for compensation and its finish time. */
  ended?: boolean;
  /** Schedules its next job this long from now (a new `seq`); null: no job is due for it any more. */
  dueInMs?: number | null;
  /**
   * Claimed by the commit itself (with `dueInMs` 0): the same statement counts the attempt, marks it
   * running and records its start, so that its job runs without a claim of its own.
   */
  start?: boolean;
}

/**
 * One saga transition, committed in one statement together with the units it schedules, only if
 * the saga is still at `seq`.
 */
export interface Transition {
  sagaId: string;
  seq: number;
  status: SagaStatus;
  output?: unknown;
  error?: SagaError | null;
  units: UnitChange[];
  events: EventDraft[];
  /** The saga's running forward attempts are asked to abort their signal (it stopped going forward). */
  abortRunning: boolean;
  /** Child sagas the commit starts. */
  children: NewChild[];
  /**
   * Child sagas asked to stop with the commit: cancelled if they still go forward, compensated if
   * they completed (a parent undoing the step that ran them).
   */
  stopChildren: string[];
  /** The parent's step that waits for this saga, woken by the commit: it ended (or ended again). */
  wakeParent: { id: string; step: number } | null;
  /**
   * The saga ended, and its definition has a concurrency key: the commit hands the key to the
   * oldest saga queued for it (or frees it), if this saga holds it.
   */
  releaseKey?: KeyRef;
}

/** A concurrency key of a saga name. */
export interface KeyRef {
  saga: string;
  key: string;
}

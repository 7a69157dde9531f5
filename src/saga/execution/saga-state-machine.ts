import { backoffDelay } from '../definition/retry-policy.js';
import type { SagaDefinition } from '../definition/saga-definition.interface.js';
import { SagaCancelledError } from '../errors/saga-cancelled.error.js';
import { toSagaError, type SagaError } from '../errors/saga-error.js';
import { CompensationStatus, SagaStatus, StepStatus } from '../saga-status.js';
import {
  SagaEventType,
  type EventDraft,
  type Outcome,
  type SagaSnapshot,
  type StepPatch,
  type StepSnapshot,
  type Transition,
} from './transition.interface.js';

/**
 * The saga state machine: what follows each outcome of a unit of work. Pure, so every path is
 * unit-tested without I/O; the store commits what it returns and the dispatcher enqueues the next unit.
 */
export function decide(
  def: SagaDefinition,
  saga: SagaSnapshot,
  outcome: Outcome,
  random: () => number = Math.random,
): Transition {
  return startingNext(
    saga,
    saga.phase === 'step'
      ? decideStep(def, saga, outcome, random)
      : decideCompensation(def, saga, outcome, random),
  );
}

export const CANCELLED_ERROR: SagaError = toSagaError(new SagaCancelledError());

/** A cancel while no attempt is in flight: stop before the next step and compensate. */
export function cancelNow(def: SagaDefinition, saga: SagaSnapshot): Transition {
  const step = saga.steps[saga.stepIndex];
  return startingNext(saga, stopForCancel(def, { ...saga, cancelRequested: true }, step, step.attempts));
}

/** Resume a dead-lettered saga at the compensation that exhausted its retries, with a fresh budget. */
export function retryFailed(def: SagaDefinition, saga: SagaSnapshot): Transition {
  const step = saga.steps[saga.stepIndex];
  return startingNext(saga, {
    ...base(saga),
    status: SagaStatus.Compensating,
    phase: 'compensation',
    stepIndex: step.index,
    delayMs: 0,
    step: {
      index: step.index,
      side: 'compensation',
      status: StepStatus.Compensating,
      compensationStatus: CompensationStatus.Pending,
      error: null,
      finished: false,
      resetAttempts: true,
    },
    events: [{ type: SagaEventType.SagaRetried, step: step.name }],
  });
}

/**
 * A unit due at once is claimed by the commit of the transition that schedules it: its attempt is
 * counted from the steps as that transition leaves them.
 */
function startingNext(saga: SagaSnapshot, t: Transition): Transition {
  if (t.delayMs !== 0) return t;
  const step = saga.steps[t.stepIndex];
  const resetHere = t.step?.resetAttempts === true && t.step.index === step.index;
  const previous = t.phase === 'step' ? step.attempts : resetHere ? 0 : step.compensationAttempts;
  return { ...t, started: { index: step.index, side: t.phase, step: step.name, attempt: previous + 1 } };
}

function decideStep(
  def: SagaDefinition,
  saga: SagaSnapshot,
  outcome: Outcome,
  random: () => number,
): Transition {
  const stepDef = def.steps[saga.stepIndex];
  const step = saga.steps[saga.stepIndex];

  if (outcome.kind === 'cancelled') {
    // Claimed with the previous transition but never run: that claim is not an attempt that ran.
    const ran = step.status === StepStatus.Running ? step.attempts - 1 : step.attempts;
    return stopForCancel(def, saga, step, ran);
  }

  if (outcome.kind === 'succeeded') {
    const patch: StepPatch = {
      index: step.index,
      side: 'step',
      status: StepStatus.Completed,
      output: outcome.output,
      error: null,
      finished: true,
    };
    const events: EventDraft[] = [
      { type: SagaEventType.StepCompleted, step: step.name, attempt: step.attempts },
    ];
    const steps = withStep(saga.steps, { ...step, status: StepStatus.Completed, output: outcome.output });
    if (saga.cancelRequested) {
      return {
        ...compensateBelow(def, saga, steps, step.index + 1, CANCELLED_ERROR, events, true),
        step: patch,
      };
    }
    if (step.index + 1 < def.steps.length) {
      return {
        ...base(saga),
        status: SagaStatus.Running,
        phase: 'step',
        stepIndex: step.index + 1,
        delayMs: 0,
        step: patch,
        events,
      };
    }
    return {
      ...base(saga),
      status: SagaStatus.Completed,
      phase: 'step',
      stepIndex: step.index,
      delayMs: null,
      output: Object.fromEntries(steps.map((s) => [s.name, s.output ?? null])),
      step: patch,
      events: [...events, { type: SagaEventType.SagaCompleted }],
    };
  }

  const { error } = outcome;
  // A cancelled saga stops at the failure instead of waiting out a backoff to try again.
  if (error.retryable && step.attempts < stepDef.retry.attempts && !saga.cancelRequested) {
    const retryInMs = backoffDelay(stepDef.retry.backoff, step.attempts, random);
    return {
      ...base(saga),
      status: SagaStatus.Running,
      phase: 'step',
      stepIndex: step.index,
      delayMs: retryInMs,
      step: { index: step.index, side: 'step', status: StepStatus.Pending, error, finished: false },
      events: [
        {
          type: SagaEventType.StepFailed,
          step: step.name,
          attempt: step.attempts,
          data: { error, retryInMs },
        },
      ],
    };
  }
  const failedEvents: EventDraft[] = [
    { type: SagaEventType.StepFailed, step: step.name, attempt: step.attempts, data: { error } },
  ];
  const steps = withStep(saga.steps, { ...step, status: StepStatus.Failed });
  // Whatever the step did when it gave up, a saga that was cancelled stops because of the cancel.
  const cause = saga.cancelRequested ? CANCELLED_ERROR : error;
  return {
    ...compensateBelow(def, saga, steps, step.index + 1, cause, failedEvents, saga.cancelRequested),
    step: { index: step.index, side: 'step', status: StepStatus.Failed, error, finished: true },
  };
}

/**
 * Stops a cancelled saga at `step`, which will not run again. One rule wherever the cancel finds
 * it (between attempts, or claimed but not run): if an attempt of it ran, it finally failed, and is
 * compensated when it opted in (that attempt may have had an effect); if none ran, it never started.
 */
function stopForCancel(def: SagaDefinition, saga: SagaSnapshot, step: StepSnapshot, ran: number): Transition {
  const status = ran > 0 ? StepStatus.Failed : StepStatus.Pending;
  const steps = withStep(saga.steps, { ...step, status });
  const stopped = compensateBelow(def, saga, steps, step.index + 1, CANCELLED_ERROR, [], true);
  if (status === step.status) return stopped;
  // The error of its last failed attempt, if any, stays as it is.
  return {
    ...stopped,
    step: { index: step.index, side: 'step', status, finished: status === StepStatus.Failed },
  };
}

function decideCompensation(
  def: SagaDefinition,
  saga: SagaSnapshot,
  outcome: Outcome,
  random: () => number,
): Transition {
  const compensation = def.steps[saga.stepIndex].compensation!;
  const step = saga.steps[saga.stepIndex];
  const attempt = step.compensationAttempts;
  if (outcome.kind === 'cancelled') {
    // Compensations always run, so a "not run" outcome here is a bug; recording it as done would hide it.
    throw new Error(`saga ${saga.id}: compensation ${compensation.method} cannot be cancelled`);
  }

  if (outcome.kind === 'failed') {
    const { error } = outcome;
    if (error.retryable && attempt < compensation.retry.attempts) {
      const retryInMs = backoffDelay(compensation.retry.backoff, attempt, random);
      return {
        ...base(saga),
        status: SagaStatus.Compensating,
        phase: 'compensation',
        stepIndex: step.index,
        delayMs: retryInMs,
        step: compensationPatch(step, StepStatus.Compensating, CompensationStatus.Pending, error, false),
        events: [
          { type: SagaEventType.CompensationFailed, step: step.name, attempt, data: { error, retryInMs } },
        ],
      };
    }
    return {
      ...base(saga),
      status: SagaStatus.Failed,
      phase: 'compensation',
      stepIndex: step.index,
      delayMs: null,
      error,
      step: compensationPatch(step, StepStatus.CompensationFailed, CompensationStatus.Failed, error, true),
      events: [
        { type: SagaEventType.CompensationFailed, step: step.name, attempt, data: { error } },
        { type: SagaEventType.SagaFailed, data: { error } },
      ],
    };
  }

  const events: EventDraft[] = [{ type: SagaEventType.CompensationCompleted, step: step.name, attempt }];
  const steps = withStep(saga.steps, { ...step, status: StepStatus.Compensated });
  return {
    ...compensateBelow(def, saga, steps, step.index, undefined, events, saga.cancelRequested),
    step: compensationPatch(step, StepStatus.Compensated, CompensationStatus.Completed, null, true),
  };
}

/**
 * Schedules the compensation of the latest step before `below` that needs undoing, or ends the
 * saga `compensated` when none is left. Steps run one after another, so reverse index order is
 * exactly reverse completion order.
 */
function compensateBelow(
  def: SagaDefinition,
  saga: SagaSnapshot,
  steps: StepSnapshot[],
  below: number,
  cause: SagaError | undefined,
  events: EventDraft[],
  cancelSeen: boolean,
): Transition {
  const beginning = saga.phase === 'step';
  const next = steps
    .slice(0, below)
    .reverse()
    .find((s) => needsCompensation(def, s));
  const errorField = cause === undefined ? {} : { error: cause };
  if (!next) {
    return {
      ...base(saga),
      cancelSeen,
      status: SagaStatus.Compensated,
      phase: saga.phase,
      stepIndex: saga.stepIndex,
      delayMs: null,
      ...errorField,
      events: [...events, { type: SagaEventType.SagaCompensated }],
    };
  }
  return {
    ...base(saga),
    cancelSeen,
    status: SagaStatus.Compensating,
    phase: 'compensation',
    stepIndex: next.index,
    delayMs: 0,
    ...errorField,
    events: beginning ? [...events, { type: SagaEventType.SagaCompensating, data: { cause } }] : events,
  };
}

function needsCompensation(def: SagaDefinition, step: StepSnapshot): boolean {
  const stepDef = def.steps[step.index];
  if (!stepDef.compensation) return false;
  return (
    step.status === StepStatus.Completed || (step.status === StepStatus.Failed && stepDef.compensateOnFailure)
  );
}

function compensationPatch(
  step: StepSnapshot,
  status: StepStatus,
  compensationStatus: CompensationStatus,
  error: SagaError | null,
  finished: boolean,
): StepPatch {
  return { index: step.index, side: 'compensation', status, compensationStatus, error, finished };
}

function base(saga: SagaSnapshot): Pick<Transition, 'sagaId' | 'seq' | 'cancelSeen'> {
  return { sagaId: saga.id, seq: saga.seq, cancelSeen: saga.cancelRequested };
}

function withStep(steps: StepSnapshot[], step: StepSnapshot): StepSnapshot[] {
  return steps.map((s) => (s.index === step.index ? step : s));
}

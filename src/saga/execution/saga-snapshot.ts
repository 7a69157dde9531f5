import { CompensationStatus, StepStatus } from '../saga-status.js';
import type { SagaSnapshot, StartedAttempt, StepSnapshot, Transition } from './transition.interface.js';

/**
 * What the store's commit of `t` does to the saga it was decided on, in memory: the snapshot that
 * the unit `t` schedules runs with. A worker hands it to that unit's job, so that a unit claimed by
 * the commit needs no read of its own.
 */
export function applyTransition(saga: SagaSnapshot, t: Transition): SagaSnapshot {
  const steps = saga.steps.map((s) => {
    let next = s;
    if (t.step?.index === s.index) {
      const patch = t.step;
      next =
        patch.side === 'step'
          ? { ...next, status: patch.status, output: patch.output ?? null }
          : {
              ...next,
              status: patch.status,
              compensationStatus: patch.compensationStatus ?? next.compensationStatus,
              compensationAttempts: patch.resetAttempts ? 0 : next.compensationAttempts,
            };
    }
    return t.started?.index === s.index ? start(next, t.started) : next;
  });
  return {
    ...saga,
    seq: saga.seq + 1,
    status: t.status,
    phase: t.phase,
    stepIndex: t.stepIndex,
    running: t.started !== undefined,
    // The commit went through only with the flag as the transition saw it.
    cancelRequested: t.cancelSeen,
    steps,
  };
}

function start(step: StepSnapshot, started: StartedAttempt): StepSnapshot {
  return started.side === 'step'
    ? { ...step, status: StepStatus.Running, attempts: started.attempt }
    : {
        ...step,
        status: StepStatus.Compensating,
        compensationStatus: CompensationStatus.Running,
        compensationAttempts: started.attempt,
      };
}

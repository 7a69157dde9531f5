import type { SagaView, StepView } from '../store/saga-views.js';

/** The saga's status and steps on one line, for the kit's error messages. */
export function describeSaga(view: SagaView, dueInMs?: number | null): string {
  const due = dueInMs ? `; its next unit is due in ${(dueInMs / 1000).toFixed(1)} s` : '';
  return `saga ${view.id} (${view.name}) is ${view.status}: ${describeSteps(view)}${due}`;
}

/** Each step's status, attempts and last error, and its compensation's. */
export function describeSteps(view: SagaView): string {
  return (view.steps ?? []).map(describeStep).join('; ');
}

function describeStep(step: StepView): string {
  const details = [plural(step.attempts, 'attempt')];
  if (step.waitingFor) details.push(`waits for signal "${step.waitingFor}"`);
  else if (step.childId && step.status === 'waiting') details.push(`waits for child saga ${step.childId}`);
  if (step.error) details.push(`last error ${step.error.name}: ${step.error.message}`);
  const compensation = step.compensation;
  if (compensation) {
    details.push(`compensation ${compensation.status} after ${plural(compensation.attempts, 'attempt')}`);
    if (compensation.error)
      details.push(`its last error ${compensation.error.name}: ${compensation.error.message}`);
  }
  return `${step.name} ${step.status} (${details.join(', ')})`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

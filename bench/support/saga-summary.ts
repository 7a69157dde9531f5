import type { SagaView, StepView } from '../../src/saga/index.js';
import { distribution, type Distribution } from './percentiles.js';
import { renderTable } from './table.js';

export interface SagaRunSummary {
  byStatus: Record<string, number>;
  /** Attempts beyond the first, over every step of every saga. */
  retries: number;
  durationMs: Distribution;
  /** From the first saga created to the last one finished. */
  seconds: number;
  sagasPerSecond: number;
}

export function summarizeSagas(views: SagaView[]): SagaRunSummary {
  const byStatus: Record<string, number> = { completed: 0, compensated: 0, failed: 0 };
  let retries = 0;
  for (const view of views) {
    byStatus[view.status] = (byStatus[view.status] ?? 0) + 1;
    for (const step of view.steps ?? []) retries += Math.max(0, step.attempts - 1);
  }
  const finished = views.filter((v) => v.completedAt);
  const created = (v: SagaView) => Date.parse(v.createdAt);
  const completed = (v: SagaView) => Date.parse(v.completedAt!);
  const seconds =
    finished.length === 0
      ? NaN
      : (Math.max(...finished.map(completed)) - Math.min(...views.map(created))) / 1000;
  return {
    byStatus,
    retries,
    durationMs: distribution(finished.map((v) => completed(v) - created(v))),
    seconds,
    sagasPerSecond: finished.length / seconds,
  };
}

/** A saga's steps as a small table: what a newcomer should look at first. */
export function renderSagaSteps(view: SagaView): string {
  const steps = (view.steps ?? []) as StepOfAnyKind[];
  // Only sagas with parallel groups, waits or child sagas get the column that says how a step runs.
  const showRuns = steps.some((step) => step.group || step.kind !== 'task');
  return renderTable(
    ['step', ...(showRuns ? ['runs'] : []), 'status', 'attempts', 'compensation', 'error'],
    steps.map((step) => [
      step.name,
      ...(showRuns ? [howItRuns(step)] : []),
      step.status,
      step.attempts,
      step.compensation ? `${step.compensation.status}, ${attempts(step.compensation.attempts)}` : '',
      step.error ? `${step.error.name}: ${step.error.message}` : '',
    ]),
  )
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}

/** A step of any kind, with the view fields of wait and child steps (DESIGN.md). */
type StepOfAnyKind = Omit<StepView, 'kind'> & { kind: string; waitingFor?: string; childId?: string };

function howItRuns(step: StepOfAnyKind): string {
  if (step.group) return `in parallel (${step.group})`;
  if (step.kind === 'wait')
    return step.waitingFor ? `waits for signal ${step.waitingFor}` : 'waits for a signal';
  if (step.kind === 'child') return step.childId ? `child saga ${step.childId}` : 'child saga';
  return '';
}

function attempts(count: number): string {
  return count === 1 ? '1 attempt' : `${count} attempts`;
}

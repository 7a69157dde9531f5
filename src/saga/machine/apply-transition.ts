import { SagaStatus } from '../saga-status.js';
import type { SagaSnapshot, UnitSnapshot } from './saga-snapshot.js';
import type { Transition, UnitChange } from './transition.js';

/**
 * What the store's commit of `t` does to the saga it was decided on, in memory: the snapshot that
 * the units `t` starts run with. A worker hands it to their jobs, so that a unit claimed by the
 * commit needs no read of its own. The store's SQL is the other half of this rule, and a test
 * compares the two field by field.
 */
export function applyTransition(saga: SagaSnapshot, t: Transition): SagaSnapshot {
  const units = new Map(saga.units.map((u) => [u.key, u]));
  for (const change of t.units) units.set(change.key, applyChange(saga.seq, units.get(change.key), change));
  return { ...saga, seq: saga.seq + 1, status: t.status, units: [...units.values()] };
}

function applyChange(sagaSeq: number, unit: UnitSnapshot | undefined, change: UnitChange): UnitSnapshot {
  const attempts = change.resetAttempts ? 0 : (unit?.attempts ?? 0);
  const rescheduled = change.dueInMs !== undefined && change.dueInMs !== null;
  return {
    key: change.key,
    kind: change.kind,
    step: change.step,
    name: change.name,
    status: change.status,
    seq: (unit?.seq ?? 0) + (rescheduled ? 1 : 0),
    attempts: attempts + (change.start ? 1 : 0),
    scheduled: change.dueInMs === undefined ? (unit?.scheduled ?? false) : change.dueInMs !== null,
    output: change.output !== undefined ? change.output : (unit?.output ?? null),
    endedAt: change.ended ? sagaSeq : (unit?.endedAt ?? null),
    payload: change.payload !== undefined ? change.payload : (unit?.payload ?? null),
    child: change.childId
      ? { id: change.childId, status: SagaStatus.Pending, output: null }
      : (unit?.child ?? null),
  };
}

import type { LimitedQueues } from '../execution/limited-queues.js';
import { RECONCILE_GRACE_MS, type SagaReconciler } from '../execution/saga-reconciler.js';
import { unitJobId } from '../execution/saga-queue.js';
import { UnitKind, type SagaSnapshot, type UnitSnapshot } from '../machine/saga-snapshot.js';
import type { UnitBoundary, UnitBoundaryHook } from '../execution/unit-boundary-hook.js';
import type { ArmedCrash, CrashPoint, SagaUnit } from './crash-point.js';
import { InjectedCrashError } from './injected-crash.error.js';
import type { SagaClock } from './saga-clock.js';
import type { LineageStep, SagaTree } from './saga-tree.js';

const POLL_MS = 20;

interface Crash extends ArmedCrash {
  firedIn?: string;
  unit?: SagaUnit;
}

/** What recovery needs of the running engine, known once the application has started. */
export interface CrashRecoveryTools {
  queues: LimitedQueues;
  clock: SagaClock;
  reconciler: SagaReconciler;
  tree: SagaTree;
}

/**
 * The worker's boundary hook in the test kit. A crash throws out of the job, so the engine loses
 * what a process death at that point loses; then it hastens what would bring the unit back after a
 * real death, without doing the engine's work for it: the job failed by the crash is redelivered
 * by BullMQ's own retry (promoted instead of waiting out its backoff, as a stalled job is
 * redelivered once its lock expires), and a unit committed but never enqueued is left to the
 * reconciler (run at once instead of after its grace period).
 */
export class CrashInjector implements UnitBoundaryHook {
  private readonly armed: Crash[] = [];
  private readonly recoveries = new Map<string, Set<Promise<void>>>();
  private tools?: CrashRecoveryTools;
  private closed = false;

  attach(tools: CrashRecoveryTools): void {
    this.tools = tools;
  }

  arm(point: CrashPoint): ArmedCrash {
    const crash: Crash = {
      point: { ...point },
      disarm: () => {
        const index = this.armed.indexOf(crash);
        if (index >= 0) this.armed.splice(index, 1);
      },
    };
    this.armed.push(crash);
    return crash;
  }

  async reached(boundary: UnitBoundary, saga: SagaSnapshot, claimed: UnitSnapshot): Promise<void> {
    if (this.armed.length === 0) return;
    const unit = unitOf(claimed);
    const candidates = this.armed.filter((crash) => matches(crash.point, boundary, saga, unit));
    let lineage: LineageStep[] | undefined;
    for (const crash of candidates) {
      const { via, sagaId } = crash.point;
      if (via?.length) {
        // Where a saga sits in its family is in Postgres: read only for a crash that names it.
        lineage ??= await this.tools!.tree.lineage(saga.id);
        if (!leadsThrough(lineage, via, sagaId)) continue;
      } else if (sagaId !== undefined && sagaId !== saga.id) continue;
      const index = this.armed.indexOf(crash);
      // Fired meanwhile, in another unit that reached a boundary while the lineage was read.
      if (index < 0) continue;
      this.armed.splice(index, 1);
      crash.firedIn = saga.id;
      crash.unit = via?.length ? { ...unit, via: [...via], saga: saga.name } : unit;
      this.track(saga.id, this.recover(boundary, saga, claimed));
      throw new InjectedCrashError(saga.id, boundary, crash.unit);
    }
  }

  /** Waits until every unit that a crash took from the saga is back on its way. */
  async settled(sagaId: string): Promise<void> {
    for (let pending = this.recoveries.get(sagaId); pending?.size; pending = this.recoveries.get(sagaId)) {
      await Promise.all(pending);
    }
  }

  /** Stops every recovery in progress (each ends at its next poll). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.recoveries.values()].flatMap((pending) => [...pending]));
  }

  private track(sagaId: string, recovery: Promise<void>): void {
    const pending = this.recoveries.get(sagaId) ?? new Set();
    this.recoveries.set(sagaId, pending);
    const tracked: Promise<void> = recovery.finally(() => {
      pending.delete(tracked);
      if (pending.size === 0) this.recoveries.delete(sagaId);
    });
    pending.add(tracked);
  }

  private async recover(boundary: UnitBoundary, saga: SagaSnapshot, unit: UnitSnapshot): Promise<void> {
    const redelivery = this.redeliver(unitJobId(saga.id, unit.key, unit.seq));
    // The commit scheduled the units after this one (in its parent or child sagas too); the crash
    // kept them from Redis.
    const lost = boundary === 'afterCommit' ? this.reconcileLost(saga.id) : undefined;
    await Promise.all([redelivery, lost]);
  }

  /** Promotes the crashed job from BullMQ's retry backoff until it has been processed again. */
  private async redeliver(jobId: string): Promise<void> {
    await this.poll(async () => {
      const job = await this.tools!.queues.findJob(jobId);
      // Gone: processed again, and removed on completion.
      if (!job) return true;
      if (await job.isDelayed()) await job.promote().catch(() => undefined);
      return false;
    });
  }

  /** Runs the reconciler while units of the saga's family are due and missing from Redis, until none is. */
  private async reconcileLost(sagaId: string): Promise<void> {
    const { queues, clock, reconciler, tree } = this.tools!;
    const [top] = await tree.lineage(sagaId);
    const family = await tree.ids(top?.sagaId ?? sagaId);
    await this.poll(async () => {
      const due = (await Promise.all(family.map((id) => clock.scheduled(id, true)))).flat();
      const states = await Promise.all(due.map((u) => queues.jobState(unitJobId(u.sagaId, u.unit, u.seq))));
      const lost = due.filter((_, i) => states[i] === 'unknown');
      if (lost.length === 0) return true;
      // A unit due this recently may still be on its way to Redis, so the reconciler leaves it
      // alone for a grace period; these are known lost, so the kit skips that wait.
      for (const unit of lost) await clock.backdate(unit, RECONCILE_GRACE_MS);
      await reconciler.reconcile();
      return false;
    });
  }

  /** Calls `done` until it says so or the kit closes; errors (Redis or Postgres busy) are retried. */
  private async poll(done: () => Promise<boolean>): Promise<void> {
    while (!this.closed) {
      if (await done().catch(() => false)) return;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}

export function unitOf(unit: UnitSnapshot): SagaUnit {
  const phase = unit.kind === UnitKind.Compensation ? 'compensation' : 'step';
  return { step: unit.name, phase, attempt: unit.attempts };
}

/** What can be told without Postgres: everything but where the saga sits in its family. */
function matches(point: CrashPoint, boundary: UnitBoundary, saga: SagaSnapshot, unit: SagaUnit): boolean {
  return (
    point.boundary === boundary &&
    point.step === unit.step &&
    (point.phase ?? 'step') === unit.phase &&
    (point.attempt === undefined || point.attempt === unit.attempt) &&
    (point.saga === undefined || point.saga === saga.name) &&
    // A crash that names child steps fires only in a child saga.
    (!point.via?.length || saga.parent !== null)
  );
}

/** Whether the last child steps down to the saga are `via`, taken from the saga `from` if given. */
function leadsThrough(lineage: LineageStep[], via: string[], from: string | undefined): boolean {
  if (lineage.length < via.length) return false;
  const last = lineage.slice(lineage.length - via.length);
  return last.every((step, i) => step.step === via[i]) && (from === undefined || last[0].sagaId === from);
}

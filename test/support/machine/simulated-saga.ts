import type {
  SagaDefinition,
  StepDefinition,
} from '../../../src/saga/definition/saga-definition.interface.js';
import type { RetryPolicy } from '../../../src/saga/definition/retry-policy.js';
import { applyTransition } from '../../../src/saga/machine/apply-transition.js';
import { decide } from '../../../src/saga/machine/decide.js';
import { initialUnits, queuedUnits } from '../../../src/saga/machine/new-saga.js';
import type { EventDraft } from '../../../src/saga/machine/saga-events.js';
import {
  UnitKind,
  UnitStatus,
  type SagaSnapshot,
  type UnitSnapshot,
} from '../../../src/saga/machine/saga-snapshot.js';
import type { Outcome, SagaInput, Transition } from '../../../src/saga/machine/transition.js';
import { SagaStatus } from '../../../src/saga/saga-status.js';
import { z } from 'zod';

export function policy(attempts: number, backoff: Partial<RetryPolicy['backoff']> = {}): RetryPolicy {
  return { attempts, backoff: { type: 'exponential', delay: 100, maxDelay: 60_000, jitter: 0, ...backoff } };
}

export interface StepSpec {
  /** Has a compensation (with this policy, or a default one when `true`). */
  compensation?: boolean | RetryPolicy;
  compensateOnFailure?: boolean;
  retry?: RetryPolicy;
  group?: string;
  /** A wait step (for signal `sig<index>`, with a timeout) or a child step; a task by default. */
  kind?: 'task' | 'wait' | 'child';
  delayMs?: number;
}

export const STEP_RETRY = policy(3, { delay: 100 });
export const COMPENSATION_RETRY = policy(4, { type: 'fixed', delay: 700 });

/** A definition of steps s0, s1, ... (compensations undoS0, ...), stages from their groups. */
export function definition(
  specs: StepSpec[],
  options: Pick<Partial<SagaDefinition>, 'deadlineMs' | 'concurrencyKey'> = {},
): SagaDefinition {
  let stage = 0;
  const steps: StepDefinition[] = specs.map((spec, index) => {
    if (index > 0 && !(spec.group && spec.group === specs[index - 1].group)) stage++;
    return {
      name: `s${index}`,
      index,
      method: `s${index}`,
      retry: spec.retry ?? STEP_RETRY,
      timeoutMs: 1000,
      stage,
      kind: spec.kind ?? 'task',
      ...(spec.kind === 'wait'
        ? { signal: { name: `sig${index}`, schema: z.unknown(), timeoutMs: () => 1000 } }
        : {}),
      ...(spec.kind === 'child' ? { child: 'child' } : {}),
      ...(spec.group ? { group: spec.group } : {}),
      ...(spec.delayMs ? { delayMs: spec.delayMs } : {}),
      compensateOnFailure: spec.kind === 'child' ? false : (spec.compensateOnFailure ?? false),
      ...(spec.compensation && spec.kind !== 'child'
        ? {
            compensation: {
              method: `undoS${index}`,
              retry: spec.compensation === true ? COMPENSATION_RETRY : spec.compensation,
              timeoutMs: 1000,
            },
          }
        : {}),
    };
  });
  return {
    name: 'test',
    version: 1,
    input: z.unknown(),
    className: 'TestSaga',
    instance: {},
    steps,
    schedules: [],
    priority: 5,
    ...options,
  };
}

/**
 * A saga driven through the pure machine the way the engine drives it: the store's create, claim
 * and commit modelled in memory (the store's SQL is checked against the same model elsewhere).
 */
export class SimulatedSaga {
  saga: SagaSnapshot;
  readonly events: EventDraft[] = [];
  readonly transitions: Transition[] = [];

  constructor(
    readonly def: SagaDefinition,
    options: { deadline?: boolean; queued?: boolean } = {},
  ) {
    const initial = initialUnits(
      def,
      {},
      { startInMs: 0, deadlineInMs: options.deadline ? 1000 : undefined },
    );
    // A keyed saga that found its key held: queued behind it (see SagaStore.newSaga).
    const units = options.queued ? queuedUnits(initial, null) : initial;
    this.saga = {
      id: 'saga-1',
      name: def.name,
      version: def.version,
      status: SagaStatus.Pending,
      seq: 1,
      cancelRequested: false,
      priority: 5,
      input: {},
      parent: null,
      units: units.map((u) => ({
        key: u.key,
        kind: u.kind,
        step: u.step,
        name: u.name,
        status: u.status,
        seq: u.dueInMs === null ? 0 : 1,
        attempts: 0,
        scheduled: u.dueInMs !== null,
        output: null,
        endedAt: null,
        payload: null,
        child: null,
      })),
    };
  }

  unit(key: string): UnitSnapshot {
    return this.saga.units.find((u) => u.key === key)!;
  }

  /** Units with a job that a worker would claim: scheduled and pending (or claimed by a commit). */
  due(): UnitSnapshot[] {
    return this.saga.units.filter(
      (u) => u.scheduled && u.kind !== UnitKind.Control && u.status !== UnitStatus.Waiting,
    );
  }

  /** The store's claim: counts an attempt and marks the unit running; not for a stopped saga's steps. */
  claim(key: string): void {
    const unit = this.unit(key);
    if (unit.status === UnitStatus.Running) return; // claimed by the commit that scheduled it
    if (unit.kind === UnitKind.Step && this.saga.status === SagaStatus.Compensating) return;
    this.saga = {
      ...this.saga,
      seq: this.saga.seq + 1,
      status: this.saga.status === SagaStatus.Pending ? SagaStatus.Running : this.saga.status,
      units: this.saga.units.map((u) =>
        u.key === key ? { ...u, status: UnitStatus.Running, attempts: u.attempts + 1 } : u,
      ),
    };
  }

  /** A claimed unit's attempt ran and ended with `outcome`. */
  finish(key: string, outcome: Outcome, random = () => 0): Transition {
    return this.input({ kind: 'outcome', unit: key, outcome }, random);
  }

  /** What a worker does with a job whose saga stopped going forward before it ran the step: no run. */
  notRun(key: string): Transition {
    return this.finish(key, { kind: 'cancelled' });
  }

  cancel(): Transition {
    this.saga = { ...this.saga, cancelRequested: true };
    return this.input({ kind: 'cancel' });
  }

  /**
   * The saga's children as the simulation runs them: each starts running; a stop makes a running
   * one end compensated and a completed one compensate; `endChild` ends one.
   */
  readonly children = new Map<string, SagaStatus | 'stopping'>();

  /** Ends a child that is still going, as it would end; the parent's step that waits for it is woken. */
  endChild(id: string, succeed: boolean): Transition | undefined {
    const status = this.children.get(id)!;
    const ended =
      status === SagaStatus.Running
        ? succeed
          ? SagaStatus.Completed
          : SagaStatus.Compensated
        : status === 'stopping' || status === SagaStatus.Compensating
          ? succeed
            ? SagaStatus.Compensated
            : SagaStatus.Failed
          : undefined;
    if (!ended) return undefined;
    this.children.set(id, ended);
    this.saga = {
      ...this.saga,
      units: this.saga.units.map((u) =>
        u.child?.id === id ? { ...u, child: { ...u.child, status: ended, output: { child: id } } } : u,
      ),
    };
    // What the child's end wakes: the parent's unit that waits for it, if one does.
    const waiting = this.saga.units.find((u) => u.status === UnitStatus.Waiting && this.childOf(u) === id);
    return waiting ? this.input({ kind: 'due', unit: waiting.key }) : undefined;
  }

  /** The child a unit (a child step, or its compensation) is about. */
  private childOf(unit: UnitSnapshot): string | undefined {
    return this.saga.units.find((u) => u.kind === UnitKind.Step && u.step === unit.step)?.child?.id;
  }

  input(input: SagaInput, random = () => 0): Transition {
    const t = decide(this.def, this.saga, input, random);
    this.saga = applyTransition(this.saga, t);
    for (const child of t.children) this.children.set(child.id, SagaStatus.Running);
    for (const id of t.stopChildren) {
      const status = this.children.get(id);
      this.children.set(id, status === SagaStatus.Completed ? SagaStatus.Compensating : 'stopping');
    }
    // A parent's view of its children follows them (the store reads them with the parent).
    this.saga = {
      ...this.saga,
      units: this.saga.units.map((u) => {
        const status = u.child && this.children.get(u.child.id);
        return u.child && status && status !== 'stopping' ? { ...u, child: { ...u.child, status } } : u;
      }),
    };
    this.events.push(...t.events);
    this.transitions.push(t);
    return t;
  }

  get terminal(): boolean {
    return [SagaStatus.Completed, SagaStatus.Compensated, SagaStatus.Failed].includes(
      this.saga.status as 'completed',
    );
  }
}

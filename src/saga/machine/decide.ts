import { backoffDelay } from '../definition/retry-policy.js';
import type { SagaDefinition, StepDefinition } from '../definition/saga-definition.interface.js';
import { ChildSagaFailedError } from '../errors/child-saga-failed.error.js';
import { DeadlineExceededError } from '../errors/deadline-exceeded.error.js';
import { SagaCancelledError } from '../errors/saga-cancelled.error.js';
import { toSagaError, type SagaError } from '../errors/saga-error.js';
import { SignalTimeoutError } from '../errors/signal-timeout.error.js';
import { ACTIVE_SAGA_STATUSES, SagaStatus, TERMINAL_SAGA_STATUSES } from '../saga-status.js';
import { SagaEventType, type EventDraft } from './saga-events.js';
import { unitToRetry } from './operator-actions.js';
import {
  unitAtCreation,
  UnitKind,
  unitKey,
  UnitStatus,
  type SagaSnapshot,
  type UnitSnapshot,
} from './saga-snapshot.js';
import type { NewChild, Outcome, SagaInput, Transition, UnitChange } from './transition.js';

export const CANCELLED_ERROR: SagaError = toSagaError(new SagaCancelledError());
export const DEADLINE_ERROR: SagaError = toSagaError(new DeadlineExceededError());

/**
 * The saga state machine: the one transition that follows an input (an attempt's outcome, a due
 * time, a signal, an operator's action) in the saga as `saga` shows it. Pure, so that every path
 * is tested without I/O; the store commits what it returns, and the dispatcher enqueues the units
 * it schedules.
 */
export function decide(
  def: SagaDefinition,
  saga: SagaSnapshot,
  input: SagaInput,
  random: () => number = Math.random,
): Transition {
  const next = new NextTransition(def, saga, random);
  switch (input.kind) {
    case 'outcome':
      next.record(next.unit(input.unit), input.outcome);
      break;
    case 'due':
      next.due(next.unit(input.unit));
      break;
    case 'signal':
      next.deliver(input.name, input.payload);
      break;
    case 'cancel':
      break;
    case 'retry':
      next.retryDeadLetter();
      break;
    case 'retryStep':
      next.retryStep(input.step);
      break;
    case 'skipStep':
      next.skipStep(input.step, input.output, input.reason);
      break;
  }
  // A cancel asked for meanwhile stops the saga, whatever else happened.
  if (saga.cancelRequested && next.forward) next.stop(CANCELLED_ERROR);
  next.proceed();
  return next.transition();
}

/** A forward unit the saga has gone past: it completed, or an operator skipped it. */
function done(unit: UnitSnapshot): boolean {
  return unit.status === UnitStatus.Completed || unit.status === UnitStatus.Skipped;
}

/** The transition being built, over a working copy of the saga that each change updates. */
class NextTransition {
  private status: SagaStatus;
  private readonly units: Map<string, UnitSnapshot>;
  private readonly changes = new Map<string, UnitChange>();
  private readonly events: EventDraft[] = [];
  private readonly children: NewChild[] = [];
  private readonly stopChildren: string[] = [];
  private output?: unknown;
  private error?: SagaError | null;
  private cause?: SagaError;
  private abortRunning = false;

  constructor(
    private readonly def: SagaDefinition,
    private readonly saga: SagaSnapshot,
    private readonly random: () => number,
  ) {
    this.status = saga.status;
    this.units = new Map(saga.units.map((u) => [u.key, u]));
  }

  get forward(): boolean {
    return this.status === SagaStatus.Pending || this.status === SagaStatus.Running;
  }

  unit(key: string): UnitSnapshot {
    const unit = this.units.get(key);
    if (!unit) throw new Error(`saga ${this.saga.id} has no unit ${key}`);
    return unit;
  }

  change(unit: UnitSnapshot, patch: Omit<Partial<UnitChange>, 'key' | 'kind' | 'step' | 'name'>): void {
    const previous = this.changes.get(unit.key);
    this.changes.set(unit.key, {
      ...previous,
      key: unit.key,
      kind: unit.kind,
      step: unit.step,
      name: unit.name,
      ...(this.saga.units.some((u) => u.key === unit.key) ? {} : { create: true }),
      status: unit.status,
      ...patch,
    });
    this.units.set(unit.key, {
      ...unit,
      status: patch.status ?? unit.status,
      output: patch.output !== undefined ? patch.output : unit.output,
      scheduled: patch.dueInMs === undefined ? unit.scheduled : patch.dueInMs !== null,
      attempts: patch.resetAttempts ? 0 : unit.attempts,
      endedAt: patch.ended ? this.saga.seq : unit.endedAt,
      payload: patch.payload !== undefined ? patch.payload : unit.payload,
    });
  }

  /** Records the outcome of the attempt of `unit` that was running. */
  record(unit: UnitSnapshot, outcome: Outcome): void {
    if (unit.kind === UnitKind.Compensation) return this.recordCompensation(unit, outcome);
    const step = this.stepOf(unit);
    if (outcome.kind === 'cancelled') {
      // Claimed with the previous transition but never run: that claim is not an attempt that ran.
      return this.halt(unit, unit.status === UnitStatus.Running ? unit.attempts - 1 : unit.attempts);
    }
    if (outcome.kind === 'spawned') {
      // Stopped while the handler worked out the child's input: the child is never started.
      if (!this.forward) return this.halt(unit, 0);
      this.children.push(outcome.child);
      this.event(SagaEventType.ChildStarted, step, unit.attempts, { childId: outcome.child.id });
      return this.change(unit, { status: UnitStatus.Waiting, childId: outcome.child.id, dueInMs: null });
    }
    if (outcome.kind === 'succeeded') return this.complete(unit, step, outcome.output);
    const { error } = outcome;
    // A saga that stopped going forward does not wait out a backoff to try again.
    if (
      error.retryable &&
      unit.attempts < step.retry.attempts &&
      this.forward &&
      !this.saga.cancelRequested
    ) {
      const retryInMs = backoffDelay(step.retry.backoff, unit.attempts, this.random);
      this.event(SagaEventType.StepFailed, step, unit.attempts, { error, retryInMs });
      return this.change(unit, { status: UnitStatus.Pending, error, dueInMs: retryInMs });
    }
    this.fail(unit, step, error);
  }

  private complete(unit: UnitSnapshot, step: StepDefinition, output: unknown): void {
    this.event(SagaEventType.StepCompleted, step, unit.attempts);
    this.change(unit, { status: UnitStatus.Completed, output, error: null, ended: true, dueInMs: null });
  }

  /** The step finally failed; the saga stops because of it (or of the cancel it was already under). */
  private fail(unit: UnitSnapshot, step: StepDefinition, error: SagaError): void {
    this.event(SagaEventType.StepFailed, step, unit.attempts, { error });
    this.change(unit, { status: UnitStatus.Failed, error, ended: true, dueInMs: null });
    if (this.forward) this.stop(this.saga.cancelRequested ? CANCELLED_ERROR : error);
  }

  private recordCompensation(unit: UnitSnapshot, outcome: Outcome): void {
    const step = this.stepOf(unit);
    const compensation = step.compensation!;
    if (outcome.kind === 'cancelled' || outcome.kind === 'spawned') {
      // Compensations always run, so a "not run" outcome here is a bug; recording it as done would hide it.
      throw new Error(`saga ${this.saga.id}: compensation ${compensation.method} cannot be ${outcome.kind}`);
    }
    if (outcome.kind === 'succeeded') return this.compensated(unit, step);
    const { error } = outcome;
    if (error.retryable && unit.attempts < compensation.retry.attempts) {
      const retryInMs = backoffDelay(compensation.retry.backoff, unit.attempts, this.random);
      this.event(SagaEventType.CompensationFailed, step, unit.attempts, { error, retryInMs });
      return this.change(unit, { status: UnitStatus.Pending, error, dueInMs: retryInMs });
    }
    this.compensationFailed(unit, step, error);
  }

  private compensated(unit: UnitSnapshot, step: StepDefinition): void {
    this.event(SagaEventType.CompensationCompleted, step, unit.attempts);
    this.change(unit, { status: UnitStatus.Completed, error: null, ended: true, dueInMs: null });
  }

  /** A compensation exhausted its retries: the saga is a dead letter. */
  private compensationFailed(unit: UnitSnapshot, step: StepDefinition, error: SagaError): void {
    this.event(SagaEventType.CompensationFailed, step, unit.attempts, { error });
    this.change(unit, { status: UnitStatus.Failed, error, ended: true, dueInMs: null });
    this.finish(SagaStatus.Failed, { error });
    this.events.push({ type: SagaEventType.SagaFailed, data: { error } });
  }

  /** The time of a waiting unit came, or the child it waits for ended (the unit's job says when, not why). */
  due(unit: UnitSnapshot): void {
    if (unit.kind === UnitKind.Control) return this.controlDue(unit);
    // The saga holds its concurrency key (the worker took it, or was handed it, before deciding).
    if (unit.kind === UnitKind.Admission)
      return this.change(unit, { status: UnitStatus.Completed, dueInMs: null });
    if (unit.status !== UnitStatus.Waiting) return;
    const step = this.stepOf(unit);
    if (step.kind === 'wait') {
      const timeoutMs = step.signal!.timeoutMs(this.saga.input) ?? 0;
      return this.fail(unit, step, toSagaError(new SignalTimeoutError(step.signal!.name, timeoutMs)));
    }
    // The step's child, which its forward unit started (and its compensation unit asked to compensate).
    const child = this.stepUnit(step).child;
    if (!child || ACTIVE_SAGA_STATUSES.includes(child.status)) return;
    const { id, status, output } = child;
    if (unit.kind === UnitKind.Step) {
      if (status === SagaStatus.Completed) return this.complete(unit, step, output);
      return this.fail(unit, step, toSagaError(new ChildSagaFailedError(id, status)));
    }
    if (status === SagaStatus.Compensated) return this.compensated(unit, step);
    this.compensationFailed(unit, step, toSagaError(new ChildSagaFailedError(id, status)));
  }

  /**
   * The saga's own unit: its deadline passed, or its parent asks it to stop (a completed child its
   * parent undoes was set compensating by that request, and goes on in `proceed`).
   */
  private controlDue(unit: UnitSnapshot): void {
    this.change(unit, { status: UnitStatus.Completed, dueInMs: null });
    if (this.forward) this.stop(this.saga.cancelRequested ? CANCELLED_ERROR : DEADLINE_ERROR);
  }

  /** A signal was delivered: the wait step for it takes it now, or when it is reached. */
  deliver(name: string, payload: unknown): void {
    const step = this.def.steps.find((s) => s.signal?.name === name)!;
    const unit = this.stepUnit(step);
    const taken = this.forward && unit.payload === null && !done(unit) && unit.status !== UnitStatus.Failed;
    this.events.push({ type: SagaEventType.SignalReceived, step: step.name, data: { signal: name, taken } });
    if (!taken) return;
    this.change(unit, { payload });
    if (unit.status === UnitStatus.Waiting && this.forward) this.startAttempt(this.unit(unit.key));
  }

  /**
   * Stops going forward: running attempts are asked to abort and their outcomes awaited, running
   * child sagas are asked to stop and their ends awaited, units that will not run again are halted,
   * and once nothing runs forward the completed steps are compensated (in `proceed`).
   */
  stop(cause: SagaError): void {
    this.status = SagaStatus.Compensating;
    this.error = cause;
    this.cause = cause;
    for (const unit of this.units.values()) {
      if (unit.kind === UnitKind.Control && unit.scheduled) this.change(unit, { dueInMs: null });
      if (unit.kind !== UnitKind.Step) continue;
      if (unit.status === UnitStatus.Running) this.abortRunning = true;
      else if (unit.status === UnitStatus.Waiting && unit.child) this.stopChildren.push(unit.child.id);
      else if (unit.status === UnitStatus.Waiting || (unit.status === UnitStatus.Pending && unit.scheduled))
        this.halt(unit, unit.attempts);
    }
  }

  /**
   * A forward unit that will not run again. One rule wherever a stop finds it (between attempts,
   * or claimed but not run, or waiting for a signal): if an attempt of it ran, it finally failed,
   * and is compensated when it opted in (that attempt may have had an effect); if none ran, it
   * never started.
   */
  private halt(unit: UnitSnapshot, ran: number): void {
    if (ran > 0) this.change(unit, { status: UnitStatus.Failed, ended: true, dueInMs: null });
    else this.change(unit, { status: UnitStatus.Pending, dueInMs: null });
  }

  retryDeadLetter(): void {
    const unit = [...this.units.values()].find(
      (u) => u.kind === UnitKind.Compensation && u.status === UnitStatus.Failed,
    )!;
    this.events.push({ type: SagaEventType.SagaRetried, step: this.stepOf(unit).name });
    this.resumeDeadLetter(unit);
  }

  /** The dead letter's failed compensation runs again, with a fresh attempt budget. */
  private resumeDeadLetter(unit: UnitSnapshot): void {
    this.status = SagaStatus.Compensating;
    this.change(unit, { error: null, resetAttempts: true });
    this.startAttempt(this.unit(unit.key));
  }

  /** An operator's retry of one step: the unit `unitToRetry` names runs now (the caller checked there is one). */
  retryStep(step: number): void {
    const unit = this.unit(unitToRetry(this.saga, step)!.key);
    this.event(SagaEventType.StepRetried, this.stepOf(unit), unit.attempts, { unit: unit.kind });
    if (unit.status === UnitStatus.Failed) return this.resumeDeadLetter(unit);
    this.startAttempt(unit);
  }

  /**
   * An operator completes a step in place of running it (the caller checked `skipRefusal`). It is
   * never compensated: the operator vouches for its effects. A child saga it waits for is stopped,
   * as its result is no longer wanted.
   */
  skipStep(step: number, output: unknown, reason: string | undefined): void {
    const unit = this.unit(unitKey.step(step));
    if (unit.status === UnitStatus.Waiting && unit.child) this.stopChildren.push(unit.child.id);
    this.event(SagaEventType.StepSkipped, this.stepOf(unit), unit.attempts, reason ? { reason } : undefined);
    this.change(unit, { status: UnitStatus.Skipped, output, error: null, ended: true, dueInMs: null });
  }

  /** Schedules what comes next in the saga as the changes so far leave it, or ends it. */
  proceed(): void {
    if (this.forward) return this.proceedForward();
    if (this.status !== SagaStatus.Compensating) return;
    const busy = [...this.units.values()].some(
      (u) =>
        (u.kind === UnitKind.Step &&
          (u.status === UnitStatus.Running || (u.status === UnitStatus.Waiting && u.child))) ||
        (u.kind === UnitKind.Compensation &&
          (u.status === UnitStatus.Running || u.status === UnitStatus.Waiting || u.scheduled)),
    );
    const next = busy ? undefined : this.nextToCompensate();
    if (!busy && !next) {
      this.finish(SagaStatus.Compensated, {});
      this.events.push({ type: SagaEventType.SagaCompensated });
      return;
    }
    if (this.cause) this.events.push({ type: SagaEventType.SagaCompensating, data: { cause: this.cause } });
    this.cause = undefined;
    if (next) this.startAttempt(this.compensationUnit(next));
  }

  private proceedForward(): void {
    // Queued behind its concurrency key: nothing goes forward until it holds the key.
    if (this.units.get(unitKey.admission)?.status === UnitStatus.Waiting) return;
    const steps = this.def.steps;
    const current = steps.find((s) => !done(this.stepUnit(s)));
    if (!current) {
      this.finish(SagaStatus.Completed, {
        output: Object.fromEntries(steps.map((s) => [s.name, this.stepUnit(s).output ?? null])),
      });
      this.events.push({ type: SagaEventType.SagaCompleted });
      return;
    }
    for (const step of steps.filter((s) => s.stage === current.stage)) {
      const unit = this.stepUnit(step);
      if (unit.status !== UnitStatus.Pending || unit.scheduled) continue;
      if (step.kind === 'wait' && unit.payload === null) this.wait(unit, step);
      // Reached for the first time: a step with a delay is due that long after its stage was.
      else if (step.delayMs && unit.attempts === 0) this.change(unit, { dueInMs: step.delayMs });
      else this.startAttempt(unit);
    }
  }

  /** A wait step reached before its signal: it waits for it, until its timeout if it has one. */
  private wait(unit: UnitSnapshot, step: StepDefinition): void {
    const timeoutMs = step.signal!.timeoutMs(this.saga.input);
    this.event(SagaEventType.StepWaiting, step, unit.attempts, {
      signal: step.signal!.name,
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
    });
    this.change(unit, { status: UnitStatus.Waiting, dueInMs: timeoutMs ?? null });
  }

  /** The latest step to have ended, among those with something to undo and not undone yet. */
  private nextToCompensate(): StepDefinition | undefined {
    return (
      this.def.steps
        .filter((step) => {
          const unit = this.stepUnit(step);
          const undo = this.units.get(unitKey.compensation(step.index));
          const undoable =
            unit.status === UnitStatus.Completed ||
            (unit.status === UnitStatus.Failed && step.compensateOnFailure);
          return (
            (step.compensation || step.kind === 'child') && undoable && undo?.status !== UnitStatus.Completed
          );
        })
        // Units halted by one transition ended together: the later step first, as in declaration order.
        .sort((a, b) => this.stepUnit(b).endedAt! - this.stepUnit(a).endedAt! || b.index - a.index)[0]
    );
  }

  /**
   * A unit due at once is claimed by the commit that schedules it (see UnitChange.start), unless its
   * handler is limited. The compensation of a child step runs no handler: it asks the child saga to
   * compensate, and waits.
   */
  private startAttempt(unit: UnitSnapshot): void {
    const step = this.stepOf(unit);
    if (unit.kind === UnitKind.Compensation && step.kind === 'child') {
      this.event(SagaEventType.CompensationStarted, step, unit.attempts + 1);
      this.change(unit, { status: UnitStatus.Waiting, dueInMs: null, start: true });
      const child = this.stepUnit(step).child!;
      // An operator's retry may find the child ended already: compensated (retried before this
      // saga), or a dead letter itself, which must be retried first.
      if (child.status === SagaStatus.Compensated) return this.compensated(this.unit(unit.key), step);
      if (child.status === SagaStatus.Failed) {
        const error = toSagaError(new ChildSagaFailedError(child.id, child.status));
        return this.compensationFailed(this.unit(unit.key), step, error);
      }
      this.stopChildren.push(child.id);
      return;
    }
    const handler = unit.kind === UnitKind.Step ? step : step.compensation!;
    // A limited handler's attempt starts when its limit lets a worker claim it, not with this commit:
    // until then it is pending, and neither its start nor its running time counts against the limit.
    if (handler.limits) return this.change(unit, { status: UnitStatus.Pending, dueInMs: 0 });
    const type = unit.kind === UnitKind.Step ? SagaEventType.StepStarted : SagaEventType.CompensationStarted;
    this.event(type, step, unit.attempts + 1);
    this.change(unit, { status: UnitStatus.Running, dueInMs: 0, start: true });
    // A saga whose first step waited for a signal starts with the attempt that signal starts.
    if (this.status === SagaStatus.Pending) this.status = SagaStatus.Running;
  }

  /** Ends the saga: nothing is due for it any more, and a parent waiting for it is told. */
  private finish(status: SagaStatus, fields: { output?: unknown; error?: SagaError }): void {
    this.status = status;
    if ('output' in fields) this.output = fields.output;
    if (fields.error) this.error = fields.error;
    for (const unit of this.units.values()) if (unit.scheduled) this.change(unit, { dueInMs: null });
  }

  private stepOf(unit: UnitSnapshot): StepDefinition {
    return this.def.steps[unit.step!];
  }

  private stepUnit(step: StepDefinition): UnitSnapshot {
    return this.unit(unitKey.step(step.index));
  }

  /** The compensation unit of `step`, as it is or (before its first attempt) as it starts. */
  private compensationUnit(step: StepDefinition): UnitSnapshot {
    const key = unitKey.compensation(step.index);
    return (
      this.units.get(key) ??
      unitAtCreation({
        key,
        kind: UnitKind.Compensation,
        step: step.index,
        name: step.name,
        status: UnitStatus.Pending,
        scheduled: false,
      })
    );
  }

  private event(
    type: SagaEventType,
    step: StepDefinition,
    attempt: number,
    data?: Record<string, unknown>,
  ): void {
    this.events.push({
      type,
      step: step.name,
      ...(attempt > 0 ? { attempt } : {}),
      ...(data ? { data } : {}),
    });
  }

  transition(): Transition {
    const ended = TERMINAL_SAGA_STATUSES.includes(this.status) && this.status !== this.saga.status;
    const transition: Transition = {
      sagaId: this.saga.id,
      seq: this.saga.seq,
      status: this.status,
      units: [...this.changes.values()],
      events: this.events,
      abortRunning: this.abortRunning,
      children: this.children,
      stopChildren: this.stopChildren,
      wakeParent: ended ? this.saga.parent : null,
    };
    // Set only when there is one, field by field (conditional spreads cost more on every step).
    if (this.output !== undefined) transition.output = this.output;
    if (this.error !== undefined) transition.error = this.error;
    if (ended && this.def.concurrencyKey)
      transition.releaseKey = { saga: this.def.name, key: this.def.concurrencyKey(this.saga.input) };
    return transition;
  }
}

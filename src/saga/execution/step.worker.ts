import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { Worker, type Job, type WorkerOptions } from 'bullmq';
import type { SagaDefinition, StepDefinition } from '../definition/saga-definition.interface.js';
import { InvalidInputError } from '../errors/invalid-input.error.js';
import { toSagaError } from '../errors/saga-error.js';
import { SagaRegistry } from '../definition/saga-registry.js';
import { AttemptsExhaustedError } from '../errors/attempts-exhausted.error.js';
import { RedisConnections } from '../redis/redis-connections.js';
import { WorkerShutdownError } from '../errors/worker-shutdown.error.js';
import { SagaEventLog } from '../observability/saga-event-log.js';
import { SagaMetrics } from '../observability/saga-metrics.js';
import { SagaTracing } from '../observability/saga-tracing.js';
import { SAGA_MODULE_OPTIONS, type ResolvedSagaModuleOptions } from '../saga-module-options.js';
import { SagaStore, type DueUnit } from '../store/saga.store.js';
import { patiently, within } from './patiently.js';
import { SagaDispatcher } from './saga-dispatcher.js';
import { SagaVersionGate } from './saga-version-gate.js';
import { RECONCILE_GRACE_MS } from './saga-reconciler.js';
import { SAGA_QUEUE, unpackSnapshot, type UnitJobData } from './saga-queue.js';
import { evenRateLimiter } from './even-rate-limiter.js';
import { LimitedQueues } from './limited-queues.js';
import { decide } from '../machine/decide.js';
import { UnitKind, UnitStatus, type SagaSnapshot, type UnitSnapshot } from '../machine/saga-snapshot.js';
import type { Outcome, SagaInput, Transition } from '../machine/transition.js';
import { SagaStatus } from '../saga-status.js';
import { CancellationBus } from './cancellation-bus.js';
import { StepInvoker } from './step-invoker.js';
import { SagaStreamBus } from '../streams/saga-stream-bus.js';
import { UNIT_BOUNDARY_HOOK, type UnitBoundaryHook } from './unit-boundary-hook.js';

/** How long a worker keeps recording an outcome while Postgres is unreachable before it lets BullMQ retry the job. */
const OUTAGE_PATIENCE_MS = 60_000;

/**
 * Runs one unit of work per job: claim it in Postgres, call the handler, commit the transition
 * that follows, enqueue the next unit. Throws only for infrastructure failures, which BullMQ
 * retries without spending an attempt of the step. The BullMQ workers (one for the shared queue, one
 * for each limited handler's queue) are created here rather than with `@Processor` because their
 * concurrency and lock duration come from the module options and the saga definitions.
 */
@Injectable()
export class StepWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('StepWorker');
  private workers: Worker<UnitJobData>[] = [];

  constructor(
    private readonly store: SagaStore,
    private readonly registry: SagaRegistry,
    private readonly invoker: StepInvoker,
    private readonly dispatcher: SagaDispatcher,
    private readonly metrics: SagaMetrics,
    private readonly eventLog: SagaEventLog,
    private readonly cancellations: CancellationBus,
    private readonly versions: SagaVersionGate,
    private readonly queues: LimitedQueues,
    private readonly redis: RedisConnections,
    private readonly streams: SagaStreamBus,
    private readonly tracing: SagaTracing,
    @Inject(SAGA_MODULE_OPTIONS) private readonly options: ResolvedSagaModuleOptions,
    @Optional() @Inject(UNIT_BOUNDARY_HOOK) private readonly boundaries?: UnitBoundaryHook,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.options.role === 'api') return;
    // Before its workers take anything, or a fresh Redis lets them run more than the concurrency.
    await within(this.queues.applyLimits(), 2000, 'setting the concurrency of limited handlers').catch(
      (error: Error) => this.logger.warn(`${error.message}: left to the reconciler`),
    );
    this.workers = [
      this.startWorker(SAGA_QUEUE, { concurrency: this.options.concurrency }),
      // Each limited handler's queue has a worker of its own in every process, so that its units
      // wait on its limit without holding any of the shared queue's concurrency.
      ...this.queues.all().map(({ name, limits }) =>
        this.startWorker(name, {
          concurrency: Math.min(limits.concurrency ?? Infinity, this.options.concurrency),
          ...(limits.rateLimit ? { limiter: evenRateLimiter(limits.rateLimit) } : {}),
        }),
      ),
    ];
  }

  private startWorker(
    queue: string,
    options: Pick<WorkerOptions, 'concurrency' | 'limiter'>,
  ): Worker<UnitJobData> {
    const worker = new Worker<UnitJobData>(queue, (job, token) => this.process(job, token), {
      ...this.redis.bullOptions(),
      ...options,
      lockDuration: this.options.lockDurationMs,
      // A killed worker's jobs are found by the others' stalled checks, so check as often as locks expire.
      stalledInterval: this.options.lockDurationMs,
      maxStalledCount: 5,
    });
    worker.on('error', (error) => this.logger.warn(`BullMQ worker: ${error.message}`));
    worker.on('failed', (job, error) =>
      this.logger.warn(`unit ${job?.id} not processed, BullMQ will retry it: ${error.message}`),
    );
    return worker;
  }

  /**
   * Stops taking jobs, lets in-flight attempts finish within the grace period, then aborts and
   * releases them; and lets the units their transitions scheduled reach Redis.
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.workers.length === 0) return;
    await this.closeWorkers();
    await this.dispatcher.drain();
  }

  private async closeWorkers(): Promise<void> {
    const closing = Promise.all(this.workers.map((worker) => worker.close()));
    try {
      await within(closing, this.options.shutdownGraceMs, 'finishing in-flight attempts');
    } catch {
      this.logger.warn(
        `grace period of ${this.options.shutdownGraceMs} ms over: aborting in-flight attempts`,
      );
      this.invoker.expireAll(new WorkerShutdownError());
      // Force-closing leaves the jobs' locks to expire, so other workers take them over.
      await within(closing, 5000, 'recording aborted attempts').catch(() =>
        within(
          Promise.all(this.workers.map((worker) => worker.close(true))),
          5000,
          'force-closing the workers',
        ).catch(() => undefined),
      );
    }
  }

  async process(job: Job<UnitJobData>, token?: string): Promise<void> {
    // A job of an older layout (before units had keys) points at nothing that is still due.
    if (job.data.unit === undefined) return;
    // A unit of a saga version this process lacks is left to a process that has it (DelayedError).
    const admitted = this.versions.admit(job, token);
    if (admitted !== true && !(await admitted)) return;
    // A limited handler's unit found on the shared queue (enqueued by a process that lacks its saga's
    // version, or before its handler was limited) moves to its handler's queue, to wait on the limit.
    const limited = job.queueName === SAGA_QUEUE ? this.queues.limitedQueueOf(job.data) : undefined;
    if (limited) return this.dispatcher.requeue(limited.queue, job);
    const saga = await this.unitToRun(job);
    // Already recorded (a duplicate or stale delivery): acknowledge without calling the handler.
    if (!saga) return;
    // The definition the saga started on: its name and version never change, and the gate saw them.
    const def = this.registry.findVersion(saga.name, saga.version)!;
    const unit = saga.units.find((u) => u.key === job.data.unit)!;
    // A waiting unit's job runs no attempt: its time came, or its child saga ended, or (an admission)
    // its saga may take its concurrency key, and goes forward if it holds it.
    if (job.data.due) {
      if (unit.kind === UnitKind.Admission && !(await this.store.admit(saga.id, unit.seq))) return;
      return this.record(def, saga, { kind: 'due', unit: unit.key });
    }
    // Nothing was claimed for it (recorded meanwhile by another delivery): nothing to run.
    if (unit.status !== UnitStatus.Running) return;

    if (this.boundaries) await this.boundaries.reached('beforeHandler', saga, unit);
    const started = performance.now();
    const outcome = await this.tracing.attempt(saga, unit, () =>
      this.run(def, saga, unit, surelyNotRunBefore(job)),
    );
    this.metrics.recordAttempt(saga, unit, outcome, (performance.now() - started) / 1000);
    if (this.boundaries) await this.boundaries.reached('afterHandler', saga, unit);
    await this.record(def, saga, { kind: 'outcome', unit: unit.key, outcome });
  }

  /**
   * The snapshot to run the job's unit with, with its attempt counted; nothing if the unit was
   * recorded already or the saga is terminal. The first delivery of a unit claimed by the commit
   * that scheduled it runs that attempt, with the snapshot the job carries when it can trust it; any
   * later delivery (its worker died, or could not record) claims a new attempt; deliveries that left
   * the job to another process (SagaVersionGate) ran nothing and do not count. A waiting unit has
   * no attempt to claim.
   */
  private unitToRun(job: Job<UnitJobData>): Promise<SagaSnapshot | undefined> | SagaSnapshot {
    const { sagaId, unit, seq, claimed, snapshot, committedAt, due, left = 0 } = job.data;
    if (due) return this.store.current(sagaId, unit, seq);
    const known = snapshot && unpackSnapshot(snapshot);
    if (!claimed || job.attemptsStarted - left > 1) return this.claim(sagaId, unit, seq, known);
    // A job enqueued long after its commit may have lost a race with the reconciler, which enqueues
    // the same unit once it is overdue: that job may have run and been recorded already. A cancel
    // since the commit is not in the snapshot either, nor anything since, once the job was left.
    const fresh = committedAt !== undefined && job.timestamp - committedAt < RECONCILE_GRACE_MS / 2;
    if (known && fresh && !left && !this.invoker.cancelSignalled(sagaId)) return known;
    return this.store.current(sagaId, unit, seq);
  }

  /** A claim records the attempt's start: an event that the saga's open streams want. */
  private async claim(
    sagaId: string,
    unit: string,
    seq: number,
    known: SagaSnapshot | undefined,
  ): Promise<SagaSnapshot | undefined> {
    const saga = await this.store.claim(sagaId, unit, seq, known);
    if (saga) this.streams.committed(sagaId);
    return saga;
  }

  private async run(
    def: SagaDefinition,
    saga: SagaSnapshot,
    unit: UnitSnapshot,
    notRunBefore: boolean,
  ): Promise<Outcome> {
    // The saga stopped going forward after this step's job was scheduled: if no handler ran for this
    // attempt yet, it does not run. If one may have (its worker died before recording it), it runs
    // again to learn its outcome (handlers are idempotent): one that completed is undone like any
    // other, instead of being taken for a step that never started.
    if (unit.kind === UnitKind.Step && saga.status === SagaStatus.Compensating && notRunBefore) {
      return { kind: 'cancelled' };
    }
    const step = def.steps[unit.step!];
    const budget = unit.kind === UnitKind.Step ? step.retry.attempts : step.compensation!.retry.attempts;
    // Earlier attempts were claimed by workers that died before recording them: the budget is spent.
    if (unit.attempts > budget) return { kind: 'failed', error: toSagaError(new AttemptsExhaustedError()) };
    const outcome = await this.invoker.invoke(def, saga, unit);
    if (step.kind !== 'child' || unit.kind !== UnitKind.Step || outcome.kind !== 'succeeded') return outcome;
    return this.spawn(saga, step, outcome.output);
  }

  /**
   * A child step's handler returned the child's input: the child saga it starts (with the commit of
   * this outcome, so once whatever the redeliveries), on the highest version of its definition, with
   * its parent's priority (a child is part of its parent's work).
   */
  private spawn(saga: SagaSnapshot, step: StepDefinition, input: unknown): Outcome {
    const def = this.registry.find(step.child!)!;
    const parsed = def.input.safeParse(input);
    if (!parsed.success) {
      const error = InvalidInputError.fromZod(`Invalid input for child saga "${def.name}"`, parsed.error);
      return { kind: 'failed', error: { ...toSagaError(error), retryable: false } };
    }
    // The child's spans go on in its parent's trace, under the attempt that started it.
    const record = SagaStore.newSaga(def, parsed.data, {
      parent: { id: saga.id, step: step.index },
      priority: saga.priority,
      traceContext: this.tracing.activeContext(),
    });
    return { kind: 'spawned', child: { id: record.id!, name: def.name, version: def.version, record } };
  }

  private async record(
    def: SagaDefinition,
    ran: SagaSnapshot,
    input: Extract<SagaInput, { unit: string }>,
  ): Promise<void> {
    const patience = {
      giveUpAfterMs: OUTAGE_PATIENCE_MS,
      onWait: (error: Error) => this.logger.warn(`saga ${ran.id}: waiting for Postgres (${error.message})`),
    };
    const unitOf = (saga: SagaSnapshot) => saga.units.find((u) => u.key === input.unit)!;
    const { seq, status } = unitOf(ran);
    let saga = ran;
    for (;;) {
      const transition = decide(def, saga, input);
      const others = await patiently(() => this.store.record(transition), patience);
      if (others) {
        if (this.boundaries) await this.boundaries.reached('afterCommit', saga, unitOf(saga));
        return this.afterCommit(saga, transition, others);
      }
      const current = await patiently(() => this.store.snapshot(saga.id), patience);
      // Another delivery of this unit recorded its outcome first: the transition happens once.
      const unit = current && unitOf(current);
      if (!current || !unit || unit.seq !== seq || unit.status !== status || !unit.scheduled) return;
      // Only the rest of the saga changed meanwhile (a sibling, a cancel): decide again with it.
      saga = current;
    }
  }

  private afterCommit(saga: SagaSnapshot, transition: Transition, others: DueUnit[]): void {
    this.metrics.recordTransition(transition);
    this.eventLog.committed(saga, transition.events);
    this.streams.committed(saga.id, others);
    this.dispatcher.dispatchTransition(saga, transition, others);
    if (transition.abortRunning) this.cancellations.publishSoon(saga.id);
    for (const child of transition.stopChildren) this.cancellations.publishSoon(child);
  }
}

/**
 * Certain that no handler ran for the unit's current attempt: the first delivery of the job that the
 * committing process enqueued with the claim (it carries the snapshot; a job the reconciler enqueued
 * again for a claimed unit does not, and its unit may have run in a process that died).
 */
function surelyNotRunBefore(job: Job<UnitJobData>): boolean {
  const { claimed, snapshot, left = 0 } = job.data;
  return claimed && snapshot !== undefined && job.attemptsStarted - left <= 1;
}

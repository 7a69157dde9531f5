import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { Worker, type Job } from 'bullmq';
import type { SagaDefinition } from '../definition/saga-definition.interface.js';
import { SagaRegistry } from '../definition/saga-registry.js';
import { LOST_ATTEMPTS_ERROR, WorkerShutdownError } from '../errors/infrastructure-error.js';
import { SagaEventLog } from '../observability/saga-event-log.js';
import { SagaMetrics } from '../observability/saga-metrics.js';
import { SAGA_MODULE_OPTIONS, type ResolvedSagaModuleOptions } from '../saga-module-options.js';
import { SagaStore } from '../store/saga.store.js';
import { patiently, within } from './patiently.js';
import { SagaDispatcher } from './saga-dispatcher.js';
import { RECONCILE_GRACE_MS } from './saga-reconciler.js';
import { SAGA_QUEUE, type UnitJobData } from './saga-queue.js';
import { decide } from './saga-state-machine.js';
import { StepInvoker } from './step-invoker.js';
import type { Outcome, SagaSnapshot, Transition } from './transition.interface.js';
import { UNIT_BOUNDARY_HOOK, type UnitBoundaryHook } from './unit-boundary-hook.js';

/** How long a worker keeps recording an outcome while Postgres is unreachable before it lets BullMQ retry the job. */
const OUTAGE_PATIENCE_MS = 60_000;

/**
 * Runs one unit of work per job: claim it in Postgres, call the handler, commit the transition
 * that follows, enqueue the next unit. Throws only for infrastructure failures, which BullMQ
 * retries without spending an attempt of the step. The BullMQ worker is created here rather than
 * with `@Processor` because its concurrency and lock duration come from the module options.
 */
@Injectable()
export class StepWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('StepWorker');
  private worker?: Worker<UnitJobData>;

  constructor(
    private readonly store: SagaStore,
    private readonly registry: SagaRegistry,
    private readonly invoker: StepInvoker,
    private readonly dispatcher: SagaDispatcher,
    private readonly metrics: SagaMetrics,
    private readonly eventLog: SagaEventLog,
    @Inject(SAGA_MODULE_OPTIONS) private readonly options: ResolvedSagaModuleOptions,
    @Optional() @Inject(UNIT_BOUNDARY_HOOK) private readonly boundaries?: UnitBoundaryHook,
  ) {}

  onApplicationBootstrap(): void {
    if (this.options.role === 'api') return;
    this.worker = new Worker<UnitJobData>(SAGA_QUEUE, (job) => this.process(job), {
      connection: { url: this.options.redisUrl },
      prefix: this.options.queuePrefix,
      concurrency: this.options.concurrency,
      lockDuration: this.options.lockDurationMs,
      // A killed worker's jobs are found by the others' stalled checks, so check as often as locks expire.
      stalledInterval: this.options.lockDurationMs,
      maxStalledCount: 5,
    });
    this.worker.on('error', (error) => this.logger.warn(`BullMQ worker: ${error.message}`));
    this.worker.on('failed', (job, error) =>
      this.logger.warn(`unit ${job?.id} not processed, BullMQ will retry it: ${error.message}`),
    );
  }

  /**
   * Stops taking jobs, lets in-flight attempts finish within the grace period, then aborts and
   * releases them; and lets the units their transitions scheduled reach Redis.
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.worker) return;
    await this.closeWorker();
    await this.dispatcher.drain();
  }

  private async closeWorker(): Promise<void> {
    const closing = this.worker!.close();
    try {
      await within(closing, this.options.shutdownGraceMs, 'finishing in-flight attempts');
    } catch {
      this.logger.warn(
        `grace period of ${this.options.shutdownGraceMs} ms over: aborting in-flight attempts`,
      );
      this.invoker.expireAll(new WorkerShutdownError());
      // Force-closing leaves the jobs' locks to expire, so other workers take them over.
      await within(closing, 5000, 'recording aborted attempts').catch(() =>
        within(this.worker!.close(true), 5000, 'force-closing the worker').catch(() => undefined),
      );
    }
  }

  async process(job: Job<UnitJobData>): Promise<void> {
    const saga = await this.unitToRun(job);
    // Already recorded (a duplicate or stale delivery): acknowledge without calling the handler.
    if (!saga) return;
    const def = this.registry.find(saga.name);
    if (!def) throw new Error(`saga ${saga.id} is a "${saga.name}", which this process does not define`);

    if (this.boundaries) await this.boundaries.reached('beforeHandler', saga);
    const started = performance.now();
    const outcome = await this.run(def, saga);
    this.metrics.recordAttempt(saga, outcome, (performance.now() - started) / 1000);
    if (this.boundaries) await this.boundaries.reached('afterHandler', saga);
    await this.record(def, saga, outcome);
  }

  /**
   * The snapshot to run the job's unit with, with its attempt counted; nothing if the unit was
   * recorded already or the saga is terminal. The first delivery of a unit claimed by the commit
   * that scheduled it runs that attempt, with the snapshot the job carries when it can trust it; any
   * later delivery (its worker died, or could not record) claims a new attempt.
   */
  private unitToRun(job: Job<UnitJobData>): Promise<SagaSnapshot | undefined> | SagaSnapshot {
    const { sagaId, seq, claimed, snapshot, committedAt } = job.data;
    if (!claimed || job.attemptsStarted > 1) return this.store.claim(sagaId, seq);
    // A job enqueued long after its commit may have lost a race with the reconciler, which enqueues
    // the same unit once it is overdue: that job may have run and been recorded already. A cancel
    // since the commit is not in the snapshot either.
    const fresh = committedAt !== undefined && job.timestamp - committedAt < RECONCILE_GRACE_MS / 2;
    if (snapshot && fresh && !this.invoker.cancelSignalled(sagaId)) return snapshot;
    return this.store.current(sagaId, seq);
  }

  private run(def: SagaDefinition, saga: SagaSnapshot): Promise<Outcome> | Outcome {
    if (saga.phase === 'step' && saga.cancelRequested) return { kind: 'cancelled' };
    const stepDef = def.steps[saga.stepIndex];
    const step = saga.steps[saga.stepIndex];
    const [attempt, budget] =
      saga.phase === 'step'
        ? [step.attempts, stepDef.retry.attempts]
        : [step.compensationAttempts, stepDef.compensation!.retry.attempts];
    // Earlier attempts were claimed by workers that died before recording them: the budget is spent.
    if (attempt > budget) return { kind: 'failed', error: LOST_ATTEMPTS_ERROR };
    return this.invoker.invoke(def, saga);
  }

  private async record(def: SagaDefinition, claimed: SagaSnapshot, outcome: Outcome): Promise<void> {
    const patience = {
      giveUpAfterMs: OUTAGE_PATIENCE_MS,
      onWait: (error: Error) =>
        this.logger.warn(`saga ${claimed.id}: waiting for Postgres (${error.message})`),
    };
    let saga = claimed;
    for (;;) {
      const transition = decide(def, saga, outcome);
      if (await patiently(() => this.store.record(transition), patience)) {
        if (this.boundaries) await this.boundaries.reached('afterCommit', saga);
        return this.afterCommit(saga, transition);
      }
      const current = await patiently(() => this.store.snapshot(saga.id), patience);
      // Another delivery of this unit recorded its outcome first: the transition happens once.
      if (!current || current.seq !== claimed.seq) return;
      // Only the cancel flag changed while the handler ran: decide again with it.
      saga = current;
    }
  }

  private afterCommit(saga: SagaSnapshot, transition: Transition): void {
    this.metrics.recordTransition(transition);
    this.eventLog.committed(saga, transition.events);
    this.dispatcher.dispatchCommitted(SagaDispatcher.nextUnits(saga, transition));
  }
}

import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { Job } from 'bullmq';
import type { SagaDefinition } from '../definition/saga-definition.interface.js';
import { SagaRegistry } from '../definition/saga-registry.js';
import { SagaMetrics } from '../observability/saga-metrics.js';
import { SAGA_MODULE_OPTIONS, type ResolvedSagaModuleOptions } from '../saga-module-options.js';
import { SagaStore } from '../store/saga.store.js';
import { SagaDispatcher } from './saga-dispatcher.js';
import { SAGA_QUEUE, type UnitJobData } from './saga-queue.js';
import { decide } from './saga-state-machine.js';
import { StepInvoker } from './step-invoker.js';
import type { Outcome, SagaSnapshot, Transition } from './transition.interface.js';

/**
 * Runs one unit of work per job: claim it in Postgres, call the handler, commit the transition
 * that follows, enqueue the next unit. Throws only for infrastructure failures, which BullMQ
 * retries without spending an attempt of the step.
 */
@Processor(SAGA_QUEUE, { autorun: false })
export class StepWorker extends WorkerHost implements OnApplicationBootstrap {
  private readonly logger = new Logger('StepWorker');

  constructor(
    private readonly store: SagaStore,
    private readonly registry: SagaRegistry,
    private readonly invoker: StepInvoker,
    private readonly dispatcher: SagaDispatcher,
    private readonly metrics: SagaMetrics,
    @Inject(SAGA_MODULE_OPTIONS) private readonly options: ResolvedSagaModuleOptions,
  ) {
    super();
  }

  onApplicationBootstrap(): void {
    if (this.options.role === 'api') return;
    this.worker.concurrency = this.options.concurrency;
    this.worker.run().catch((error: Error) => this.logger.error(`worker stopped: ${error.message}`));
  }

  async process(job: Job<UnitJobData>): Promise<void> {
    const saga = await this.store.claim(job.data.sagaId, job.data.seq);
    // Already recorded (a duplicate or stale delivery): acknowledge without calling the handler.
    if (!saga) return;
    const def = this.registry.find(saga.name);
    if (!def) throw new Error(`saga ${saga.id} is a "${saga.name}", which this process does not define`);

    const started = performance.now();
    const outcome: Outcome =
      saga.phase === 'step' && saga.cancelRequested
        ? { kind: 'cancelled' }
        : await this.invoker.invoke(def, saga);
    this.metrics.recordAttempt(saga, outcome, (performance.now() - started) / 1000);
    await this.record(def, saga, outcome);
  }

  private async record(def: SagaDefinition, claimed: SagaSnapshot, outcome: Outcome): Promise<void> {
    let saga = claimed;
    for (;;) {
      const transition = decide(def, saga, outcome);
      if ((await this.store.commit([transition])).has(saga.id)) return this.afterCommit(transition);
      const current = await this.store.snapshot(saga.id);
      // Another delivery of this unit recorded its outcome first: the transition happens once.
      if (!current || current.seq !== claimed.seq) return;
      // Only the cancel flag changed while the handler ran: decide again with it.
      saga = current;
    }
  }

  private async afterCommit(transition: Transition): Promise<void> {
    this.metrics.recordTransition(transition);
    try {
      await this.dispatcher.dispatch(SagaDispatcher.nextUnits([transition]));
    } catch (error) {
      // Committed in Postgres already; the reconciler enqueues it once Redis answers again.
      this.logger.warn(`saga ${transition.sagaId}: next unit not enqueued (${(error as Error).message})`);
    }
  }
}

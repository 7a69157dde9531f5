import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type BeforeApplicationShutdown,
} from '@nestjs/common';
import { SagaMetrics } from '../observability/saga-metrics.js';
import { SAGA_MODULE_OPTIONS, type ResolvedSagaModuleOptions } from '../saga-module-options.js';
import { SagaStore, type UnitCursor } from '../store/saga.store.js';
import { LimitedQueues } from './limited-queues.js';
import { SagaDispatcher } from './saga-dispatcher.js';

/** A unit committed this recently may still be on its way to Redis from the worker that committed it. */
export const RECONCILE_GRACE_MS = 1000;
const PAGE_SIZE = 500;

/**
 * Makes Redis hold whatever Postgres says is due: units committed while Redis was down, units
 * whose process died between commit and enqueue, and every unit after Redis lost its data; and the
 * concurrency of limited handlers, which BullMQ keeps in Redis.
 * Safe to run in any number of processes: job ids are deterministic, so enqueueing a unit twice
 * makes one job, and a job for a unit already recorded is acknowledged without running.
 */
@Injectable()
export class SagaReconciler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('SagaReconciler');
  private timer?: NodeJS.Timeout;
  private cursor?: UnitCursor;
  private stopped = false;
  private tick?: Promise<void>;

  constructor(
    private readonly store: SagaStore,
    private readonly dispatcher: SagaDispatcher,
    private readonly queues: LimitedQueues,
    private readonly metrics: SagaMetrics,
    @Inject(SAGA_MODULE_OPTIONS) private readonly options: ResolvedSagaModuleOptions,
  ) {}

  onApplicationBootstrap(): void {
    if (this.options.role !== 'api') this.schedule(0);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    // Every Redis call of a tick is bounded, so this wait is too.
    await this.tick;
  }

  /** Checks one page of overdue units and enqueues those missing from Redis; returns how many it enqueued. */
  async reconcile(): Promise<number> {
    // Redis may have lost the limits with its data: they go back before the units do.
    await this.queues.applyLimits();
    const page = await this.store.overdueUnits(RECONCILE_GRACE_MS, PAGE_SIZE, this.cursor);
    // Walk every overdue unit over successive ticks, then start again from the oldest.
    this.cursor = page.length === PAGE_SIZE ? page[page.length - 1] : undefined;
    const missing = await this.dispatcher.missing(page);
    if (missing.length === 0) return 0;
    // In priority order, then due order: after a Redis wipe, equal priorities keep their order.
    const byPriority = [...missing].sort((a, b) => (a.priority ?? 0) - (b.priority ?? 0));
    await this.dispatcher.redispatch(byPriority.map((unit) => ({ ...unit, delayMs: 0 })));
    this.metrics.redriven.inc(missing.length);
    const sample = missing
      .slice(0, 5)
      .map((u) => `${u.sagaId}#${u.seq}`)
      .join(', ');
    this.logger.log(
      `re-enqueued ${missing.length} due unit(s) missing from Redis: ${sample}${missing.length > 5 ? ', …' : ''}`,
    );
    return missing.length;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.tick = this.reconcile()
        .then(
          () => undefined,
          (error: Error) => this.logger.warn(`reconcile failed, will retry: ${error.message}`),
        )
        .finally(() => this.schedule(this.options.reconcileIntervalMs));
    }, delayMs);
  }
}

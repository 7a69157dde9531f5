import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { SagaMetrics } from '../observability/saga-metrics.js';
import { SAGA_MODULE_OPTIONS, type ResolvedSagaModuleOptions } from '../saga-module-options.js';
import { SagaRetentionStore } from '../store/saga-retention.store.js';

/** Sagas deleted per statement: each statement holds its row locks for a few milliseconds only. */
const BATCH_SIZE = 200;

/**
 * Deletes finished sagas once they are older than the `retentionMs` option, on the workers, in
 * small batches, until none is left; then again after a tenth of the retention (between a second
 * and a minute). Safe to run in any number of processes (see SagaRetentionStore).
 */
@Injectable()
export class SagaRetention implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('SagaRetention');
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private tick?: Promise<void>;

  constructor(
    private readonly store: SagaRetentionStore,
    private readonly metrics: SagaMetrics,
    @Inject(SAGA_MODULE_OPTIONS) private readonly options: ResolvedSagaModuleOptions,
  ) {}

  /** A tenth of the retention, so that a saga outlives it by at most that much; within 1 s .. 1 min. */
  private get intervalMs(): number {
    return Math.min(60_000, Math.max(1000, Number(this.options.retentionMs) / 10));
  }

  onApplicationBootstrap(): void {
    if (this.options.role !== 'api' && this.options.retentionMs !== false) this.schedule(this.intervalMs);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.tick;
  }

  /** Deletes every saga past its retention, batch after batch; returns how many it deleted. */
  async sweep(): Promise<number> {
    const retentionMs = this.options.retentionMs;
    if (retentionMs === false) return 0;
    let total = 0;
    // A batch that deleted parents may have made their children deletable: go on until one deletes nothing.
    for (let deleted = -1; deleted !== 0 && !this.stopped;) {
      deleted = await this.store.deleteFinished(retentionMs, BATCH_SIZE);
      this.metrics.retentionDeleted.inc(deleted);
      total += deleted;
    }
    if (total > 0) this.logger.log(`deleted ${total} finished saga(s) older than ${retentionMs} ms`);
    return total;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.tick = this.sweep()
        .then(
          () => undefined,
          (error: Error) => this.logger.warn(`retention sweep failed, will retry: ${error.message}`),
        )
        .finally(() => this.schedule(this.intervalMs));
    }, delayMs);
  }
}

import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { ScheduleDefinition } from '../definition/saga-definition.interface.js';
import { SagaRegistry } from '../definition/saga-registry.js';
import { InvalidInputError } from '../errors/invalid-input.error.js';
import { SagaConflictError } from '../errors/saga-conflict.error.js';
import { SagaService } from '../execution/saga.service.js';
import { SAGA_MODULE_OPTIONS, type ResolvedSagaModuleOptions } from '../saga-module-options.js';
import { nextFire } from './fire-time.js';
import { ScheduleStore, type ScheduleRow } from './schedule.store.js';

/** The longest the scheduler sleeps without looking: another process may have changed a schedule. */
const MAX_SLEEP_MS = 5000;
/** How long it waits when what is due is held by another worker. */
const BUSY_SLEEP_MS = 100;
/** How long it waits after Postgres failed it, before it looks again. */
const RETRY_MS = 1000;

/** The idempotency key of a fire: one saga per schedule and fire time, whoever starts it and however often. */
export function fireKey(scheduleId: string, fireAt: Date): string {
  return `schedule:${scheduleId}:${fireAt.toISOString()}`;
}

/**
 * Fires the cron schedules declared in code. At boot (any role) it writes them to Postgres (see
 * ScheduleStore.sync: a schedule removed from the code is deleted there); on worker processes it
 * then sleeps until the first is due, and fires what is due in a transaction that holds the
 * schedules' rows (`FOR UPDATE SKIP LOCKED`), so one worker fires each. A fire starts the saga
 * with an idempotency key made of the schedule and the fire time, so a fire retried after a crash
 * starts nothing new. Fire times long overdue were missed while no worker ran: they start once,
 * for the latest of them (see nextFire). A process whose code lacks a schedule neither fires nor
 * lists it.
 */
@Injectable()
export class SagaScheduler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('SagaScheduler');
  /** Read at bootstrap, once the explorer has registered every saga. */
  private schedules = new Map<string, { saga: string; schedule: ScheduleDefinition }>();
  private timer?: NodeJS.Timeout;
  private tick?: Promise<void>;
  private stopped = false;
  private synced = false;

  constructor(
    private readonly registry: SagaRegistry,
    private readonly store: ScheduleStore,
    private readonly sagas: SagaService,
    @Inject(SAGA_MODULE_OPTIONS) private readonly options: ResolvedSagaModuleOptions,
  ) {}

  onApplicationBootstrap(): void {
    this.schedules = new Map(this.registry.schedules().map((s) => [s.schedule.id, s]));
    if (this.registry.all().length > 0) this.schedule(0);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.tick;
  }

  /** The ids of the schedules this process declares, for `GET /schedules` and `/metrics`. */
  ids(): string[] {
    return [...this.schedules.keys()];
  }

  /**
   * Writes the code's schedules to Postgres (until that succeeds, in a process that boots while
   * Postgres is down), then, on a worker with schedules, fires what is due now. Returns how long to
   * sleep before looking again; undefined: nothing more to do in this process.
   */
  async fireDue(): Promise<number | undefined> {
    if (!this.synced) {
      await this.sync();
      this.synced = true;
    }
    if (this.options.role === 'api' || this.schedules.size === 0) return undefined;
    const ids = this.ids();
    const untilDue = await this.store.msUntilDue(ids);
    if (untilDue === undefined || untilDue > 0) return Math.min(untilDue ?? MAX_SLEEP_MS, MAX_SLEEP_MS);
    const fired = await this.store.fireDue(ids, (row, now) => this.fire(row, now));
    // What was due is held by another worker, which is firing it: look again shortly.
    return fired > 0 ? 0 : BUSY_SLEEP_MS;
  }

  private async sync(): Promise<void> {
    const now = new Date();
    await this.store.sync(
      [...new Set(this.registry.all().map((d) => d.name))],
      [...this.schedules.values()].map(({ saga, schedule }) => ({
        id: schedule.id,
        saga,
        cron: schedule.cron.expression,
        timezone: schedule.cron.timezone,
        nextFireAt: schedule.cron.nextAfter(now)!,
      })),
    );
  }

  private async fire(
    row: ScheduleRow,
    now: Date,
  ): Promise<{ fireAt: Date; nextFireAt: Date; sagaId: string | null }> {
    const { saga, schedule } = this.schedules.get(row.id)!;
    const { fireAt, nextFireAt } = nextFire(schedule.cron, row.nextFireAt, now);
    try {
      const started = await this.sagas.start(saga, schedule.input, {
        idempotencyKey: fireKey(row.id, fireAt),
      });
      if (started.created)
        this.logger.debug(`schedule ${row.id} fired for ${fireAt.toISOString()}: saga ${started.id}`);
      return { fireAt, nextFireAt, sagaId: started.id };
    } catch (error) {
      // Nothing a retry would change (the saga's schema changed under a deployed schedule): that
      // fire is given up, loudly, and the schedule goes on. Anything else (Postgres) leaves it due.
      if (!(error instanceof InvalidInputError || error instanceof SagaConflictError)) throw error;
      this.logger.error(
        `schedule ${row.id} could not start saga "${saga}" for ${fireAt.toISOString()}: ${error.message}`,
      );
      return { fireAt, nextFireAt, sagaId: null };
    }
  }

  private schedule(delayMs: number | undefined): void {
    if (this.stopped || delayMs === undefined) return;
    this.timer = setTimeout(() => {
      this.tick = this.fireDue()
        .catch((error: Error) => {
          this.logger.warn(`schedules: ${error.message}; will retry`);
          return RETRY_MS;
        })
        .then((sleepMs) => this.schedule(sleepMs));
    }, delayMs);
  }
}

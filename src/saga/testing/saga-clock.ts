import type { Job, Queue } from 'bullmq';
import { and, eq, gt, inArray, lte, ne, sql, type SQL } from 'drizzle-orm';
import type { SagaDispatcher } from '../execution/saga-dispatcher.js';
import { unitJobId, type UnitJobData } from '../execution/saga-queue.js';
import { ACTIVE_SAGA_STATUSES } from '../saga-status.js';
import type { SagaDatabase } from '../store/saga-database.js';

/** A unit of a saga, as its job names it. */
interface UnitRef {
  sagaId: string;
  unit: string;
  seq: number;
}

/** A unit with a due time, and how long until it is due (0: it is). */
export interface ScheduledUnit extends UnitRef {
  dueInMs: number;
}

const ACTIVE = [...ACTIVE_SAGA_STATUSES];

/**
 * Skips time for the engine. Every wait is a unit's due time in Postgres (invariant 8) and Redis
 * only mirrors it with a delayed job, so skipping time is: move the due times earlier in Postgres,
 * then bring each delayed job in line with its unit's new due time.
 */
export class SagaClock {
  constructor(
    private readonly database: SagaDatabase,
    private readonly queue: Queue<UnitJobData>,
    private readonly dispatcher: SagaDispatcher,
  ) {}

  /**
   * Moves every due time still ahead `ms` earlier (to now when `ms` is undefined), in one saga or
   * in all; returns how many units were waiting.
   */
  async skip(ms: number | undefined, sagaId?: string): Promise<number> {
    // Units whose commit has returned are on their way to Redis: let them arrive, to be rescheduled.
    await this.dispatcher.drain();
    const { sagaUnits } = this.database.tables;
    const shifted = await this.database.db
      .update(sagaUnits)
      .set({ dueAt: ms === undefined ? sql`now()` : this.earlier(ms) })
      .where(and(this.ofActiveSagas(sagaId), gt(sagaUnits.dueAt, sql`now()`)))
      .returning({
        sagaId: sagaUnits.sagaId,
        unit: sagaUnits.key,
        seq: sagaUnits.seq,
        dueInMs: this.remainingMs(),
      });
    for (const unit of shifted) {
      if (unit.dueInMs > 0) await this.reschedule(unit, (job) => job.changeDelay(Math.ceil(unit.dueInMs)));
    }
    await this.dispatcher.drain();
    await this.promoteDue(sagaId);
    return shifted.length;
  }

  /**
   * Promotes the delayed jobs of units that Postgres says are due: after a skip, or when a job
   * reached Redis only after the skip that made its unit due.
   */
  async promoteDue(sagaId?: string): Promise<void> {
    for (const unit of await this.scheduled(sagaId, true))
      await this.reschedule(unit, (job) => job.promote());
  }

  /** The saga's units with a due time (only those due now, with `dueOnly`), while it is active. */
  async scheduled(sagaId?: string, dueOnly = false): Promise<ScheduledUnit[]> {
    const { sagaUnits } = this.database.tables;
    return this.database.db
      .select({
        sagaId: sagaUnits.sagaId,
        unit: sagaUnits.key,
        seq: sagaUnits.seq,
        dueInMs: this.remainingMs(),
      })
      .from(sagaUnits)
      .where(
        and(
          this.ofActiveSagas(sagaId),
          // A running unit's job is taken (or claimed with the commit, not delayed).
          ne(sagaUnits.status, 'running'),
          dueOnly ? lte(sagaUnits.dueAt, sql`now()`) : undefined,
        ),
      );
  }

  /** Makes the unit overdue by `ms` more, as if that much time had passed. */
  async backdate(unit: UnitRef, ms: number): Promise<void> {
    const { sagaUnits } = this.database.tables;
    await this.database.db
      .update(sagaUnits)
      .set({ dueAt: this.earlier(ms) })
      .where(
        and(
          eq(sagaUnits.sagaId, unit.sagaId),
          eq(sagaUnits.key, unit.unit),
          eq(sagaUnits.seq, unit.seq),
          lte(sagaUnits.dueAt, sql`now()`),
        ),
      );
  }

  /** Units with a due time, of active sagas (of one saga, when `sagaId` is given). */
  private ofActiveSagas(sagaId?: string): SQL {
    const { sagas, sagaUnits } = this.database.tables;
    const active = this.database.db
      .select({ id: sagas.id })
      .from(sagas)
      .where(and(inArray(sagas.status, ACTIVE), sagaId ? eq(sagas.id, sagaId) : undefined));
    return and(inArray(sagaUnits.sagaId, active), sql`${sagaUnits.dueAt} IS NOT NULL`)!;
  }

  /** Changes the unit's job if it waits delayed; a job missing from Redis is the reconciler's to enqueue. */
  private async reschedule(unit: UnitRef, change: (job: Job<UnitJobData>) => Promise<void>): Promise<void> {
    const job = await this.queue.getJob(unitJobId(unit.sagaId, unit.unit, unit.seq));
    if (!job || !(await job.isDelayed())) return;
    // It may have left the delayed set since: then it runs already, which is what was wanted.
    await change(job).catch(() => undefined);
  }

  private earlier(ms: number): SQL {
    return sql`${this.database.tables.sagaUnits.dueAt} - ${String(ms)}::float8 * interval '1 millisecond'`;
  }

  /** Milliseconds until the unit's due time, never negative. */
  private remainingMs(): SQL<number> {
    return sql<number>`greatest(0, extract(epoch from ${this.database.tables.sagaUnits.dueAt} - now()) * 1000)::float8`;
  }
}

import type { Job, Queue } from 'bullmq';
import { and, eq, gt, inArray, isNull, lte, sql, type SQL } from 'drizzle-orm';
import type { SagaDispatcher } from '../execution/saga-dispatcher.js';
import { unitJobId, type UnitJobData } from '../execution/saga-queue.js';
import { ACTIVE_SAGA_STATUSES } from '../saga-status.js';
import type { SagaDatabase } from '../store/saga-database.js';
import { sagas } from '../store/schema.js';

interface UnitRef {
  sagaId: string;
  seq: number;
}

/** A saga's current unit of work, as its outbox columns say. */
export interface DueUnit {
  seq: number;
  /** The saga is not terminal (it has a next unit). */
  active: boolean;
  /** How long until the unit is due (0: it is); null once the saga is terminal. */
  dueInMs: number | null;
}

const ACTIVE = [...ACTIVE_SAGA_STATUSES];

/**
 * Skips time for the engine. Every wait is a due time in Postgres (invariant 8) and Redis only
 * mirrors it with a delayed job, so skipping time is: move the due times earlier in Postgres, then
 * bring each delayed job in line with its unit's new due time. A kind of wait that keeps its due
 * time somewhere else than the saga's outbox columns adds it to `shift`.
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
    const shifted = await this.shift(ms, sagaId);
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
    const due = await this.database.db
      .select({ sagaId: sagas.id, seq: sagas.seq })
      .from(sagas)
      .where(
        and(
          inArray(sagas.status, ACTIVE),
          lte(sagas.dueAt, sql`now()`),
          isNull(sagas.runningSince),
          sagaId ? eq(sagas.id, sagaId) : undefined,
        ),
      );
    for (const unit of due) await this.reschedule(unit, (job) => job.promote());
  }

  async unit(sagaId: string): Promise<DueUnit | undefined> {
    const [row] = await this.database.db
      .select({ seq: sagas.seq, status: sagas.status, dueInMs: remainingMs() })
      .from(sagas)
      .where(eq(sagas.id, sagaId));
    if (!row) return undefined;
    const active = (ACTIVE as string[]).includes(row.status);
    return { seq: row.seq, active, dueInMs: active ? row.dueInMs : null };
  }

  /** Makes the unit overdue by `ms` more, as if that much time had passed. */
  async backdate(sagaId: string, seq: number, ms: number): Promise<void> {
    await this.database.db
      .update(sagas)
      .set({ dueAt: earlier(ms) })
      .where(and(eq(sagas.id, sagaId), eq(sagas.seq, seq), lte(sagas.dueAt, sql`now()`)));
  }

  private shift(ms: number | undefined, sagaId?: string): Promise<(UnitRef & { dueInMs: number })[]> {
    return this.database.db
      .update(sagas)
      .set({ dueAt: ms === undefined ? sql`now()` : earlier(ms) })
      .where(
        and(
          inArray(sagas.status, ACTIVE),
          gt(sagas.dueAt, sql`now()`),
          sagaId ? eq(sagas.id, sagaId) : undefined,
        ),
      )
      .returning({ sagaId: sagas.id, seq: sagas.seq, dueInMs: remainingMs() as SQL<number> });
  }

  /** Changes the unit's job if it waits delayed; a job missing from Redis is the reconciler's to enqueue. */
  private async reschedule(unit: UnitRef, change: (job: Job<UnitJobData>) => Promise<void>): Promise<void> {
    const job = await this.queue.getJob(unitJobId(unit.sagaId, unit.seq));
    if (!job || !(await job.isDelayed())) return;
    // It may have left the delayed set since: then it runs already, which is what was wanted.
    await change(job).catch(() => undefined);
  }
}

function earlier(ms: number): SQL {
  return sql`${sagas.dueAt} - ${String(ms)}::float8 * interval '1 millisecond'`;
}

/** Milliseconds until the saga row's due time, never negative. */
function remainingMs(): SQL<number | null> {
  return sql<number | null>`greatest(0, extract(epoch from ${sagas.dueAt} - now()) * 1000)::float8`;
}

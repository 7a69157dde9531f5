import type { Job } from 'bullmq';
import { and, eq, inArray, lte, ne, sql, type SQL } from 'drizzle-orm';
import { RECONCILE_GRACE_MS } from '../execution/saga-reconciler.js';
import type { LimitedQueues } from '../execution/limited-queues.js';
import type { SagaDispatcher } from '../execution/saga-dispatcher.js';
import { unitJobId, type UnitJobData } from '../execution/saga-queue.js';
import { ACTIVE_SAGA_STATUSES } from '../saga-status.js';
import type { SagaDatabase } from '../store/saga-database.js';
import { SagaTree } from './saga-tree.js';
import { TimeSkipTimeoutError, type BusyUnit } from './time-skip-timeout.error.js';

const POLL_MS = 20;
const ACTIVE = [...ACTIVE_SAGA_STATUSES] as string[];

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

/** What one move of the clock found and did. */
export interface ClockStep {
  /** Units that run or are due now: time stands still while there are any. */
  busy: BusyUnit[];
  /** Something waits for a time (a backoff, a delayed start, a timeout, a deadline). */
  waiting: boolean;
  /** How far time moved, in ms; null when it did not (busy, nothing waiting, or the sagas changed). */
  movedMs: number | null;
  /** The units whose due time moved, and how long until each is due now (0: it is). */
  moved: ScheduledUnit[];
  /** The state of the sagas that this step found (see `advance`). */
  fingerprint: string;
}

/**
 * Skips time for the engine. Every wait is a unit's due time in Postgres (invariant 8) and Redis
 * only mirrors it with a delayed job, so skipping time is: move due times earlier in Postgres, then
 * bring each delayed job in line with its unit's new due time.
 *
 * Time moves the way it would pass, not all at once: only while nothing runs and nothing is due
 * (what runs may schedule something due sooner than what waits already), and only as far as the
 * next due time, so that whatever waits comes due in the order it would have (a signal's timeout of
 * a day before a deadline of a week), and every due time moves by the same amount.
 */
export class SagaClock {
  constructor(
    private readonly database: SagaDatabase,
    private readonly queues: LimitedQueues,
    private readonly dispatcher: SagaDispatcher,
  ) {}

  /**
   * Moves time `ms` forward for every saga (without `ms`: until nothing waits for a time any more),
   * step by step: each time nothing runs and nothing is due, to the next due time, and waits for
   * what came due to run. Returns how many units' due times it moved.
   */
  async skip(ms: number | undefined, timeoutMs: number): Promise<number> {
    let remaining = ms ?? Infinity;
    const moved = new Set<string>();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const step = await this.advance({ budgetMs: Math.max(0, remaining) });
      if (step.busy.length > 0) {
        if (Date.now() > deadline) throw new TimeSkipTimeoutError(step.busy, timeoutMs);
        await this.bringDueJobsIn();
        await sleep(POLL_MS);
        continue;
      }
      if (step.movedMs === null) return moved.size;
      for (const unit of step.moved) moved.add(`${unit.sagaId}/${unit.unit}`);
      remaining -= step.movedMs;
      // It stopped short of the next due time: what is left of `ms` was spent waiting.
      if (!step.moved.some((unit) => unit.dueInMs === 0)) return moved.size;
    }
  }

  /**
   * One move of the clock, in one statement: if nothing in scope runs or is due and the sagas are
   * still as `fingerprint` says (a caller that looked at them before deciding to move time), every
   * due time in scope moves earlier by the time to the next one (at most `budgetMs`).
   */
  async advance(
    options: { root?: string; budgetMs?: number; fingerprint?: string } = {},
  ): Promise<ClockStep> {
    // Units whose commit has returned are on their way to Redis: let them arrive, to be rescheduled.
    await this.dispatcher.drain();
    const { sql: db, table } = this.database;
    const budget = options.budgetMs === undefined || options.budgetMs === Infinity ? null : options.budgetMs;
    const [step] = await db<(Omit<ClockStep, 'waiting'> & { waiting: boolean })[]>`
      WITH RECURSIVE tree(id) AS (${SagaTree.members(this.database, options.root)}),
      live AS (
        SELECT u.saga_id, u.key, u.seq, u.status, u.due_at, u.name, s.name AS saga, s.seq AS saga_seq
        FROM tree JOIN ${table.sagas} s ON s.id = tree.id JOIN ${table.units} u ON u.saga_id = s.id
        WHERE s.status IN ${db(ACTIVE)}
      ), state AS (
        SELECT
          coalesce(md5(string_agg(concat_ws('/', saga_id, saga_seq, key, seq, status), ','
            ORDER BY saga_id, key)), '') AS fingerprint,
          coalesce(json_agg(json_build_object('sagaId', saga_id, 'saga', saga, 'unit', name, 'status', status))
            FILTER (WHERE status = 'running' OR due_at <= now()), '[]') AS busy,
          min(due_at) FILTER (WHERE status <> 'running' AND due_at > now()) - now() AS gap
        FROM live
      ), shift AS (
        SELECT least(gap, ${budget}::float8 * interval '1 millisecond') AS by FROM state
        WHERE json_array_length(busy) = 0 AND gap IS NOT NULL
          AND (${options.fingerprint ?? null}::text IS NULL OR fingerprint = ${options.fingerprint ?? null}::text)
          AND least(gap, ${budget}::float8 * interval '1 millisecond') > interval '0'
      ), moved AS (
        UPDATE ${table.units} x SET due_at = x.due_at - shift.by
        FROM shift, live
        WHERE x.saga_id = live.saga_id AND x.key = live.key AND live.status <> 'running' AND x.due_at > now()
        RETURNING x.saga_id AS "sagaId", x.key AS unit, x.seq,
          greatest(0, extract(epoch from x.due_at - now()) * 1000)::float8 AS "dueInMs"
      )
      SELECT state.fingerprint, state.busy, state.gap IS NOT NULL AS waiting,
        (SELECT extract(epoch from by) * 1000 FROM shift)::float8 AS "movedMs",
        (SELECT coalesce(json_agg(moved), '[]') FROM moved) AS moved
      FROM state`;
    for (const unit of step.moved) {
      if (unit.dueInMs > 0) await this.reschedule(unit, (job) => job.changeDelay(Math.ceil(unit.dueInMs)));
      else await this.reschedule(unit, (job) => job.promote());
    }
    if (step.moved.length > 0) await this.bringDueJobsIn(options.root);
    return step;
  }

  /** The state of the saga and its descendants that `advance` compares: each unit's status and `seq`. */
  async fingerprint(root: string): Promise<string> {
    return (await this.advance({ root, budgetMs: 0 })).fingerprint;
  }

  /**
   * Brings Redis in line with what Postgres says is due now, in scope: a delayed job is promoted; a
   * unit with no job at all (its enqueue was lost, by a crash after its commit) is made overdue by
   * the reconciler's grace period, as time passing would, and the reconciler enqueues it.
   */
  async bringDueJobsIn(root?: string): Promise<void> {
    await this.dispatcher.drain();
    const { sql: db, table } = this.database;
    const due = await db<UnitRef[]>`
      WITH RECURSIVE tree(id) AS (${SagaTree.members(this.database, root)})
      SELECT u.saga_id AS "sagaId", u.key AS unit, u.seq
      FROM tree JOIN ${table.sagas} s ON s.id = tree.id JOIN ${table.units} u ON u.saga_id = s.id
      WHERE s.status IN ${db(ACTIVE)} AND u.due_at <= now()`;
    for (const unit of due) {
      const job = await this.queues.findJob(unitJobId(unit.sagaId, unit.unit, unit.seq));
      if (!job) await this.backdate(unit, RECONCILE_GRACE_MS);
      else if (await job.isDelayed()) await job.promote().catch(() => undefined);
    }
  }

  /** The saga's units with a due time (only those due now, with `dueOnly`), while it is active. */
  async scheduled(sagaId?: string, dueOnly = false): Promise<ScheduledUnit[]> {
    const { sagas, sagaUnits } = this.database.tables;
    return this.database.db
      .select({
        sagaId: sagaUnits.sagaId,
        unit: sagaUnits.key,
        seq: sagaUnits.seq,
        dueInMs: this.remainingMs(),
      })
      .from(sagaUnits)
      .innerJoin(sagas, eq(sagas.id, sagaUnits.sagaId))
      .where(
        and(
          inArray(sagas.status, ACTIVE),
          sagaId ? eq(sagaUnits.sagaId, sagaId) : undefined,
          sql`${sagaUnits.dueAt} IS NOT NULL`,
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
      .set({ dueAt: sql`${sagaUnits.dueAt} - ${String(ms)}::float8 * interval '1 millisecond'` })
      .where(
        and(
          eq(sagaUnits.sagaId, unit.sagaId),
          eq(sagaUnits.key, unit.unit),
          eq(sagaUnits.seq, unit.seq),
          lte(sagaUnits.dueAt, sql`now()`),
        ),
      );
  }

  /** Changes the unit's job if it waits delayed; a job missing from Redis is the reconciler's to enqueue. */
  private async reschedule(unit: UnitRef, change: (job: Job<UnitJobData>) => Promise<void>): Promise<void> {
    const job = await this.queues.findJob(unitJobId(unit.sagaId, unit.unit, unit.seq));
    if (!job || !(await job.isDelayed())) return;
    // It may have left the delayed set since: then it runs already, which is what was wanted.
    await change(job).catch(() => undefined);
  }

  /** Milliseconds until the unit's due time, never negative. */
  private remainingMs(): SQL<number> {
    return sql<number>`greatest(0, extract(epoch from ${this.database.tables.sagaUnits.dueAt} - now()) * 1000)::float8`;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

import { Injectable } from '@nestjs/common';
import { and, asc, count, countDistinct, desc, eq, gt, gte, inArray, lt, max, type SQL } from 'drizzle-orm';
import type { PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import { unitKey } from '../machine/saga-snapshot.js';
import { ACTIVE_SAGA_STATUSES, type SagaStatus } from '../saga-status.js';
import { SagaDatabase } from './saga-database.js';
import { firstUuidV7Of } from './uuid-v7.js';
import { toEventView, toSagaView, type SagaEventView, type SagaView } from './saga-views.js';

export interface SagaListFilter {
  name?: string;
  status?: SagaStatus;
  /** Only the children of this saga. */
  parentId?: string;
  createdAfter?: Date;
  createdBefore?: Date;
  limit: number;
  /** The id of the last saga of the previous page. */
  cursor?: string;
}

/** Where a saga's event history stands: its last event's row id, and how many events it has. */
export interface EventCursor {
  id: number;
  seq: number;
}

/** The pool, or a read transaction on it. */
type Reader = Pick<PostgresJsDatabase, 'select'>;

/** The read side: what the HTTP API and the metrics show. */
@Injectable()
export class SagaQueries {
  constructor(private readonly database: SagaDatabase) {}

  async get(id: string, db: Reader = this.database.db): Promise<SagaView | undefined> {
    const { sagas, sagaUnits } = this.database.tables;
    // One statement, so the saga and its units come from the same snapshot.
    const rows = await db
      .select({ saga: sagas, unit: sagaUnits })
      .from(sagas)
      .innerJoin(sagaUnits, eq(sagaUnits.sagaId, sagas.id))
      .where(eq(sagas.id, id));
    if (rows.length === 0) return undefined;
    const children = await db
      .select({ id: sagas.id, name: sagas.name, status: sagas.status, step: sagas.parentStep })
      .from(sagas)
      .where(eq(sagas.parentId, id))
      .orderBy(asc(sagas.id));
    return toSagaView(
      rows[0].saga,
      rows.map((r) => r.unit),
      children,
    );
  }

  /** Newest first; ids are UUIDv7, so the id is both the order and the cursor. */
  async list(filter: SagaListFilter): Promise<{ items: SagaView[]; nextCursor: string | null }> {
    const { sagas } = this.database.tables;
    const conditions: SQL[] = [];
    if (filter.name) conditions.push(eq(sagas.name, filter.name));
    if (filter.status) conditions.push(eq(sagas.status, filter.status));
    if (filter.cursor) conditions.push(lt(sagas.id, filter.cursor));
    if (filter.parentId) conditions.push(eq(sagas.parentId, filter.parentId));
    // Ids are UUIDv7: a range of creation times is a range of ids.
    if (filter.createdAfter) conditions.push(gte(sagas.id, firstUuidV7Of(filter.createdAfter)));
    if (filter.createdBefore) conditions.push(lt(sagas.id, firstUuidV7Of(filter.createdBefore)));
    const rows = await this.database.db
      .select()
      .from(sagas)
      .where(and(...conditions))
      .orderBy(desc(sagas.id))
      .limit(filter.limit + 1);
    const page = rows.slice(0, filter.limit);
    return {
      items: page.map((row) => toSagaView(row)),
      nextCursor: rows.length > filter.limit ? page[page.length - 1].id : null,
    };
  }

  async events(id: string): Promise<SagaEventView[] | undefined> {
    const { sagaEvents } = this.database.tables;
    const rows = await this.database.db
      .select()
      .from(sagaEvents)
      .where(eq(sagaEvents.sagaId, id))
      .orderBy(asc(sagaEvents.id));
    // Every saga has a saga_started event, so no rows means no saga.
    return rows.length === 0 ? undefined : rows.map(toEventView);
  }

  /**
   * The saga view and where its event history stands, read from one snapshot: the events after
   * that cursor are exactly those the view does not show yet.
   */
  async viewWithCursor(id: string): Promise<{ view: SagaView; cursor: EventCursor } | undefined> {
    const { sagaEvents } = this.database.tables;
    return this.database.db.transaction(
      async (tx) => {
        const view = await this.get(id, tx);
        if (!view) return undefined;
        const [last] = await tx
          .select({ id: max(sagaEvents.id), seq: count() })
          .from(sagaEvents)
          .where(eq(sagaEvents.sagaId, id));
        return { view, cursor: { id: last.id ?? 0, seq: last.seq } };
      },
      { isolationLevel: 'repeatable read', accessMode: 'read only' },
    );
  }

  /**
   * The saga's events recorded after `cursor`, numbered on from it. Events of one saga are
   * committed in the order of their ids (each transition holds the saga row's lock while it inserts
   * them), so nothing lands behind a cursor once it was read.
   */
  async eventsAfter(
    sagaId: string,
    cursor: EventCursor,
  ): Promise<{ events: SagaEventView[]; cursor: EventCursor }> {
    const { sagaEvents } = this.database.tables;
    const rows = await this.database.db
      .select()
      .from(sagaEvents)
      .where(and(eq(sagaEvents.sagaId, sagaId), gt(sagaEvents.id, cursor.id)))
      .orderBy(asc(sagaEvents.id));
    return {
      events: rows.map((row, index) => toEventView(row, cursor.seq + index)),
      cursor: rows.length ? { id: rows[rows.length - 1].id, seq: cursor.seq + rows.length } : cursor,
    };
  }

  /**
   * Sagas in flight by name and version, with how many of their units are scheduled (have a due
   * time): what tells an operator when an old version may be removed, and what a process that
   * lacks a version leaves to the others.
   */
  async activeByVersion(): Promise<
    { name: string; version: number; sagas: number; scheduledUnits: number }[]
  > {
    const { sagas, sagaUnits } = this.database.tables;
    return this.database.db
      .select({
        name: sagas.name,
        version: sagas.version,
        sagas: countDistinct(sagas.id),
        scheduledUnits: count(sagaUnits.dueAt),
      })
      .from(sagas)
      .leftJoin(sagaUnits, eq(sagaUnits.sagaId, sagas.id))
      .where(inArray(sagas.status, [...ACTIVE_SAGA_STATUSES]))
      .groupBy(sagas.name, sagas.version);
  }

  /**
   * By saga name: how many sagas wait queued behind their concurrency key (their key is held by
   * another), and how many keys are held. Both read only keyed rows (a partial index, a small table).
   */
  async keyQueues(): Promise<{ name: string; waiting: number; holders: number }[]> {
    const { sql } = this.database;
    return sql<{ name: string; waiting: number; holders: number }[]>`
      SELECT name, sum(waiting)::int AS waiting, sum(holders)::int AS holders FROM (
        SELECT s.name, count(*) AS waiting, 0 AS holders
        FROM ${this.database.table.sagas} s JOIN ${this.database.table.units} u ON u.saga_id = s.id AND u.key = ${unitKey.admission}
        WHERE s.concurrency_key IS NOT NULL AND s.status = 'pending' AND u.status = 'waiting' AND u.due_at IS NULL
        GROUP BY s.name
        UNION ALL
        SELECT name, 0, count(*) FROM ${this.database.table.keyHolders} GROUP BY name
      ) q GROUP BY name`;
  }

  async countsByNameAndStatus(): Promise<{ name: string; status: string; count: number }[]> {
    const { sagas } = this.database.tables;
    return this.database.db
      .select({ name: sagas.name, status: sagas.status, count: count() })
      .from(sagas)
      .groupBy(sagas.name, sagas.status);
  }
}

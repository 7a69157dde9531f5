import { Injectable } from '@nestjs/common';
import { SagaDatabase } from '../store/saga-database.js';
import type { StoreSql } from '../store/saga.store.js';

/** A schedule's row: its state, and the cron it was computed from. */
export interface ScheduleRow {
  id: string;
  saga: string;
  cron: string;
  timezone: string;
  nextFireAt: Date;
  lastFireAt: Date | null;
  lastSagaId: string | null;
  fires: number;
}

/** A schedule as the code declares it, with its first fire time should it be new or changed. */
export interface DeclaredSchedule {
  id: string;
  saga: string;
  cron: string;
  timezone: string;
  nextFireAt: Date;
}

/** As the pool returns it: the drizzle-wrapped client gives timestamps as text. */
type RawRow = Omit<ScheduleRow, 'nextFireAt' | 'lastFireAt'> & {
  nextFireAt: string | Date;
  lastFireAt: string | Date | null;
};

function toRow(row: RawRow): ScheduleRow {
  return {
    id: row.id,
    saga: row.saga,
    cron: row.cron,
    timezone: row.timezone,
    nextFireAt: new Date(row.nextFireAt),
    lastFireAt: row.lastFireAt === null ? null : new Date(row.lastFireAt),
    lastSagaId: row.lastSagaId,
    fires: row.fires,
  };
}

const ROW_COLUMNS = `id, saga_name AS saga, cron, timezone, next_fire_at AS "nextFireAt", last_fire_at AS "lastFireAt",
  last_saga_id AS "lastSagaId", fires`;

/** The `saga_schedules` table: what the scheduler, `GET /schedules` and `/metrics` read and write. */
@Injectable()
export class ScheduleStore {
  constructor(private readonly database: SagaDatabase) {}

  /**
   * Makes the table hold the schedules the code declares for `sagas`: a new one is due at its next
   * fire time, one whose cron or time zone changed starts afresh from now, an unchanged one keeps
   * its due time (a fire missed while no worker ran is still due), and one of these sagas that the
   * code no longer declares is deleted (it never fires again).
   */
  async sync(sagas: string[], schedules: DeclaredSchedule[]): Promise<void> {
    const { sql } = this.database;
    const rows = [...schedules]
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map((s) => ({
        ...s,
        nextFireAt: s.nextFireAt.toISOString(),
      }));
    await sql`
      WITH s AS (
        SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb)
          AS s(id text, saga text, cron text, timezone text, "nextFireAt" timestamptz)
      ), gone AS (
        DELETE FROM ${this.database.table.schedules} WHERE saga_name IN ${sql(sagas)} AND id NOT IN (SELECT id FROM s)
      )
      INSERT INTO ${this.database.table.schedules} (id, saga_name, cron, timezone, next_fire_at)
      SELECT id, saga, cron, timezone, "nextFireAt" FROM s
      ON CONFLICT (id) DO UPDATE SET
        saga_name = excluded.saga_name, cron = excluded.cron, timezone = excluded.timezone,
        next_fire_at = CASE
          WHEN saga_schedules.cron = excluded.cron AND saga_schedules.timezone = excluded.timezone
          THEN saga_schedules.next_fire_at ELSE excluded.next_fire_at END`;
  }

  /** The schedules' rows, by id. */
  async list(ids: string[]): Promise<ScheduleRow[]> {
    if (ids.length === 0) return [];
    const { sql } = this.database;
    const rows = await sql<RawRow[]>`
      SELECT ${sql.unsafe(ROW_COLUMNS)} FROM ${this.database.table.schedules} WHERE id IN ${sql(ids)} ORDER BY id`;
    return rows.map(toRow);
  }

  /** How long until the first of these schedules is due, by Postgres's clock (0: one is due). */
  async msUntilDue(ids: string[]): Promise<number | undefined> {
    const { sql } = this.database;
    const [row] = await sql<{ ms: number | null }[]>`
      SELECT greatest(0, extract(epoch FROM min(next_fire_at) - now()) * 1000)::float8 AS ms
      FROM ${this.database.table.schedules} WHERE id IN ${sql(ids)}`;
    return row.ms ?? undefined;
  }

  /**
   * Hands each of these schedules that is due, and that no other process holds, to `fire` with
   * Postgres's time, in one transaction that holds their rows until it commits: two workers never
   * fire one schedule at once. `fire` returns what to record, or throws to leave it due.
   */
  async fireDue(
    ids: string[],
    fire: (row: ScheduleRow, now: Date) => Promise<{ fireAt: Date; nextFireAt: Date; sagaId: string | null }>,
  ): Promise<number> {
    return this.database.sql.begin(async (tx: StoreSql) => {
      const due = await tx<(RawRow & { now: string | Date })[]>`
        SELECT ${tx.unsafe(ROW_COLUMNS)}, now() AS now FROM ${this.database.table.schedules}
        WHERE id IN ${tx(ids)} AND next_fire_at <= now()
        ORDER BY id FOR UPDATE SKIP LOCKED`;
      for (const row of due) {
        const { fireAt, nextFireAt, sagaId } = await fire(toRow(row), new Date(row.now));
        await tx`
          UPDATE ${this.database.table.schedules} SET next_fire_at = ${nextFireAt.toISOString()}::timestamptz,
            last_fire_at = ${fireAt.toISOString()}::timestamptz,
            last_saga_id = coalesce(${sagaId}::uuid, last_saga_id), fires = fires + (${sagaId}::uuid IS NOT NULL)::int
          WHERE id = ${row.id}`;
      }
      return due.length;
    }) as Promise<number>;
  }
}

import type postgres from 'postgres';
import { unitKey } from '../machine/saga-snapshot.js';
import type { KeyRef } from '../machine/transition.js';
import { recordsetColumns } from './recordset.js';
import type { SagaDatabase } from './saga-database.js';

/** The pool, or a transaction on it. */
type Sql = postgres.Sql | postgres.TransactionSql;
type Tables = SagaDatabase['table'];

/** A unit made due by a handover, and the saga that handed its key over. */
export interface HandedUnit {
  previous: string;
  sagaId: string;
  unit: string;
  seq: number;
  delayMs: number;
  claimed: boolean;
  due: boolean;
  sagaName: string;
  sagaVersion: number;
  priority: number;
}

const ENDED = { saga_id: 'uuid', saga: 'text', key: 'text' } as const;

/*
 * One saga per key, kept by two rules that every statement below follows:
 * - a key's row in saga_key_holders names its one holder (the primary key allows no second);
 * - whoever changes a key's row, or queues a saga behind it, first locks that row (or, when it is
 *   absent, inserts it), and reads the queue only after: so a saga is never queued behind a key
 *   that its holder's commit freed without seeing it, and a free key has no saga queued behind it.
 * Row locks are taken in the order saga rows, then key rows (sorted), then the queued sagas' units,
 * so that these transactions cannot deadlock on each other.
 */

/**
 * Hands the keys of sagas that ended, each to the oldest saga queued behind it (its admission unit
 * is due now, to be taken by a worker), or frees them. In the transaction that committed the ends,
 * after their saga rows: returns the units made due, for the dispatcher once committed.
 */
export async function releaseKeys(
  sql: Sql,
  table: Tables,
  ended: (KeyRef & { sagaId: string })[],
): Promise<HandedUnit[]> {
  const refs = JSON.stringify(ended.map((e) => ({ saga_id: e.sagaId, saga: e.saga, key: e.key })));
  const columns = sql.unsafe(recordsetColumns(ENDED));
  // Locked by a statement of its own, so that the queue is read by the next one after the lock:
  // a statement that waits for a row lock would read the other tables as they were before the wait.
  await sql`
    SELECT 1 FROM ${table.keyHolders} h JOIN jsonb_to_recordset(${refs}::text::jsonb) AS e(${columns})
      ON h.name = e.saga AND h.key = e.key
    ORDER BY h.name, h.key FOR UPDATE OF h`;
  return sql<HandedUnit[]>`
    WITH gone AS (
      SELECT h.name, h.key, h.saga_id AS previous
      FROM ${table.keyHolders} h JOIN jsonb_to_recordset(${refs}::text::jsonb) AS e(${columns})
        ON h.name = e.saga AND h.key = e.key AND h.saga_id = e.saga_id
    ), next AS (
      SELECT g.name, g.key, g.previous, q.id, q.version, q.priority
      FROM gone g CROSS JOIN LATERAL (
        SELECT s.id, s.version, s.priority
        FROM ${table.sagas} s JOIN ${table.units} u ON u.saga_id = s.id AND u.key = ${unitKey.admission}
        WHERE s.name = g.name AND s.concurrency_key = g.key AND s.status = 'pending'
          AND u.status = 'waiting' AND u.due_at IS NULL
        ORDER BY s.id LIMIT 1
      ) q
    ), handed AS (
      UPDATE ${table.keyHolders} h SET saga_id = n.id FROM next n WHERE h.name = n.name AND h.key = n.key
    ), freed AS (
      DELETE FROM ${table.keyHolders} h USING gone g
      WHERE h.name = g.name AND h.key = g.key AND NOT EXISTS (SELECT 1 FROM next n WHERE n.name = g.name AND n.key = g.key)
    )
    UPDATE ${table.units} x SET due_at = now(), seq = x.seq + 1
    FROM next n WHERE x.saga_id = n.id AND x.key = ${unitKey.admission}
    RETURNING n.previous, x.saga_id AS "sagaId", x.key AS unit, x.seq, 0 AS "delayMs", false AS claimed,
      true AS due, n.name AS "sagaName", n.version AS "sagaVersion", n.priority`;
}

/**
 * The admission of a pending saga whose admission unit is due at `seq` (its scheduled start came, or
 * its key was handed to it): true when it holds its key (it takes it if free), false when it does not
 * (another saga holds it: it queues, its admission unit no longer due) or it is no longer pending.
 * Queueing moves the saga on (`seq`), so that a transition decided before does not commit over it.
 */
export async function admit(sql: Sql, table: Tables, sagaId: string, seq: number): Promise<boolean> {
  const [row] = await sql<{ admitted: boolean }[]>`
    WITH w AS (
      SELECT s.id, s.name, s.concurrency_key
      FROM ${table.sagas} s JOIN ${table.units} x ON x.saga_id = s.id AND x.key = ${unitKey.admission}
      WHERE s.id = ${sagaId} AND s.status = 'pending' AND x.seq = ${seq} AND x.status = 'waiting'
      FOR UPDATE OF s
    ), held AS (
      INSERT INTO ${table.keyHolders} (name, key, saga_id) SELECT name, concurrency_key, id FROM w
      ON CONFLICT (name, key) DO UPDATE SET saga_id = saga_key_holders.saga_id
      RETURNING saga_id
    ), queued AS (
      UPDATE ${table.units} x SET due_at = NULL FROM w
      WHERE x.saga_id = w.id AND x.key = ${unitKey.admission} AND NOT EXISTS (SELECT 1 FROM held WHERE held.saga_id = w.id)
      RETURNING x.saga_id
    ), moved AS (
      UPDATE ${table.sagas} SET seq = seq + 1, updated_at = now() WHERE id IN (SELECT saga_id FROM queued)
    )
    SELECT EXISTS (SELECT 1 FROM held WHERE held.saga_id = ${sagaId}) AS admitted`;
  return row.admitted;
}

import { Injectable } from '@nestjs/common';
import { SagaStatus } from '../saga-status.js';
import { SagaDatabase } from './saga-database.js';
import { firstUuidV7Of } from './uuid-v7.js';

/**
 * The sagas retention deletes: those that finished for good. A `failed` saga is a dead letter that
 * waits for an operator, so it is kept whatever its age (a retry ends it anew, and it ages from then).
 */
const FINISHED = [SagaStatus.Completed, SagaStatus.Compensated];

/** Deletes finished sagas past their retention, with every row they own. */
@Injectable()
export class SagaRetentionStore {
  constructor(private readonly database: SagaDatabase) {}

  /**
   * Deletes up to `limit` sagas that finished more than `retentionMs` ago, with their units, events
   * and signals, in one short statement; returns how many it deleted.
   *
   * The sagas are found through the status index, by id: ids are UUIDv7, so a saga that finished
   * before the cutoff was created before it too, and its id is below the cutoff's (a worker whose
   * clock runs behind only finds them later). That needs no index on `completed_at`, which every
   * saga's final transition would have to write on the hot path.
   *
   * A child is kept as long as its parent is (a parent that compensates the step that ran it
   * compensates the child, even a completed one); once its parent is deleted, it is deleted on its
   * own age by a later batch. Rows locked by another worker's batch are skipped, so any number of
   * workers share the work without waiting for each other.
   */
  async deleteFinished(retentionMs: number, limit: number): Promise<number> {
    const { sql, table } = this.database;
    const cutoffId = firstUuidV7Of(new Date(Date.now() - retentionMs));
    const rows = await sql`
      WITH doomed AS (
        SELECT s.id FROM ${table.sagas} s
        WHERE s.status IN ${sql(FINISHED)} AND s.id < ${cutoffId}::uuid
          AND s.completed_at < now() - ${retentionMs} * interval '1 millisecond'
          AND (s.parent_id IS NULL OR NOT EXISTS (SELECT 1 FROM ${table.sagas} p WHERE p.id = s.parent_id))
        LIMIT ${limit}
        FOR UPDATE OF s SKIP LOCKED
      ), events AS (
        DELETE FROM ${table.events} e USING doomed WHERE e.saga_id = doomed.id
      ), units AS (
        DELETE FROM ${table.units} u USING doomed WHERE u.saga_id = doomed.id
      ), signals AS (
        DELETE FROM ${table.signals} g USING doomed WHERE g.saga_id = doomed.id
      )
      DELETE FROM ${table.sagas} s USING doomed WHERE s.id = doomed.id
      RETURNING s.id`;
    return rows.length;
  }
}

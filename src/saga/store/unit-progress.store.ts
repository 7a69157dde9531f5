import { Injectable } from '@nestjs/common';
import { SagaDatabase } from './saga-database.js';

/**
 * Writes what running handlers report with `ctx.progress()`. A progress write is not a transition:
 * it touches only the unit's `progress` column, never the saga row or any `seq`, so a transition
 * committed meanwhile is decided and checked as if it had not happened.
 */
@Injectable()
export class UnitProgressStore {
  constructor(private readonly database: SagaDatabase) {}

  /** Keeps `progress` on the unit while this attempt of it runs; a write that comes later does nothing. */
  async write(sagaId: string, unit: string, attempt: number, progress: unknown): Promise<void> {
    // Best effort, like the claims: a write lost in a crash is replaced by the next attempt's.
    await this.database.claimSql`
      UPDATE ${this.database.table.units} SET progress = ${JSON.stringify(progress)}::text::jsonb
      WHERE saga_id = ${sagaId} AND key = ${unit} AND status = 'running' AND attempts = ${attempt}`;
  }
}

import type postgres from 'postgres';
import { ACTIVE_SAGA_STATUSES } from '../saga-status.js';
import type { SagaDatabase } from '../store/saga-database.js';

const ACTIVE = [...ACTIVE_SAGA_STATUSES] as string[];

/** A child step on the way from a saga down to one of its child sagas. */
export interface LineageStep {
  /** The saga whose step started the next saga down. */
  sagaId: string;
  /** That child step's name. */
  step: string;
}

/**
 * A saga and the child sagas its child steps started, at any depth: what the kit runs, skips time
 * for and crashes as one. Its statements use the engine's connections, which name the tables with their schema.
 */
export class SagaTree {
  constructor(private readonly database: SagaDatabase) {}

  /**
   * The body of a recursive `tree(id)` CTE: the saga `root` and its descendants; without `root`,
   * every active saga (each with its children, which are active sagas too).
   */
  static members({ sql, table }: SagaDatabase, root: string | undefined): postgres.Fragment {
    return root
      ? sql`SELECT id FROM ${table.sagas} WHERE id = ${root}
            UNION ALL SELECT s.id FROM ${table.sagas} s JOIN tree ON s.parent_id = tree.id`
      : sql`SELECT id FROM ${table.sagas} WHERE status IN ${sql(ACTIVE)}`;
  }

  /** The saga and its descendants, the saga first. */
  async ids(root: string): Promise<string[]> {
    const { sql } = this.database;
    const rows = await sql<{ id: string }[]>`
      WITH RECURSIVE tree(id) AS (${SagaTree.members(this.database, root)}) SELECT id FROM tree`;
    return rows.map((row) => row.id);
  }

  /**
   * The child steps that lead down to the saga from its topmost ancestor, that ancestor's first:
   * `[]` for a saga started on its own, `[{ sagaId: trip, step: 'pay' }]` for the payment a trip started.
   */
  async lineage(id: string): Promise<LineageStep[]> {
    const { sql, table } = this.database;
    const rows = await sql<(LineageStep & { depth: number })[]>`
      WITH RECURSIVE up(id, parent_id, parent_step, depth) AS (
        SELECT id, parent_id, parent_step, 0 FROM ${table.sagas} WHERE id = ${id}
        UNION ALL
        SELECT s.id, s.parent_id, s.parent_step, up.depth + 1 FROM ${table.sagas} s JOIN up ON s.id = up.parent_id
      )
      SELECT up.parent_id AS "sagaId", u.name AS step, up.depth
      FROM up JOIN ${table.units} u ON u.saga_id = up.parent_id AND u.kind = 'step' AND u.step_index = up.parent_step
      ORDER BY up.depth DESC`;
    return rows.map(({ sagaId, step }) => ({ sagaId, step }));
  }
}

import {
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  type PgSchema,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** The Postgres schema of the engine's tables unless `SagaModule.forRoot({ schema })` names another. */
export const DEFAULT_SAGA_SCHEMA = 'saga';

/**
 * The engine's tables in `schema`, which is the module's `schema` option at run time. They live in
 * a schema of their own so that they sit beside the application's tables without clashing.
 */
export function sagaTables(schema: PgSchema) {
  const sagas = schema.table(
    'sagas',
    {
      /** UUIDv7, so that ordering by id is ordering by creation time. */
      id: uuid('id').primaryKey(),
      name: text('name').notNull(),
      version: integer('version').notNull(),
      status: text('status').notNull(),
      input: jsonb('input').notNull(),
      output: jsonb('output'),
      error: jsonb('error'),
      idempotencyKey: text('idempotency_key'),
      /**
       * The outbox, as columns: `seq` numbers the saga's current unit of work (its BullMQ job id is
       * `${id}-${seq}`), `phase` and `stepIndex` say what that unit runs, and `dueAt` when it is due
       * (null once the saga is terminal). Every transition rewrites them in the same statement.
       */
      seq: integer('seq').notNull().default(1),
      phase: text('phase').notNull().default('step'),
      stepIndex: integer('step_index').notNull().default(0),
      dueAt: timestamptz('due_at'),
      /** Set while a worker runs the current unit, so a cancel knows to wait for its outcome. */
      runningSince: timestamptz('running_since'),
      cancelRequested: boolean('cancel_requested').notNull().default(false),
      createdAt: timestamptz('created_at').notNull().defaultNow(),
      updatedAt: timestamptz('updated_at').notNull().defaultNow(),
      completedAt: timestamptz('completed_at'),
    },
    (t) => [
      uniqueIndex('sagas_name_idempotency_key_idx').on(t.name, t.idempotencyKey),
      index('sagas_name_id_idx').on(t.name, t.id),
      index('sagas_status_id_idx').on(t.status, t.id),
    ],
  );

  const sagaSteps = schema.table(
    'saga_steps',
    {
      sagaId: uuid('saga_id')
        .notNull()
        .references(() => sagas.id, { onDelete: 'cascade' }),
      stepIndex: integer('step_index').notNull(),
      name: text('name').notNull(),
      status: text('status').notNull().default('pending'),
      attempts: integer('attempts').notNull().default(0),
      startedAt: timestamptz('started_at'),
      finishedAt: timestamptz('finished_at'),
      output: jsonb('output'),
      error: jsonb('error'),
      compensationStatus: text('compensation_status'),
      compensationAttempts: integer('compensation_attempts').notNull().default(0),
      compensationStartedAt: timestamptz('compensation_started_at'),
      compensationFinishedAt: timestamptz('compensation_finished_at'),
      compensationError: jsonb('compensation_error'),
    },
    (t) => [primaryKey({ columns: [t.sagaId, t.stepIndex] })],
  );

  /**
   * Append-only history of every transition; never updated. Written twice per step, so it carries
   * one index (its key, which also serves "the events of a saga, in order") and no foreign key: the
   * statements that insert events insert them only for the saga rows they have just updated.
   */
  const sagaEvents = schema.table(
    'saga_events',
    {
      id: bigserial('id', { mode: 'number' }).notNull(),
      sagaId: uuid('saga_id').notNull(),
      type: text('type').notNull(),
      step: text('step'),
      attempt: integer('attempt'),
      at: timestamptz('at').notNull().defaultNow(),
      data: jsonb('data'),
    },
    (t) => [primaryKey({ columns: [t.sagaId, t.id] })],
  );
  return { sagas, sagaSteps, sagaEvents };
}

/**
 * The tables in the default schema: what drizzle-kit generates the engine's migrations from
 * (`drizzle-saga.config.ts`), and the row types. Queries use the tables of the configured schema.
 */
export const sagaSchema = pgSchema(DEFAULT_SAGA_SCHEMA);
export const { sagas, sagaSteps, sagaEvents } = sagaTables(sagaSchema);

import {
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  type PgSchema,
  smallint,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';

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
       * Bumped by every transition and claim; a transition commits only on the `seq` it was decided
       * on, so that each is decided on the saga as it is (see SagaStore.commit).
       */
      seq: integer('seq').notNull().default(1),
      cancelRequested: boolean('cancel_requested').notNull().default(false),
      createdAt: timestamptz('created_at').notNull().defaultNow(),
      updatedAt: timestamptz('updated_at').notNull().defaultNow(),
      completedAt: timestamptz('completed_at'),
      /** The saga whose child step started this one, and that step's index. */
      parentId: uuid('parent_id'),
      parentStep: integer('parent_step'),
      /** When a scheduled start is due (null: started at once). */
      startAt: timestamptz('start_at'),
      deadlineAt: timestamptz('deadline_at'),
      /** 1 (first) .. 10: with a backlog, the units of a saga of a lower number are taken first. */
      priority: smallint('priority').notNull().default(5),
      /** The value of its definition's `concurrencyKey` for its input; null when it has none. */
      concurrencyKey: text('concurrency_key'),
      /** The W3C `traceparent` of its start span, when tracing was on: every attempt's span joins that trace. */
      traceContext: text('trace_context'),
    },
    (t) => [
      uniqueIndex('sagas_name_idempotency_key_idx').on(t.name, t.idempotencyKey),
      index('sagas_name_id_idx').on(t.name, t.id),
      index('sagas_status_id_idx').on(t.status, t.id),
      // Only children are indexed: the other sagas' inserts do not pay for it.
      index('sagas_parent_id_idx')
        .on(t.parentId, t.id)
        .where(sql`${t.parentId} IS NOT NULL`),
      // The sagas queued behind a key, oldest first; only keyed sagas, and only while pending.
      index('sagas_queued_idx')
        .on(t.name, t.concurrencyKey, t.id)
        .where(sql`${t.concurrencyKey} IS NOT NULL AND ${t.status} = 'pending'`),
    ],
  );

  /**
   * The saga that holds each concurrency key: one row per key (the primary key is the guarantee
   * that a key never has two holders). A row is inserted by the start (or the admission) that takes
   * a free key, and handed to the oldest saga queued for the key, or deleted, by the commit that
   * ends its holder: never by anything but a Postgres transaction.
   */
  const sagaKeyHolders = schema.table(
    'saga_key_holders',
    {
      name: text('name').notNull(),
      key: text('key').notNull(),
      sagaId: uuid('saga_id').notNull(),
    },
    (t) => [primaryKey({ columns: [t.name, t.key] })],
  );

  /**
   * The saga's units of work, one row each, updated in place: a step's forward run, its
   * compensation, and the saga's control unit (its deadline). A unit with a due time is due work
   * (the outbox): its BullMQ job is `${sagaId}-${key}-${seq}`, and the reconciler enqueues it if
   * Redis lacks it. Like the events, it has no foreign key: rows are only inserted by the
   * statements that have just inserted or updated their saga.
   */
  const sagaUnits = schema.table(
    'saga_units',
    {
      sagaId: uuid('saga_id').notNull(),
      key: text('key').notNull(),
      kind: text('kind').notNull(),
      /** The step it runs or undoes; null for the control unit. */
      stepIndex: integer('step_index'),
      /** The step's name (the control unit's: `saga`). */
      name: text('name').notNull(),
      /** The parallel group of a step unit, if any. */
      stepGroup: text('step_group'),
      /** What a step unit's step does: `task`, `wait` (for `signal`) or `child`. */
      stepKind: text('step_kind').notNull().default('task'),
      signal: text('signal'),
      status: text('status').notNull(),
      seq: integer('seq').notNull().default(0),
      attempts: integer('attempts').notNull().default(0),
      /** When its job is due; null when none is (not reached yet, or ended). */
      dueAt: timestamptz('due_at'),
      startedAt: timestamptz('started_at'),
      finishedAt: timestamptz('finished_at'),
      output: jsonb('output'),
      error: jsonb('error'),
      /** The saga's `seq` when it ended: compensation runs in the reverse of this order. */
      endedSeq: integer('ended_seq'),
      /** A wait step's signal payload, once it has one (it may arrive before the step waits). */
      payload: jsonb('payload'),
      /** A child step's child saga, once started. */
      childId: uuid('child_id'),
      /** What its handler last reported with `ctx.progress()`: a number 0..100 or a small object. */
      progress: jsonb('progress'),
    },
    (t) => [primaryKey({ columns: [t.sagaId, t.key] })],
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
  /**
   * Every signal delivered to a saga, kept whether or not a step took it yet (a wait step takes it
   * into its unit's payload): the inbox, and the record of which Idempotency-Keys were delivered.
   */
  const sagaSignals = schema.table(
    'saga_signals',
    {
      id: bigserial('id', { mode: 'number' }).notNull(),
      sagaId: uuid('saga_id').notNull(),
      name: text('name').notNull(),
      idempotencyKey: text('idempotency_key'),
      payload: jsonb('payload'),
      receivedAt: timestamptz('received_at').notNull().defaultNow(),
    },
    (t) => [
      primaryKey({ columns: [t.sagaId, t.id] }),
      // DESIGN.md: a key delivers once to a saga, whatever the signal.
      uniqueIndex('saga_signals_key_idx').on(t.sagaId, t.idempotencyKey),
    ],
  );
  /**
   * The state of the cron schedules declared in code, one row each, written at boot and advanced by
   * the worker that fires them: `next_fire_at` is the one due time (a fire time missed while no
   * worker ran is still due when one starts again); `cron` and `timezone` are those it was computed
   * from, so that a changed schedule starts afresh.
   */
  const sagaSchedules = schema.table('saga_schedules', {
    id: text('id').primaryKey(),
    sagaName: text('saga_name').notNull(),
    cron: text('cron').notNull(),
    timezone: text('timezone').notNull(),
    nextFireAt: timestamptz('next_fire_at').notNull(),
    lastFireAt: timestamptz('last_fire_at'),
    lastSagaId: uuid('last_saga_id'),
    /** Sagas started by it so far. */
    fires: integer('fires').notNull().default(0),
  });
  return { sagas, sagaUnits, sagaEvents, sagaSignals, sagaSchedules, sagaKeyHolders };
}

/**
 * The tables in the default schema: what drizzle-kit generates the engine's migrations from
 * (`drizzle-saga.config.ts`), and the row types. Queries use the tables of the configured schema.
 */
export const sagaSchema = pgSchema(DEFAULT_SAGA_SCHEMA);
export const { sagas, sagaUnits, sagaEvents, sagaSignals, sagaSchedules, sagaKeyHolders } =
  sagaTables(sagaSchema);

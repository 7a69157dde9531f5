import { Injectable } from '@nestjs/common';
import type postgres from 'postgres';
import type { SagaDefinition } from '../definition/saga-definition.interface.js';
import { MicroBatcher } from '../execution/micro-batcher.js';
import { initialUnits, queuedUnits, type NewUnit } from '../machine/new-saga.js';
import { CANCELLED_ERROR } from '../machine/decide.js';
import {
  unitAtCreation,
  unitKey,
  UnitStatus,
  type SagaSnapshot,
  type UnitSnapshot,
} from '../machine/saga-snapshot.js';
import type { Transition, UnitChange } from '../machine/transition.js';
import { ACTIVE_SAGA_STATUSES, TERMINAL_SAGA_STATUSES, type SagaStatus } from '../saga-status.js';
import { admit, releaseKeys } from './concurrency-keys.js';
import { recordsetColumns, type Columns, type RecordOf } from './recordset.js';
import { SagaDatabase } from './saga-database.js';
import { uuidV7 } from './uuid-v7.js';

/** When a new saga starts, and how long it may run. */
export interface SagaTiming {
  /** Its first steps are due this long from now. @defaultValue 0 */
  startInMs?: number;
  /** Its first steps are due at this time (instead of `startInMs`). */
  startAt?: Date;
  /** It is cancelled with `DeadlineExceeded` this long after it starts. @defaultValue none */
  deadlineMs?: number;
  /** 1 (first) .. 10. @defaultValue the definition's */
  priority?: number;
}

/** A unit of work that Postgres says is due: its job is `${sagaId}-${unit}-${seq}`, due `delayMs` from now. */
export interface DueUnit {
  sagaId: string;
  unit: string;
  seq: number;
  delayMs: number;
  /** Its attempt is counted and marked running already (by the commit that scheduled it, or a claim). */
  claimed: boolean;
  /** It waits for a time (a deadline, a timeout) or for its child saga: its job runs no attempt. */
  due?: boolean;
  /** The definition its saga started on: only a worker that has it may run the unit. */
  sagaName: string;
  sagaVersion: number;
  /** Its saga's priority, which its job carries. @defaultValue 5 */
  priority?: number;
  /**
   * The saga as the statement that scheduled the unit left it, when known: its job carries it, so
   * that the worker need not read it back (see claim).
   */
  snapshot?: SagaSnapshot;
}

export interface CreatedSaga {
  id: string;
  name: string;
  status: SagaStatus;
  created: boolean;
}

/**
 * A start as the store found it: `sameInput` is false when its key was used with another input;
 * `units` are those it scheduled (none when the saga existed already).
 */
export interface StoredStart extends CreatedSaga {
  sameInput: boolean;
  units: DueUnit[];
}

/** The pool, or a transaction on it. */
export type StoreSql = postgres.Sql | postgres.TransactionSql;

const TERMINAL = TERMINAL_SAGA_STATUSES as string[];

const NEW_SAGA = {
  id: 'uuid',
  name: 'text',
  version: 'int',
  input: 'jsonb',
  key: 'text',
  start_in_ms: 'float8',
  /** As the client gave it, for the view (the units are due `start_in_ms` from the statement's now). */
  start_at: 'text',
  deadline_in_ms: 'float8',
  parent_id: 'uuid',
  parent_step: 'int',
  priority: 'int',
  concurrency_key: 'text',
  trace_context: 'text',
  units: 'jsonb',
  /** A keyed saga's units if its key is taken (see queuedUnits); null when it does not try to take it. */
  queued_units: 'jsonb',
} as const;

const NEW_UNIT = {
  key: 'text',
  kind: 'text',
  step: 'int',
  name: 'text',
  group: 'text',
  step_kind: 'text',
  signal: 'text',
  status: 'text',
  due_in_ms: 'float8',
} as const;

/** A new saga's rows, as one statement inserts them (a start, or a child step's child); null fields are left out. */
export type NewSagaRecord = Partial<RecordOf<typeof NEW_SAGA>>;
type NewUnitRecord = Partial<RecordOf<typeof NEW_UNIT>>;

/** A unit to claim; `known_seq` is the saga's `seq` in the snapshot its job carries, if any. */
const UNIT_REF = { saga_id: 'uuid', key: 'text', seq: 'int', known_seq: 'int' } as const;

const TRANSITION = {
  saga_id: 'uuid',
  seq: 'int',
  status: 'text',
  terminal: 'boolean',
  set_output: 'boolean',
  output: 'jsonb',
  set_error: 'boolean',
  error: 'jsonb',
  units: 'jsonb',
  events: 'jsonb',
} as const;

const UNIT_CHANGE = {
  key: 'text',
  kind: 'text',
  step: 'int',
  name: 'text',
  create: 'boolean',
  status: 'text',
  set_output: 'boolean',
  output: 'jsonb',
  set_error: 'boolean',
  error: 'jsonb',
  reset: 'boolean',
  ended: 'boolean',
  due_in_ms: 'float8',
  unschedule: 'boolean',
  start: 'boolean',
  payload: 'jsonb',
  child_id: 'uuid',
} as const;

/**
 * Every write the engine makes. Each transition is one statement (so one transaction) that also
 * writes the units it schedules (the outbox), and the hot-path statements take many sagas at once,
 * so that concurrent callers share them. They are data-modifying CTEs over JSON recordsets, which
 * the query builder cannot express, hence SQL. JSON parameters are sent as text and cast in SQL, so
 * they mean the same on any client (drizzle replaces the json serializers of the client it wraps).
 */
@Injectable()
export class SagaStore {
  private readonly parts: StatementParts;

  constructor(private readonly database: SagaDatabase) {
    this.parts = statementParts(database.sql, database.table);
  }

  private get table(): SagaDatabase['table'] {
    return this.database.table;
  }

  /**
   * Records a new saga and its units, or returns the saga already started with this idempotency
   * key, saying whether it was started with this input. Concurrent starts share one statement (and
   * one WAL flush).
   */
  create(
    def: SagaDefinition,
    input: unknown,
    idempotencyKey: string | undefined,
    timing: SagaTiming & { traceContext?: string } = {},
  ): Promise<StoredStart> {
    return this.creates.push(SagaStore.newSaga(def, input, { ...timing, idempotencyKey }));
  }

  /** The rows of a new saga with a new id: its units from its definition, its timing, its parent. */
  static newSaga(
    def: SagaDefinition,
    input: unknown,
    options: SagaTiming & {
      idempotencyKey?: string;
      parent?: { id: string; step: number };
      traceContext?: string;
    },
  ): NewSagaRecord {
    const startInMs = options.startAt
      ? Math.max(0, options.startAt.getTime() - Date.now())
      : (options.startInMs ?? 0);
    const deadlineMs = options.deadlineMs ?? def.deadlineMs;
    const timing = { startInMs, deadlineInMs: deadlineMs === undefined ? undefined : startInMs + deadlineMs };
    const concurrencyKey = def.concurrencyKey?.(input) ?? null;
    let units: NewUnitRecord[];
    let queued: NewUnitRecord[] | null = null;
    if (concurrencyKey === null) units = unitRecords(def, input, timing);
    else {
      // A keyed start due now tries its key with its insert; a scheduled one queues when its start comes.
      const initial = initialUnits(def, input, timing);
      if (startInMs > 0) units = queuedUnits(initial, startInMs).map(unitRecord);
      else [units, queued] = [initial.map(unitRecord), queuedUnits(initial, null).map(unitRecord)];
    }
    const record: NewSagaRecord = {
      id: uuidV7(),
      name: def.name,
      version: def.version,
      input,
      start_in_ms: startInMs,
      priority: options.priority ?? def.priority,
      units,
    };
    // The fields most sagas leave null are left out (read as null), field by field: see packSnapshot.
    if (options.idempotencyKey !== undefined) record.key = options.idempotencyKey;
    if (options.startAt) record.start_at = options.startAt.toISOString();
    if (timing.deadlineInMs !== undefined) record.deadline_in_ms = timing.deadlineInMs;
    if (options.parent) [record.parent_id, record.parent_step] = [options.parent.id, options.parent.step];
    if (concurrencyKey !== null) record.concurrency_key = concurrencyKey;
    if (queued) record.queued_units = queued;
    if (options.traceContext !== undefined) record.trace_context = options.traceContext;
    return record;
  }

  /** The units a new saga's rows schedule (queued behind its key or not): for the dispatcher, once committed. */
  static dueUnitsOf(saga: NewSagaRecord, queued = false): DueUnit[] {
    const units = (queued ? saga.queued_units : saga.units) as NewUnitRecord[];
    const snapshot = SagaStore.newSnapshot(saga, units);
    return units
      .filter((u) => u.due_in_ms != null)
      .map((u) => ({
        sagaId: saga.id!,
        unit: u.key!,
        seq: 1,
        delayMs: u.due_in_ms!,
        claimed: false,
        due: u.status === UnitStatus.Waiting,
        sagaName: saga.name!,
        sagaVersion: saga.version!,
        priority: saga.priority!,
        snapshot,
      }));
  }

  /** A new saga as its rows are inserted (see insertSagas): what its first units' jobs carry. */
  private static newSnapshot(saga: NewSagaRecord, units: NewUnitRecord[]): SagaSnapshot {
    const snapshot: SagaSnapshot = {
      id: saga.id!,
      name: saga.name!,
      version: saga.version!,
      status: 'pending',
      seq: 1,
      cancelRequested: false,
      priority: saga.priority!,
      input: saga.input,
      parent: saga.parent_id == null ? null : { id: saga.parent_id, step: saga.parent_step! },
      units: units.map((u) =>
        unitAtCreation({
          key: u.key!,
          kind: u.kind as UnitSnapshot['kind'],
          step: u.step ?? null,
          name: u.name!,
          status: u.status as UnitSnapshot['status'],
          scheduled: u.due_in_ms != null,
        }),
      ),
    };
    if (saga.trace_context != null) snapshot.traceContext = saga.trace_context;
    return snapshot;
  }

  private readonly creates = new MicroBatcher<NewSagaRecord, StoredStart>(
    (sagas) => this.createMany(sagas),
    // Two starts with one idempotency key must not share a statement: the second must see the first.
    (saga) => (saga.key == null ? saga.id! : `${saga.name}\u0000${saga.key}`),
  );

  private async createMany(sagas: NewSagaRecord[]): Promise<StoredStart[]> {
    const { sql } = this.database;
    const inserted = await this.insertSagas(sagas, sql);
    const created = new Map(inserted.map((row) => [row.id, row]));
    const taken = sagas.filter((saga) => !created.has(saga.id!));
    // Their keys were taken. Read in a new statement: a concurrent insert that won the race is not
    // visible to the snapshot of the statement above. jsonb equality compares the inputs as JSON
    // values (key order and number spelling aside), as both went through the same schema.
    const existing = taken.length
      ? await sql<(CreatedSaga & { key: string; sameInput: boolean })[]>`
          SELECT s.id, s.name, s.status, s.idempotency_key AS key, s.input = t.input AS "sameInput"
          FROM ${this.table.sagas} s
          JOIN jsonb_to_recordset(${JSON.stringify(taken)}::text::jsonb) AS t(name text, key text, input jsonb)
            ON s.name = t.name AND s.idempotency_key = t.key`
      : [];
    return sagas.map((saga) => {
      const row = created.get(saga.id!);
      if (!row) {
        const found = existing.find((e) => e.name === saga.name && e.key === saga.key)!;
        const { id, name, status, sameInput } = found;
        return { id, name, status, created: false, sameInput, units: [] };
      }
      const { id, name, status, queued } = row;
      return { id, name, status, created: true, sameInput: true, units: SagaStore.dueUnitsOf(saga, queued) };
    });
  }

  /**
   * Inserts new sagas with their units and start events; those whose idempotency key is taken are
   * not. A keyed saga started now takes its key if it is free (the oldest of a batch, for a key
   * several of them name), and is queued behind it if not (`queued`); only a batch with such a saga
   * runs that part of the statement.
   */
  private insertSagas(sagas: NewSagaRecord[], sql: StoreSql) {
    const { newSaga, newUnit, keyed, unkeyed } = this.parts;
    const keys = sagas.some((saga) => saga.queued_units != null) ? keyed : unkeyed;
    return sql<{ id: string; name: string; status: SagaStatus; queued: boolean }[]>`
      WITH new AS (
        SELECT * FROM jsonb_to_recordset(${JSON.stringify(sagas)}::text::jsonb) AS new(${newSaga})
      ), ins AS (
        INSERT INTO ${this.table.sagas} (id, name, version, status, input, idempotency_key, start_at, deadline_at, parent_id,
          parent_step, priority, concurrency_key, trace_context)
        SELECT id, name, version, 'pending', input, key,
          coalesce(start_at::timestamptz, CASE WHEN start_in_ms > 0 THEN now() + start_in_ms * interval '1 millisecond' END),
          now() + deadline_in_ms * interval '1 millisecond', parent_id, parent_step, priority, concurrency_key,
          trace_context
        FROM new
        ON CONFLICT (name, idempotency_key) DO NOTHING
        RETURNING id, name, status
      ), ${keys.held}units AS (
        INSERT INTO ${this.table.units} (saga_id, key, kind, step_index, name, step_group, step_kind, signal, status, seq,
          due_at)
        SELECT ins.id, u.key, u.kind, u.step, u.name, u."group", u.step_kind, u.signal, u.status,
          (u.due_in_ms IS NOT NULL)::int, now() + u.due_in_ms * interval '1 millisecond'
        FROM ins JOIN new ON new.id = ins.id, jsonb_to_recordset(${keys.units}) AS u(${newUnit})
      ), ev AS (
        INSERT INTO ${this.table.events} (saga_id, type) SELECT id, 'saga_started' FROM ins
      )
      SELECT id, name, status, ${keys.queued} AS queued FROM ins`;
  }

  /**
   * Claims a unit for an attempt: counts the attempt, marks it running and returns the snapshot to
   * run it with. Returns nothing when the unit is no longer at `seq` or not due (its job is stale:
   * a duplicate, or already recorded) or the saga has ended. A step of a saga that stopped going
   * forward is returned unclaimed, for its worker to record that it did not run. Concurrent claims
   * share one statement.
   *
   * `known` is the saga as the statement that scheduled the unit left it, when the unit's job carries
   * it: if the saga is still at that `seq`, its units are as `known` shows them, and are not read
   * back. Every transition and claim bumps `seq`; the two writes that do not (a child's end waking
   * its parent's waiting unit, a concurrency key handed to a queued saga) only make a waiting unit
   * due, whose job reads the saga afresh (see StepWorker.unitToRun).
   */
  claim(sagaId: string, unit: string, seq: number, known?: SagaSnapshot): Promise<SagaSnapshot | undefined> {
    return this.claims.push({
      ref: { saga_id: sagaId, key: unit, seq, known_seq: known?.seq ?? null },
      known,
    });
  }

  private readonly claims = new MicroBatcher<
    { ref: RecordOf<typeof UNIT_REF>; known?: SagaSnapshot },
    SagaSnapshot | undefined
  >(
    (units) => this.claimMany(units),
    (unit) => unit.ref.saga_id!,
  );

  private async claimMany(
    claims: { ref: RecordOf<typeof UNIT_REF>; known?: SagaSnapshot }[],
  ): Promise<(SagaSnapshot | undefined)[]> {
    const sql = this.database.claimSql;
    const units = claims.map((c) => c.ref);
    const ordered = bySagaId(units, (u) => u.saga_id!);
    const ids = uuidArray(units.map((u) => u.saga_id!));
    const rows = await sql<
      (Omit<SnapshotRow, 'units'> & { units: UnitRow[] | null; claimed: UnitRow | null; seen_seq: number })[]
    >`
      WITH u AS (
        SELECT * FROM jsonb_to_recordset(${JSON.stringify(ordered)}::text::jsonb)
          AS u(${this.parts.unitRef})
      ), seen AS MATERIALIZED (
        -- Read once, by primary key. Inlined into the join below, on a table not analyzed yet (a new
        -- database), it was planned as a scan of a whole index per saga: claims took 3 times longer.
        SELECT id, seq FROM ${this.table.sagas} WHERE id = ANY(${ids}::uuid[])
      ), s AS (
        UPDATE ${this.table.sagas} SET
          seq = sagas.seq + 1,
          status = CASE WHEN sagas.status = 'pending' THEN 'running' ELSE sagas.status END,
          updated_at = now()
        FROM u JOIN ${this.table.units} x ON x.saga_id = u.saga_id AND x.key = u.key
        WHERE sagas.id = ANY(${ids}::uuid[]) AND x.saga_id = ANY(${ids}::uuid[]) AND sagas.id = u.saga_id
          -- Not ended, rather than one of the active statuses: the same rows, but not a condition the
          -- status index can serve, so the planner finds them by id instead of reading every active saga.
          AND sagas.status NOT IN ${this.parts.ended}
          AND x.seq = u.seq AND x.due_at IS NOT NULL AND x.status IN ('pending', 'running')
        RETURNING sagas.*, u.key
      ), claimed AS (
        UPDATE ${this.table.units} x SET
          status = 'running', attempts = x.attempts + 1, started_at = coalesce(x.started_at, now())
        FROM s
        WHERE x.saga_id = ANY(${ids}::uuid[]) AND x.saga_id = s.id AND x.key = s.key
          AND NOT (x.kind = 'step' AND s.status = 'compensating')
          -- Checked again on the row as it is when this statement waited for another writer's lock
          -- on it: a unit recorded meanwhile is not claimed again.
          AND x.status IN ('pending', 'running') AND x.due_at IS NOT NULL
        RETURNING x.saga_id, ${this.parts.unitColumns}
      ), ev AS (
        INSERT INTO ${this.table.events} (saga_id, type, step, attempt)
        SELECT saga_id, CASE WHEN kind = 'step' THEN 'step_started' ELSE 'compensation_started' END, name, attempts
        FROM claimed
      )
      SELECT ${this.parts.sagaColumns},
        CASE WHEN u.known_seq = seen.seq THEN NULL ELSE ${this.parts.unitsOf} END AS units,
        row_to_json(claimed) AS claimed, seen.seq AS seen_seq
      FROM s JOIN seen ON seen.id = s.id JOIN u ON u.saga_id = s.id LEFT JOIN claimed ON claimed.saga_id = s.id`;
    // A claim that waited for another writer's lock on the saga row updated the row as that writer
    // left it, but read the units as they were before: a statement of its own reads them again.
    const raced = rows.filter((row) => row.seen_seq + 1 !== row.seq);
    const reread = new Map(
      await Promise.all(
        raced.map(async (row) => [row.id, await this.snapshot(row.id, this.database.sql)] as const),
      ),
    );
    const claimOf = new Map(claims.map((c) => [c.ref.saga_id!, c]));
    const byId = new Map(
      rows.map((row) => {
        const { ref, known } = claimOf.get(row.id)!;
        if (reread.has(row.id)) {
          // Claimed, and still running when read again (another delivery may have recorded it since).
          const saga = reread.get(row.id);
          const still = saga?.units.find((u) => u.key === ref.key && u.seq === ref.seq);
          return [row.id, row.claimed && still?.status === UnitStatus.Running ? saga : undefined];
        }
        // The units as they were before the claim counted this attempt (read by the statement, or
        // known from the job), with the claimed one as the claim left it.
        const before = row.units ? row.units.map(toUnit) : known!.units;
        const claimed = row.claimed && toUnit(row.claimed);
        const units = claimed ? before.map((u) => (u.key === claimed.key ? claimed : u)) : before;
        return [row.id, toSnapshot(row, units)];
      }),
    );
    return units.map((unit) => byId.get(unit.saga_id!));
  }

  /**
   * Commits one transition, in a statement shared with concurrent ones. Returns the units it
   * scheduled in other sagas (children it started, asked to stop or woke), for the dispatcher; or
   * false if the saga moved on.
   */
  async record(transition: Transition): Promise<DueUnit[] | false> {
    return this.records.push(transition);
  }

  private readonly records = new MicroBatcher<Transition, DueUnit[] | false>(
    async (transitions) => {
      const committed = await this.commit(transitions);
      return transitions.map((t) => committed.get(t.sagaId) ?? false);
    },
    (transition) => transition.sagaId,
  );

  /** The saga, if `unit` is still at `seq` and due, without claiming anything. */
  async current(sagaId: string, unit: string, seq: number): Promise<SagaSnapshot | undefined> {
    const saga = await this.snapshot(sagaId);
    const found = saga?.units.find((u) => u.key === unit);
    return saga && found?.seq === seq && found.scheduled && ACTIVE_SAGA_STATUSES.includes(saga.status)
      ? saga
      : undefined;
  }

  /** The saga as it is now, without claiming anything. */
  async snapshot(sagaId: string, sql: StoreSql = this.database.sql): Promise<SagaSnapshot | undefined> {
    const [row] = await sql<SnapshotRow[]>`
      SELECT ${this.parts.sagaColumns}, ${this.parts.unitsOf} AS units FROM ${this.table.sagas} s WHERE s.id = ${sagaId}`;
    return row && toSnapshot(row, row.units.map(toUnit));
  }

  /**
   * Commits transitions, each only if its saga is still at the transition's `seq`. Returns, for
   * each saga whose transition was committed, the units it scheduled in other sagas (children
   * started, asked to stop or woken); the sagas missing from it changed meanwhile.
   */
  async commit(transitions: Transition[], sql?: StoreSql): Promise<Map<string, DueUnit[]>> {
    if (transitions.length === 0) return new Map();
    const reachOut = transitions.some(
      (t) => t.children.length || t.stopChildren.length || t.wakeParent || t.releaseKey,
    );
    // What a transition does to other sagas commits with it: in one transaction.
    if (reachOut && !sql)
      return this.database.sql.begin((tx) => this.commit(transitions, tx)) as Promise<Map<string, DueUnit[]>>;
    sql ??= this.database.sql;
    const ids = await this.commitStatement(transitions, sql);
    const committed = new Map<string, DueUnit[]>();
    for (const t of transitions.filter((x) => ids.has(x.sagaId))) {
      const others: DueUnit[] = [];
      if (t.children.length) {
        const records = t.children.map((child) => child.record as NewSagaRecord);
        const inserted = await this.insertSagas(records, sql);
        others.push(
          ...records.flatMap((r) => SagaStore.dueUnitsOf(r, inserted.find((i) => i.id === r.id)!.queued)),
        );
      }
      if (t.stopChildren.length) others.push(...(await this.stopSagas(t.stopChildren, sql)));
      if (t.wakeParent) others.push(...(await this.wakeParent(t.wakeParent, sql)));
      committed.set(t.sagaId, others);
    }
    const ended = transitions.filter((t) => t.releaseKey && committed.has(t.sagaId));
    if (ended.length) {
      const handed = await releaseKeys(
        sql,
        this.table,
        ended.map((t) => ({ ...t.releaseKey!, sagaId: t.sagaId })),
      );
      for (const { previous, ...unit } of handed) committed.get(previous)!.push(unit);
    }
    return committed;
  }

  /**
   * Takes a pending saga's key for it, when its admission unit is due at `seq`: true if it holds its
   * key now; false if another saga does (it is queued until that one ends) or it is not pending.
   */
  admit(sagaId: string, seq: number): Promise<boolean> {
    return admit(this.database.sql, this.table, sagaId, seq);
  }

  /**
   * Asks sagas to stop, for their parent: each is flagged (so that a transition decided before does
   * not commit) and its control unit is due now, to stop it going forward. A completed one is
   * compensated: the one way out of a terminal status, for a parent that undoes the step that ran it.
   */
  private async stopSagas(ids: string[], sql: StoreSql): Promise<DueUnit[]> {
    return sql<DueUnit[]>`
      WITH s AS (
        UPDATE ${this.table.sagas} SET cancel_requested = true, seq = seq + 1, updated_at = now(),
          status = CASE WHEN status = 'completed' THEN 'compensating' ELSE status END,
          error = CASE WHEN status = 'completed' THEN ${JSON.stringify(CANCELLED_ERROR)}::text::jsonb ELSE error END,
          completed_at = CASE WHEN status = 'completed' THEN NULL ELSE completed_at END
        WHERE id = ANY(${uuidArray(ids)}::uuid[]) AND status IN ('pending', 'running', 'compensating', 'completed')
        RETURNING id, status, name, version, priority
      ), ev AS (
        INSERT INTO ${this.table.events} (saga_id, type) SELECT id, 'cancel_requested' FROM s
      )
      INSERT INTO ${this.table.units} (saga_id, key, kind, name, status, seq, due_at)
      SELECT id, ${unitKey.control}, 'control', ${unitKey.control}, 'waiting', 1, now() FROM s
      ON CONFLICT (saga_id, key) DO UPDATE SET status = 'waiting', seq = saga_units.seq + 1, due_at = now()
      RETURNING saga_id AS "sagaId", key AS unit, seq, 0 AS "delayMs", false AS claimed, true AS due,
        (SELECT name FROM s WHERE s.id = saga_id) AS "sagaName", (SELECT version FROM s WHERE s.id = saga_id) AS "sagaVersion",
        (SELECT priority FROM s WHERE s.id = saga_id) AS priority`;
  }

  /** Wakes the step of the parent that waits for this saga (to run it, or to undo it), if it still waits. */
  private async wakeParent(parent: { id: string; step: number }, sql: StoreSql): Promise<DueUnit[]> {
    const keys = [unitKey.step(parent.step), unitKey.compensation(parent.step)];
    return sql<DueUnit[]>`
      UPDATE ${this.table.units} x SET due_at = now(), seq = x.seq + 1
      FROM ${this.table.sagas} s
      WHERE x.saga_id = ${parent.id} AND x.key IN ${sql(keys)} AND x.status = 'waiting' AND s.id = x.saga_id
      RETURNING x.saga_id AS "sagaId", x.key AS unit, x.seq, 0 AS "delayMs", false AS claimed, true AS due,
        s.name AS "sagaName", s.version AS "sagaVersion", s.priority`;
  }

  /** The statement that commits transitions, each only if its saga is still at `seq`; returns their ids. */
  private async commitStatement(transitions: Transition[], sql: StoreSql): Promise<Set<string>> {
    const payload = bySagaId(transitions, (t) => t.sagaId).map(transitionRecord);
    const ids = uuidArray(transitions.map((t) => t.sagaId));
    const { dueAt } = this.parts;
    const rows = await sql<{ id: string }[]>`
      WITH t AS (
        SELECT * FROM jsonb_to_recordset(${JSON.stringify(payload)}::text::jsonb)
          AS t(${this.parts.transition})
      ), s AS (
        UPDATE ${this.table.sagas} SET
          seq = sagas.seq + 1, status = t.status,
          output = CASE WHEN t.set_output THEN t.output ELSE sagas.output END,
          error = CASE WHEN t.set_error THEN t.error ELSE sagas.error END,
          updated_at = now(),
          completed_at = CASE WHEN t.terminal THEN now() END
        FROM t
        WHERE sagas.id = ANY(${ids}::uuid[]) AND sagas.id = t.saga_id AND sagas.seq = t.seq
        RETURNING sagas.id
      ), p AS (
        SELECT t.saga_id, t.seq AS saga_seq, p.*
        FROM t JOIN s ON s.id = t.saga_id, jsonb_to_recordset(t.units) AS p(${this.parts.unitChange})
      ), updated AS (
        UPDATE ${this.table.units} x SET
          status = p.status,
          output = CASE WHEN p.set_output THEN p.output ELSE x.output END,
          error = CASE WHEN p.set_error THEN p.error ELSE x.error END,
          attempts = CASE WHEN p.reset THEN 0 ELSE x.attempts END + (p.start IS TRUE)::int,
          seq = x.seq + (p.due_in_ms IS NOT NULL)::int,
          due_at = CASE WHEN p.due_in_ms IS NOT NULL THEN ${dueAt}
            WHEN p.unschedule THEN NULL ELSE x.due_at END,
          started_at = CASE WHEN p.start THEN coalesce(x.started_at, now()) ELSE x.started_at END,
          finished_at = CASE WHEN p.ended THEN now() ELSE x.finished_at END,
          ended_seq = CASE WHEN p.ended THEN p.saga_seq ELSE x.ended_seq END,
          payload = coalesce(p.payload, x.payload),
          child_id = coalesce(p.child_id, x.child_id)
        FROM p
        WHERE x.saga_id = ANY(${ids}::uuid[]) AND x.saga_id = p.saga_id AND x.key = p.key AND p."create" IS NOT TRUE
      ), created AS (
        INSERT INTO ${this.table.units} (saga_id, key, kind, step_index, name, status, seq, attempts, due_at,
          started_at, finished_at, output, error, ended_seq)
        SELECT p.saga_id, p.key, p.kind, p.step, p.name, p.status, (p.due_in_ms IS NOT NULL)::int, (p.start IS TRUE)::int,
          ${dueAt}, CASE WHEN p.start THEN now() END, CASE WHEN p.ended THEN now() END,
          p.output, p.error, CASE WHEN p.ended THEN p.saga_seq END
        FROM p WHERE p."create" IS TRUE
      ), ev AS (
        INSERT INTO ${this.table.events} (saga_id, type, step, attempt, data)
        SELECT t.saga_id, e.value->>'type', e.value->>'step', (e.value->>'attempt')::int, e.value->'data'
        FROM t JOIN s ON s.id = t.saga_id, jsonb_array_elements(t.events) WITH ORDINALITY AS e(value, ord)
        ORDER BY t.saga_id, e.ord
      )
      SELECT id FROM s`;
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Runs `decide` on the saga locked against every other writer, and commits the transition it
   * returns, if any (an operator's cancel or retry). Nothing when the saga does not exist.
   */
  async withLockedSaga(
    sagaId: string,
    decide: (saga: SagaSnapshot, sql: StoreSql) => Promise<Transition | undefined>,
  ): Promise<{ saga: SagaSnapshot; transition?: Transition; others: DueUnit[] } | undefined> {
    return this.database.sql.begin(async (tx) => {
      // Locked first, then read by a statement of its own: a statement that waits for a row lock
      // sees the row as the other writer left it, but the rest (the units) as they were before.
      const [locked] = await tx`SELECT id FROM ${this.table.sagas} WHERE id = ${sagaId} FOR UPDATE`;
      if (!locked) return undefined;
      const saga = (await this.snapshot(sagaId, tx))!;
      const transition = await decide(saga, tx);
      const others = transition ? (await this.commit([transition], tx)).get(sagaId)! : [];
      return { saga, transition, others };
    }) as Promise<{ saga: SagaSnapshot; transition?: Transition; others: DueUnit[] } | undefined>;
  }

  /**
   * Keeps a signal in the saga's inbox; false when one with this Idempotency-Key was delivered to
   * this saga already (then nothing is written).
   */
  async receiveSignal(
    sagaId: string,
    signal: string,
    idempotencyKey: string | undefined,
    payload: unknown,
    sql: StoreSql,
  ): Promise<boolean> {
    const rows = await sql`
      INSERT INTO ${this.table.signals} (saga_id, name, idempotency_key, payload)
      VALUES (${sagaId}, ${signal}, ${idempotencyKey ?? null}, ${JSON.stringify(payload)}::text::jsonb)
      ON CONFLICT (saga_id, idempotency_key) DO NOTHING
      RETURNING id`;
    return rows.length === 1;
  }

  /** Sets the saga's cancel flag, for the transitions decided from now on. */
  async requestCancel(sagaId: string, sql: StoreSql): Promise<void> {
    await sql`
      WITH s AS (UPDATE ${this.table.sagas} SET cancel_requested = true, updated_at = now() WHERE id = ${sagaId} RETURNING id)
      INSERT INTO ${this.table.events} (saga_id, type) SELECT id, 'cancel_requested' FROM s`;
  }

  /**
   * Units due at least `graceMs` ago, in due order after `cursor`: the candidates for re-enqueueing.
   * Found through the active sagas (the status index) rather than an index on `due_at`, which
   * changes with every transition: indexing it would stop the unit rows from being updated in place.
   */
  async overdueUnits(graceMs: number, limit: number, cursor?: UnitCursor): Promise<(DueUnit & UnitCursor)[]> {
    const { sql } = this.database;
    return sql<(DueUnit & UnitCursor)[]>`
      SELECT u.saga_id AS "sagaId", u.key AS unit, u.seq, 0 AS "delayMs", u.status = 'running' AS claimed,
        u.status = 'waiting' AS due, s.name AS "sagaName", s.version AS "sagaVersion", s.priority, u.due_at AS "dueAt"
      FROM ${this.table.sagas} s JOIN ${this.table.units} u ON u.saga_id = s.id
      WHERE s.status IN ${this.parts.active} AND u.due_at <= now() - ${graceMs} * interval '1 millisecond'
        ${cursor ? sql`AND (u.due_at, u.saga_id, u.key) > (${cursor.dueAt}, ${cursor.sagaId}, ${cursor.unit})` : sql``}
      ORDER BY u.due_at, u.saga_id, u.key LIMIT ${limit}`;
  }
}

/** Where a walk over overdue units stopped. */
export interface UnitCursor {
  /** Passed back to Postgres as it came (the drizzle-wrapped pool returns timestamps as text). */
  dueAt: string | Date;
  sagaId: string;
  unit: string;
}

interface UnitRow {
  key: string;
  kind: UnitSnapshot['kind'];
  step_index: number | null;
  name: string;
  status: UnitSnapshot['status'];
  seq: number;
  attempts: number;
  due_at: string | null;
  output: unknown;
  ended_seq: number | null;
  payload: unknown;
  child_id: string | null;
  child_status: SagaStatus | null;
  child_output: unknown;
}

interface SnapshotRow {
  id: string;
  name: string;
  version: number;
  status: SagaStatus;
  seq: number;
  cancel_requested: boolean;
  priority: number;
  input: unknown;
  parent_id: string | null;
  parent_step: number | null;
  trace_context: string | null;
  units: UnitRow[];
}

function toSnapshot(row: Omit<SnapshotRow, 'units'>, units: UnitSnapshot[]): SagaSnapshot {
  const saga: SagaSnapshot = {
    id: row.id,
    name: row.name,
    version: row.version,
    status: row.status,
    seq: row.seq,
    cancelRequested: row.cancel_requested,
    priority: row.priority,
    input: row.input,
    parent: row.parent_id === null ? null : { id: row.parent_id, step: row.parent_step! },
    units,
  };
  // Left out when untraced: the snapshot travels in every job.
  if (row.trace_context !== null) saga.traceContext = row.trace_context;
  return saga;
}

function toUnit(u: UnitRow): UnitSnapshot {
  return {
    key: u.key,
    kind: u.kind,
    step: u.step_index,
    name: u.name,
    status: u.status,
    seq: u.seq,
    attempts: u.attempts,
    scheduled: u.due_at !== null,
    output: u.output,
    endedAt: u.ended_seq,
    payload: u.payload,
    child: u.child_id === null ? null : { id: u.child_id, status: u.child_status!, output: u.child_output },
  };
}

/**
 * The rows of the statements' JSON recordsets leave out the fields that are null or false, which the
 * statements read as null (and treat as false): most fields of most rows are, and every byte is sent
 * and parsed. Built field by field, as they are on every step.
 */
function unitRecord(u: NewUnit): NewUnitRecord {
  const row: NewUnitRecord = {
    key: u.key,
    kind: u.kind,
    name: u.name,
    step_kind: u.stepKind,
    status: u.status,
  };
  if (u.step !== null) row.step = u.step;
  if (u.group !== null) row.group = u.group;
  if (u.signal !== null) row.signal = u.signal;
  if (u.dueInMs !== null) row.due_in_ms = u.dueInMs;
  return row;
}

function transitionRecord(t: Transition): Partial<RecordOf<typeof TRANSITION>> {
  const row: Partial<RecordOf<typeof TRANSITION>> = {
    saga_id: t.sagaId,
    seq: t.seq,
    status: t.status,
    units: t.units.map(unitChangeRecord),
    events: t.events,
  };
  if (TERMINAL.includes(t.status)) row.terminal = true;
  if (t.output !== undefined) [row.set_output, row.output] = [true, t.output];
  if (t.error !== undefined) [row.set_error, row.error] = [true, t.error];
  return row;
}

function unitChangeRecord(u: UnitChange): Partial<RecordOf<typeof UNIT_CHANGE>> {
  const row: Partial<RecordOf<typeof UNIT_CHANGE>> = { key: u.key, status: u.status };
  // What only a new row needs; an existing row is found by its key.
  if (u.create) [row.create, row.kind, row.step, row.name] = [true, u.kind, u.step, u.name];
  if (u.output !== undefined) [row.set_output, row.output] = [true, u.output];
  if (u.error !== undefined) [row.set_error, row.error] = [true, u.error];
  if (u.resetAttempts) row.reset = true;
  if (u.ended) row.ended = true;
  if (u.dueInMs === null) row.unschedule = true;
  else if (u.dueInMs !== undefined) row.due_in_ms = u.dueInMs;
  if (u.start) row.start = true;
  if (u.payload != null) row.payload = u.payload;
  if (u.childId) row.child_id = u.childId;
  return row;
}

/** The unit rows of the sagas of a definition started now, without a deadline: the same for all of them. */
const immediateUnitRecords = new WeakMap<SagaDefinition, NewUnitRecord[]>();

/**
 * A new saga's unit rows. Those of a saga started now without a deadline depend on its definition
 * alone (unless a first step waits for a signal, whose timeout may depend on the input): they are
 * made once per definition, as every start of it would make them again.
 */
function unitRecords(
  def: SagaDefinition,
  input: unknown,
  timing: { startInMs: number; deadlineInMs?: number },
): NewUnitRecord[] {
  const shared =
    timing.startInMs === 0 &&
    timing.deadlineInMs === undefined &&
    !def.steps.some((step) => step.stage === 0 && step.kind === 'wait');
  const cached = shared ? immediateUnitRecords.get(def) : undefined;
  if (cached) return cached;
  const records = initialUnits(def, input, timing).map(unitRecord);
  if (shared) immediateUnitRecords.set(def, records);
  return records;
}

/**
 * The rows of a statement in saga id order: Postgres locks the saga rows in the order it meets them,
 * so statements that take their rows in one order cannot deadlock on each other (siblings of one
 * parallel group are committed by concurrent statements).
 */
function bySagaId<T>(rows: T[], idOf: (row: T) => string): T[] {
  return [...rows].sort((a, b) => (idOf(a) < idOf(b) ? -1 : idOf(a) > idOf(b) ? 1 : 0));
}

/**
 * Saga ids as one array literal. Every hot statement also names its rows this way, so that the
 * planner looks them up by key however small the table was when it cached the plan.
 */
function uuidArray(ids: string[]): string {
  return `{${ids.join(',')}}`;
}

/** The columns of a unit that a snapshot holds, for a query in which the unit row is aliased `x`. */
const UNIT_COLUMNS =
  'x.key, x.kind, x.step_index, x.name, x.status, x.seq, x.attempts, x.due_at, x.output, x.ended_seq, x.payload, x.child_id';

/** The columns of a saga that a snapshot holds, for a query in which the saga row is aliased `s`. */
const SAGA_COLUMNS =
  's.id, s.name, s.version, s.status, s.seq, s.cancel_requested, s.priority, s.input, s.parent_id, s.parent_step, s.trace_context';

type StatementParts = ReturnType<typeof statementParts>;

/**
 * The constant fragments of the store's statements, made once: postgres.js makes a query object of
 * every fragment interpolated into a statement, each time the statement is built.
 */
function statementParts(sql: postgres.Sql, table: SagaDatabase['table']) {
  const columns = (description: Columns) => sql.unsafe(recordsetColumns(description));
  const unitColumns = sql.unsafe(UNIT_COLUMNS);
  const statusList = (statuses: readonly SagaStatus[]) =>
    sql.unsafe(`(${statuses.map((s) => `'${s}'`).join(', ')})`);
  return {
    newSaga: columns(NEW_SAGA),
    newUnit: columns(NEW_UNIT),
    unitRef: columns(UNIT_REF),
    transition: columns(TRANSITION),
    unitChange: columns(UNIT_CHANGE),
    unitColumns,
    sagaColumns: sql.unsafe(SAGA_COLUMNS),
    active: statusList(ACTIVE_SAGA_STATUSES),
    ended: statusList(TERMINAL_SAGA_STATUSES),
    /** When a unit of a commit's recordset (aliased `p`) is due. */
    dueAt: sql`now() + p.due_in_ms * interval '1 millisecond'`,
    /**
     * The saga's units as JSON rows, for a query in which the saga row is aliased `s`; a child
     * step's with its child saga as it is now.
     */
    unitsOf: sql`(SELECT json_agg(u) FROM (
      SELECT ${unitColumns}, c.status AS child_status, c.output AS child_output
      FROM ${table.units} x LEFT JOIN ${table.sagas} c ON c.id = x.child_id WHERE x.saga_id = s.id) u)`,
    /** The parts of insertSagas for a batch with a keyed saga started now, which takes or queues for its key. */
    keyed: {
      held: sql`held AS (
        -- DO UPDATE rather than DO NOTHING: it waits for, and locks, the key's row (see concurrency-keys.ts).
        INSERT INTO ${table.keyHolders} (name, key, saga_id)
        SELECT DISTINCT ON (new.name, new.concurrency_key) new.name, new.concurrency_key, new.id
        FROM new JOIN ins ON ins.id = new.id WHERE new.queued_units IS NOT NULL
        ORDER BY new.name, new.concurrency_key, new.id
        ON CONFLICT (name, key) DO UPDATE SET saga_id = saga_key_holders.saga_id
        RETURNING saga_id
      ), queued AS (
        SELECT new.id FROM new WHERE new.queued_units IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM held WHERE held.saga_id = new.id)
      ), `,
      units: sql`CASE WHEN new.id IN (SELECT id FROM queued) THEN new.queued_units ELSE new.units END`,
      queued: sql`id IN (SELECT id FROM queued)`,
    },
    /** And for a batch without. */
    unkeyed: { held: sql``, units: sql`new.units`, queued: sql`false` },
  };
}

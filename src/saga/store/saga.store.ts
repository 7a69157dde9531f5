import { Injectable } from '@nestjs/common';
import type postgres from 'postgres';
import type { SagaDefinition } from '../definition/saga-definition.interface.js';
import {
  ACTIVE_SAGA_STATUSES,
  CompensationStatus,
  StepStatus,
  type Phase,
  type SagaStatus,
} from '../saga-status.js';
import {
  SagaEventType,
  type EventDraft,
  type SagaSnapshot,
  type StartedAttempt,
  type StepSnapshot,
  type Transition,
} from '../execution/transition.interface.js';
import { MicroBatcher } from '../execution/micro-batcher.js';
import { SagaDatabase } from './saga-database.js';
import { uuidV7 } from './uuid-v7.js';

interface NewSaga {
  id: string;
  name: string;
  version: number;
  input: unknown;
  key: string | null;
  steps: string[];
}

interface UnitRef {
  sagaId: string;
  seq: number;
}

/** A unit of work that Postgres says is due: the saga's `seq`-th, `delayMs` from now. */
export interface DueUnit {
  sagaId: string;
  seq: number;
  delayMs: number;
  /** Its attempt is counted and marked running already (by the commit that scheduled it, or a claim). */
  claimed: boolean;
}

export interface CreatedSaga {
  id: string;
  name: string;
  status: SagaStatus;
  created: boolean;
}

/** A start as the store found it: `sameInput` is false when its key was used with another input. */
export interface StoredStart extends CreatedSaga {
  sameInput: boolean;
}

/** The pool, or a transaction on it. */
export type StoreSql = postgres.Sql | postgres.TransactionSql;

const ACTIVE = ACTIVE_SAGA_STATUSES as string[];

/**
 * Every write the engine makes. Each transition is one statement (so one transaction) that also
 * rewrites the saga's outbox columns, and the hot-path statements take many sagas at once, so that
 * concurrent callers share them. They are data-modifying CTEs over a JSON recordset, which the
 * query builder cannot express, hence SQL. JSON parameters are sent as text and cast in SQL, so
 * they mean the same on any client (drizzle replaces the json serializers of the client it wraps).
 */
@Injectable()
export class SagaStore {
  constructor(private readonly database: SagaDatabase) {}

  /**
   * Records a new saga and its first unit, or returns the saga already started with this
   * idempotency key, saying whether it was started with this input. Concurrent starts share one
   * statement (and one WAL flush).
   */
  create(def: SagaDefinition, input: unknown, idempotencyKey: string | undefined): Promise<StoredStart> {
    const id = uuidV7();
    return this.creates.push({
      id,
      name: def.name,
      version: def.version,
      input,
      key: idempotencyKey ?? null,
      steps: def.steps.map((step) => step.name),
    });
  }

  private readonly creates = new MicroBatcher<NewSaga, StoredStart>(
    (sagas) => this.createMany(sagas),
    // Two starts with one idempotency key must not share a statement: the second must see the first.
    (saga) => (saga.key === null ? saga.id : `${saga.name}\u0000${saga.key}`),
  );

  private async createMany(sagas: NewSaga[]): Promise<StoredStart[]> {
    const { sql } = this.database;
    const inserted = await sql<CreatedSaga[]>`
      WITH new AS (
        SELECT * FROM jsonb_to_recordset(${JSON.stringify(sagas)}::text::jsonb)
          AS new(id uuid, name text, version int, input jsonb, key text, steps jsonb)
      ), ins AS (
        INSERT INTO sagas (id, name, version, status, input, idempotency_key, due_at)
        SELECT id, name, version, 'pending', input, key, now() FROM new
        ON CONFLICT (name, idempotency_key) DO NOTHING
        RETURNING id, name, status
      ), steps AS (
        INSERT INTO saga_steps (saga_id, step_index, name)
        SELECT ins.id, s.ord - 1, s.name
        FROM ins JOIN new ON new.id = ins.id, jsonb_array_elements_text(new.steps) WITH ORDINALITY AS s(name, ord)
      ), ev AS (
        INSERT INTO saga_events (saga_id, type) SELECT id, 'saga_started' FROM ins
      )
      SELECT id, name, status, true AS created FROM ins`;
    const created = new Map(inserted.map((row) => [row.id, row]));
    const taken = sagas.filter((saga) => !created.has(saga.id));
    // Their keys were taken. Read in a new statement: a concurrent insert that won the race is not
    // visible to the snapshot of the statement above. jsonb equality compares the inputs as JSON
    // values (key order and number spelling aside), as both went through the same schema.
    const existing = taken.length
      ? await sql<(StoredStart & { key: string })[]>`
          SELECT s.id, s.name, s.status, false AS created, s.idempotency_key AS key,
                 s.input = t.input AS "sameInput"
          FROM sagas s
          JOIN jsonb_to_recordset(${JSON.stringify(taken)}::text::jsonb) AS t(name text, key text, input jsonb)
            ON s.name = t.name AND s.idempotency_key = t.key`
      : [];
    return sagas.map((saga) => {
      const inserted = created.get(saga.id);
      if (inserted) return { ...inserted, sameInput: true };
      const found = existing.find((e) => e.name === saga.name && e.key === saga.key)!;
      return {
        id: found.id,
        name: found.name,
        status: found.status,
        created: found.created,
        sameInput: found.sameInput,
      };
    });
  }

  /**
   * Claims the saga's current unit for an attempt: counts the attempt, marks it running and returns
   * the snapshot to run it with. Returns nothing when `seq` is no longer current (the unit was
   * already recorded: a duplicate or stale delivery) or the saga is terminal. Concurrent claims
   * share one statement.
   */
  claim(sagaId: string, seq: number): Promise<SagaSnapshot | undefined> {
    return this.claims.push({ sagaId, seq });
  }

  /** Commits one transition, in a statement shared with concurrent ones; false if the saga moved on. */
  async record(transition: Transition): Promise<boolean> {
    return this.records.push(transition);
  }

  private readonly claims = new MicroBatcher<UnitRef, SagaSnapshot | undefined>(
    (units) => this.claimMany(units),
    (unit) => unit.sagaId,
  );

  private readonly records = new MicroBatcher<Transition, boolean>(
    async (transitions) => {
      const committed = await this.commit(transitions);
      return transitions.map((t) => committed.has(t.sagaId));
    },
    (transition) => transition.sagaId,
  );

  private async claimMany(units: UnitRef[]): Promise<(SagaSnapshot | undefined)[]> {
    const sql = this.database.claimSql;
    const ids = uuidArray(units.map((u) => u.sagaId));
    const rows = await sql<SnapshotRow[]>`
      WITH u AS (
        SELECT * FROM jsonb_to_recordset(${JSON.stringify(units)}::text::jsonb) AS u("sagaId" uuid, seq int)
      ), s AS (
        UPDATE sagas SET
          status = CASE WHEN status = 'pending' THEN 'running' ELSE status END,
          running_since = now(), updated_at = now()
        FROM u
        WHERE sagas.id = ANY(${ids}::uuid[]) AND sagas.id = u."sagaId" AND sagas.seq = u.seq
          AND sagas.status IN ${sql(ACTIVE)}
        RETURNING sagas.id, sagas.name, sagas.version, sagas.status, sagas.seq, sagas.phase, sagas.step_index,
          sagas.cancel_requested, sagas.input
      ), claimed AS (
        UPDATE saga_steps t SET
          status = CASE WHEN s.phase = 'step' THEN 'running' ELSE 'compensating' END,
          attempts = t.attempts + (s.phase = 'step')::int,
          started_at = CASE WHEN s.phase = 'step' THEN coalesce(t.started_at, now()) ELSE t.started_at END,
          compensation_status = CASE WHEN s.phase = 'compensation' THEN 'running' ELSE t.compensation_status END,
          compensation_attempts = t.compensation_attempts + (s.phase = 'compensation')::int,
          compensation_started_at = CASE WHEN s.phase = 'compensation'
            THEN coalesce(t.compensation_started_at, now()) ELSE t.compensation_started_at END
        FROM s
        WHERE t.saga_id = ANY(${ids}::uuid[])
          AND t.saga_id = s.id AND t.step_index = s.step_index AND NOT (s.phase = 'step' AND s.cancel_requested)
        RETURNING t.saga_id, t.step_index AS index, t.name, t.status, t.attempts, t.output,
          t.compensation_status AS "compensationStatus", t.compensation_attempts AS "compensationAttempts"
      ), ev AS (
        INSERT INTO saga_events (saga_id, type, step, attempt)
        SELECT s.id, CASE WHEN s.phase = 'step' THEN 'step_started' ELSE 'compensation_started' END, claimed.name,
          CASE WHEN s.phase = 'step' THEN claimed.attempts ELSE claimed."compensationAttempts" END
        FROM s JOIN claimed ON claimed.saga_id = s.id
      )
      SELECT s.*, true AS running, ${stepsOf(sql)} AS steps, row_to_json(claimed) AS claimed
      FROM s LEFT JOIN claimed ON claimed.saga_id = s.id`;
    const byId = new Map(
      rows.map((row) => {
        const snapshot = toSnapshot(row);
        // The steps were read from the statement's snapshot, before the claim counted this attempt.
        if (row.claimed) {
          const { saga_id: _sagaId, ...step } = row.claimed as StepSnapshot & { saga_id: string };
          snapshot.steps[step.index] = step;
        }
        return [row.id, snapshot];
      }),
    );
    return units.map((unit) => {
      const snapshot = byId.get(unit.sagaId);
      return snapshot?.seq === unit.seq ? snapshot : undefined;
    });
  }

  /** The saga at its `seq`-th unit, without claiming anything; nothing if it moved on or is terminal. */
  async current(sagaId: string, seq: number): Promise<SagaSnapshot | undefined> {
    const saga = await this.snapshot(sagaId);
    return saga?.seq === seq && ACTIVE_SAGA_STATUSES.includes(saga.status) ? saga : undefined;
  }

  /** The saga as it is now, without claiming anything. */
  async snapshot(
    sagaId: string,
    sql: StoreSql = this.database.sql,
    lock = false,
  ): Promise<SagaSnapshot | undefined> {
    const [row] = await sql<SnapshotRow[]>`
      SELECT s.id, s.name, s.version, s.status, s.seq, s.phase, s.step_index, s.cancel_requested, s.input,
        s.running_since IS NOT NULL AS running, ${stepsOf(sql)} AS steps
      FROM sagas s WHERE s.id = ${sagaId} ${lock ? sql`FOR UPDATE` : sql``}`;
    return row && toSnapshot(row);
  }

  /**
   * Commits transitions, each only if its saga is still at the transition's `seq` and cancel flag.
   * Returns the ids of the sagas whose transition was committed; the others changed meanwhile.
   */
  async commit(transitions: Transition[], sql: StoreSql = this.database.sql): Promise<Set<string>> {
    if (transitions.length === 0) return new Set();
    const payload = transitions.map((t) => ({
      saga_id: t.sagaId,
      seq: t.seq,
      cancel_seen: t.cancelSeen,
      status: t.status,
      phase: t.phase,
      step_index: t.stepIndex,
      delay_ms: t.delayMs,
      set_output: t.output !== undefined,
      output: t.output ?? null,
      set_error: t.error !== undefined,
      error: t.error ?? null,
      started: t.started !== undefined,
      steps: stepRowPatches(t),
      events: t.started ? [...t.events, startedEvent(t.started)] : t.events,
    }));
    const ids = uuidArray(transitions.map((t) => t.sagaId));
    const rows = await sql<{ id: string }[]>`
      WITH t AS (
        SELECT * FROM jsonb_to_recordset(${JSON.stringify(payload)}::text::jsonb) AS t(
          saga_id uuid, seq int, cancel_seen boolean, status text, phase text, step_index int, delay_ms int,
          set_output boolean, output jsonb, set_error boolean, error jsonb, started boolean, steps jsonb,
          events jsonb)
      ), s AS (
        UPDATE sagas SET
          seq = sagas.seq + 1, status = t.status, phase = t.phase, step_index = t.step_index,
          due_at = now() + t.delay_ms * interval '1 millisecond',
          running_since = CASE WHEN t.started THEN now() END,
          output = CASE WHEN t.set_output THEN t.output ELSE sagas.output END,
          error = CASE WHEN t.set_error THEN t.error ELSE sagas.error END,
          updated_at = now(),
          completed_at = CASE WHEN t.delay_ms IS NULL THEN now() END
        FROM t
        WHERE sagas.id = ANY(${ids}::uuid[])
          AND sagas.id = t.saga_id AND sagas.seq = t.seq AND sagas.cancel_requested = t.cancel_seen
        RETURNING sagas.id
      ), steps AS (
        UPDATE saga_steps x SET
          status = p.status,
          output = CASE WHEN p.set_output THEN p.output ELSE x.output END,
          error = CASE WHEN p.set_error THEN p.error ELSE x.error END,
          finished_at = CASE WHEN p.finished THEN now() ELSE x.finished_at END,
          attempts = x.attempts + (p.start IS NOT DISTINCT FROM 'step')::int,
          started_at = CASE WHEN p.start = 'step' THEN coalesce(x.started_at, now()) ELSE x.started_at END,
          compensation_status = coalesce(p.compensation_status, x.compensation_status),
          compensation_error = CASE WHEN p.set_compensation_error
            THEN p.compensation_error ELSE x.compensation_error END,
          compensation_finished_at = CASE WHEN p.compensation_finished
            THEN now() ELSE x.compensation_finished_at END,
          compensation_attempts = CASE WHEN p.reset_compensation_attempts THEN 0 ELSE x.compensation_attempts END
            + (p.start IS NOT DISTINCT FROM 'compensation')::int,
          compensation_started_at = CASE WHEN p.start = 'compensation'
            THEN coalesce(x.compensation_started_at, now()) ELSE x.compensation_started_at END
        FROM t JOIN s ON s.id = t.saga_id,
          jsonb_to_recordset(t.steps) AS p(index int, status text, set_output boolean, output jsonb,
            set_error boolean, error jsonb, finished boolean, compensation_status text,
            set_compensation_error boolean, compensation_error jsonb, compensation_finished boolean,
            reset_compensation_attempts boolean, start text)
        WHERE x.saga_id = ANY(${ids}::uuid[])
          AND x.saga_id = t.saga_id AND x.step_index = p.index
      ), ev AS (
        INSERT INTO saga_events (saga_id, type, step, attempt, data)
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
  ): Promise<{ saga: SagaSnapshot; transition?: Transition } | undefined> {
    return this.database.sql.begin(async (tx) => {
      const saga = await this.snapshot(sagaId, tx, true);
      if (!saga) return undefined;
      const transition = await decide(saga, tx);
      if (transition) await this.commit([transition], tx);
      return { saga, transition };
    }) as Promise<{ saga: SagaSnapshot; transition?: Transition } | undefined>;
  }

  async requestCancel(sagaId: string, sql: StoreSql): Promise<void> {
    await sql`
      WITH s AS (UPDATE sagas SET cancel_requested = true, updated_at = now() WHERE id = ${sagaId} RETURNING id)
      INSERT INTO saga_events (saga_id, type) SELECT id, 'cancel_requested' FROM s`;
  }

  /**
   * Units due at least `graceMs` ago, in due order after `cursor`: the candidates for re-enqueueing.
   * Found through the status index: `due_at` changes on every transition, and indexing it would
   * make every commit rewrite all the indexes of the row instead of updating it in place.
   */
  async overdueUnits(graceMs: number, limit: number, cursor?: UnitCursor): Promise<(DueUnit & UnitCursor)[]> {
    const { sql } = this.database;
    return sql<(DueUnit & UnitCursor)[]>`
      SELECT id AS "sagaId", seq, 0 AS "delayMs", running_since IS NOT NULL AS claimed, due_at AS "dueAt" FROM sagas
      WHERE status IN ${sql(ACTIVE)} AND due_at <= now() - ${graceMs} * interval '1 millisecond'
        ${cursor ? sql`AND (due_at, id) > (${cursor.dueAt}, ${cursor.sagaId})` : sql``}
      ORDER BY due_at, id LIMIT ${limit}`;
  }
}

/** Where a walk over overdue units stopped. */
export interface UnitCursor {
  /** Passed back to Postgres as it came (the drizzle-wrapped pool returns timestamps as text). */
  dueAt: string | Date;
  sagaId: string;
}

interface SnapshotRow {
  id: string;
  name: string;
  version: number;
  status: SagaStatus;
  seq: number;
  phase: SagaSnapshot['phase'];
  step_index: number;
  cancel_requested: boolean;
  running: boolean;
  input: unknown;
  steps: StepSnapshot[];
  claimed?: StepSnapshot | null;
}

function toSnapshot(row: SnapshotRow): SagaSnapshot {
  return {
    id: row.id,
    name: row.name,
    version: row.version,
    status: row.status,
    seq: row.seq,
    phase: row.phase,
    stepIndex: row.step_index,
    running: row.running,
    cancelRequested: row.cancel_requested,
    input: row.input,
    steps: row.steps,
  };
}

/**
 * Saga ids as one array literal. Every hot statement also names its rows this way, so that the
 * planner looks them up by key however small the table was when it cached the plan.
 */
function uuidArray(ids: string[]): string {
  return `{${ids.join(',')}}`;
}

/** New values for one step row, of both its sides: what a transition's patch and the attempt it starts write. */
interface StepRowPatch {
  index: number;
  status: string;
  set_output?: boolean;
  output?: unknown;
  set_error?: boolean;
  error?: unknown;
  finished?: boolean;
  compensation_status?: string;
  set_compensation_error?: boolean;
  compensation_error?: unknown;
  compensation_finished?: boolean;
  reset_compensation_attempts?: boolean;
  start?: Phase;
}

/** One patch per row: a transition may finish one side of a step and start the other side of the same step. */
function stepRowPatches(t: Transition): StepRowPatch[] {
  const rows = new Map<number, StepRowPatch>();
  const patch = t.step;
  if (patch?.side === 'step') {
    rows.set(patch.index, {
      index: patch.index,
      status: patch.status,
      set_output: true,
      output: patch.output ?? null,
      set_error: patch.error !== undefined,
      error: patch.error ?? null,
      finished: patch.finished,
    });
  } else if (patch) {
    rows.set(patch.index, {
      index: patch.index,
      status: patch.status,
      compensation_status: patch.compensationStatus,
      set_compensation_error: patch.error !== undefined,
      compensation_error: patch.error ?? null,
      compensation_finished: patch.finished,
      reset_compensation_attempts: patch.resetAttempts ?? false,
    });
  }
  const started = t.started;
  if (started) {
    const side: Partial<StepRowPatch> =
      started.side === 'step'
        ? { status: StepStatus.Running }
        : { status: StepStatus.Compensating, compensation_status: CompensationStatus.Running };
    rows.set(started.index, {
      ...rows.get(started.index),
      index: started.index,
      ...side,
      start: started.side,
    } as StepRowPatch);
  }
  return [...rows.values()];
}

function startedEvent(started: StartedAttempt): EventDraft {
  const type = started.side === 'step' ? SagaEventType.StepStarted : SagaEventType.CompensationStarted;
  return { type, step: started.step, attempt: started.attempt };
}

/** The saga's steps as JSON, for a query in which the saga row is aliased `s`. */
function stepsOf(sql: StoreSql) {
  return sql`(SELECT json_agg(json_build_object('index', x.step_index, 'name', x.name, 'status', x.status,
    'attempts', x.attempts, 'output', x.output, 'compensationStatus', x.compensation_status,
    'compensationAttempts', x.compensation_attempts) ORDER BY x.step_index)
    FROM saga_steps x WHERE x.saga_id = s.id)`;
}

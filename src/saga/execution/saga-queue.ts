import type { JobsOptions } from 'bullmq';
import { SAGA_PRIORITY } from '../definition/saga-priority.js';
import type { SagaSnapshot, UnitSnapshot } from '../machine/saga-snapshot.js';

/** The one BullMQ queue that carries every unit of every saga: its attempts and its due times. */
export const SAGA_QUEUE = 'saga-units';

/**
 * A job points at a unit. What to run is read from Postgres when the job is processed, unless the
 * job carries the snapshot that the commit scheduling the unit left behind (see StepWorker).
 */
export interface UnitJobData {
  sagaId: string;
  /** The unit's key within the saga. */
  unit: string;
  /** The unit's `seq` when the job was scheduled. */
  seq: number;
  /** The commit that scheduled the unit also claimed its first attempt. */
  claimed: boolean;
  /** The unit waits (for a time, or for its child saga): its job runs no attempt, it says it is due. */
  due?: boolean;
  /**
   * The saga's name and version, so that a worker that lacks that version leaves the job to one
   * that has it before claiming anything. Jobs enqueued before jobs named them lack them.
   */
  sagaName?: string;
  sagaVersion?: number;
  /**
   * How many deliveries of this job left it to another process without running anything (see
   * SagaVersionGate.admit). BullMQ counts every delivery in `attemptsStarted`, these included.
   */
  left?: number;
  /** The saga as that commit left it, when small enough to travel with the job. */
  snapshot?: PackedSnapshot;
  /** When that commit returned, by the clock of the process that enqueued the job. */
  committedAt?: number;
}

/** Deterministic, so that enqueueing the same unit twice (relay and reconciler) makes one job. */
export const unitJobId = (sagaId: string, unit: string, seq: number): string => `${sagaId}-${unit}-${seq}`;

export const UNIT_JOB_OPTIONS: JobsOptions = {
  // Postgres holds the outcome of every attempt, so Redis keeps nothing once a job is done.
  removeOnComplete: true,
  removeOnFail: true,
  // BullMQ retries only infrastructure failures (Postgres unreachable while claiming or recording);
  // handler failures are attempts recorded in Postgres and retried as new jobs.
  attempts: 1000,
  backoff: { type: 'fixed', delay: 2000 },
};

/**
 * A saga's priority as its jobs' BullMQ priority. BullMQ takes its non-prioritized jobs (0) before
 * any prioritized one, then the prioritized ones by number, each number in the order they were
 * added: so every saga priority is a BullMQ priority of the same number, the default included.
 */
export const jobPriority = (priority: number = SAGA_PRIORITY.default): number => priority;

/**
 * A snapshot as a job carries it: the fields that hold their usual value (most units have no
 * output, no child, no payload yet) are left out, since every byte is written to Redis, read back
 * and parsed on every step. Packed and unpacked field by field: both run on every step, and object
 * spreads over objects of many shapes are much slower.
 *
 * A process of the previous release takes the packed snapshot as it is, during a rolling deploy: only
 * fields it reads as their usual value when absent are left out (a unit's `payload` is kept: it tells
 * a wait step that has its signal from one that must wait).
 */
export type PackedSnapshot = Partial<Omit<SagaSnapshot, 'units'>> & { units: Partial<UnitSnapshot>[] };

export function packSnapshot(saga: SagaSnapshot): PackedSnapshot {
  const { id, name, version, status, seq, priority, input } = saga;
  const packed: PackedSnapshot = {
    id,
    name,
    version,
    status,
    seq,
    priority,
    input,
    units: saga.units.map(packUnit),
  };
  if (saga.cancelRequested) packed.cancelRequested = true;
  if (saga.parent !== null) packed.parent = saga.parent;
  if (saga.traceContext !== undefined) packed.traceContext = saga.traceContext;
  return packed;
}

export function unpackSnapshot(packed: PackedSnapshot): SagaSnapshot {
  const saga: SagaSnapshot = {
    id: packed.id!,
    name: packed.name!,
    version: packed.version!,
    status: packed.status!,
    seq: packed.seq!,
    cancelRequested: packed.cancelRequested ?? false,
    priority: packed.priority!,
    input: packed.input,
    parent: packed.parent ?? null,
    units: packed.units.map(unpackUnit),
  };
  if (packed.traceContext !== undefined) saga.traceContext = packed.traceContext;
  return saga;
}

function packUnit(unit: UnitSnapshot): Partial<UnitSnapshot> {
  const { key, kind, name, status, seq, attempts, payload } = unit;
  const packed: Partial<UnitSnapshot> = { key, kind, name, status, seq, attempts, payload };
  if (unit.step !== null) packed.step = unit.step;
  if (unit.scheduled) packed.scheduled = true;
  if (unit.output !== null) packed.output = unit.output;
  if (unit.endedAt !== null) packed.endedAt = unit.endedAt;
  if (unit.child !== null) packed.child = unit.child;
  return packed;
}

function unpackUnit(packed: Partial<UnitSnapshot>): UnitSnapshot {
  return {
    key: packed.key!,
    kind: packed.kind!,
    step: packed.step ?? null,
    name: packed.name!,
    status: packed.status!,
    seq: packed.seq!,
    attempts: packed.attempts!,
    scheduled: packed.scheduled ?? false,
    output: packed.output ?? null,
    endedAt: packed.endedAt ?? null,
    payload: packed.payload ?? null,
    child: packed.child ?? null,
  };
}

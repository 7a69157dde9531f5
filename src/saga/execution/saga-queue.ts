import type { JobsOptions } from 'bullmq';
import { SAGA_PRIORITY } from '../definition/saga-priority.js';
import type { SagaSnapshot } from '../machine/saga-snapshot.js';

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
  snapshot?: SagaSnapshot;
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

import type { JobsOptions } from 'bullmq';

/** The one BullMQ queue that carries every step and compensation attempt of every saga. */
export const SAGA_QUEUE = 'saga-units';

/** A job only points at a unit; what to run is read from Postgres when the job is processed. */
export interface UnitJobData {
  sagaId: string;
  seq: number;
}

/** Deterministic, so that enqueueing the same unit twice (relay and reconciler) makes one job. */
export const unitJobId = (sagaId: string, seq: number): string => `${sagaId}-${seq}`;

export const UNIT_JOB_OPTIONS: JobsOptions = {
  // Postgres holds the outcome of every attempt, so Redis keeps nothing once a job is done.
  removeOnComplete: true,
  removeOnFail: true,
  // BullMQ retries only infrastructure failures (Postgres unreachable while claiming or recording);
  // handler failures are attempts recorded in Postgres and retried as new jobs.
  attempts: 1000,
  backoff: { type: 'fixed', delay: 2000 },
};

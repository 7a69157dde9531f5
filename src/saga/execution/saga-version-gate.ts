import { Injectable, Logger } from '@nestjs/common';
import { DelayedError, type Job } from 'bullmq';
import { SagaRegistry } from '../definition/saga-registry.js';
import { SagaMetrics } from '../observability/saga-metrics.js';
import { SagaStore } from '../store/saga.store.js';
import type { UnitJobData } from './saga-queue.js';

/** A unit left to another process is offered again after this, doubled each time it is left, up to the cap. */
const LEAVE_DELAY_MS = 1000;
const MAX_LEAVE_DELAY_MS = 30_000;
/** A process that lacks a saga version says so once in this long per version. */
const WARNING_INTERVAL_MS = 60_000;

/**
 * Lets a worker run only the units of the saga versions this process registers (invariant 9: a
 * saga finishes on the definition it started on). Running a unit with another version's steps
 * would call the wrong handlers, and failing it would end a saga that a process with its version
 * can finish; so the job is left to such a process, before anything is claimed in Postgres.
 *
 * Left how: the job goes back to BullMQ's delayed set (`moveToDelayed` + `DelayedError`) for any
 * worker to take again, after a delay that doubles each time it is left, so that units no live
 * process can run (an old version removed too early) cost Redis little while they wait; they show
 * in /metrics as `saga_units_without_definition`. One queue for every version keeps one BullMQ
 * worker per process, with its Redis connections and WORKER_CONCURRENCY as they are; a queue per
 * saga version would need a worker (and a blocking Redis connection) per version in every process,
 * a concurrency split between them, and a dispatcher and a reconciler that know every queue.
 */
@Injectable()
export class SagaVersionGate {
  private readonly logger = new Logger('SagaVersionGate');
  private readonly warnedAt = new Map<string, number>();

  constructor(
    private readonly registry: SagaRegistry,
    private readonly store: SagaStore,
    private readonly metrics: SagaMetrics,
  ) {}

  /**
   * True when this process has the version of the job's saga; false when Postgres has no due unit
   * for the job any more (seen while reading the version of a job that does not carry it). Throws
   * DelayedError, for BullMQ, once it has left the job to another process.
   */
  admit(job: Job<UnitJobData>, token: string | undefined): boolean | Promise<boolean> {
    const { sagaName, sagaVersion } = job.data;
    // Every job says its saga's version now (no promise, as on every step): one this process has is admitted at once.
    if (
      sagaName !== undefined &&
      sagaVersion !== undefined &&
      this.registry.findVersion(sagaName, sagaVersion)
    )
      return true;
    return this.leaveUnlessRegistered(job, token);
  }

  private async leaveUnlessRegistered(job: Job<UnitJobData>, token: string | undefined): Promise<boolean> {
    const saga = await this.sagaOf(job.data);
    if (!saga) return false;
    if (this.registry.findVersion(saga.name, saga.version)) return true;
    this.warn(job.data.sagaId, `${saga.name}@${saga.version}`);
    this.metrics.recordLeft(saga.name, saga.version);
    const left = (job.data.left ?? 0) + 1;
    // Recorded in the job before it moves: BullMQ counts this delivery in attemptsStarted, and the
    // next one must know that it claimed and ran nothing (StepWorker.unitToRun).
    await job.updateData({ ...job.data, left });
    const delay = Math.min(LEAVE_DELAY_MS * 2 ** (left - 1), MAX_LEAVE_DELAY_MS);
    await job.moveToDelayed(Date.now() + delay, token);
    throw new DelayedError();
  }

  /** As the job says, or as Postgres says for a job enqueued before jobs said it. */
  private async sagaOf(data: UnitJobData): Promise<{ name: string; version: number } | undefined> {
    const { sagaId, unit, seq, sagaName, sagaVersion } = data;
    if (sagaName !== undefined && sagaVersion !== undefined) return { name: sagaName, version: sagaVersion };
    return this.store.current(sagaId, unit, seq);
  }

  private warn(sagaId: string, definition: string): void {
    if (Date.now() - (this.warnedAt.get(definition) ?? 0) < WARNING_INTERVAL_MS) return;
    this.warnedAt.set(definition, Date.now());
    const registered = this.registry.all().map((d) => `${d.name}@${d.version}`);
    this.logger.warn(
      `saga ${sagaId} runs ${definition}, which this process does not register (it has ${registered.join(', ') || 'none'}): ` +
        'its units are left to processes that do',
    );
  }
}

import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import type { Job, JobsOptions, Queue } from 'bullmq';
import type { DueUnit } from '../store/saga.store.js';
import { applyTransition } from '../machine/apply-transition.js';
import { UnitStatus, type SagaSnapshot } from '../machine/saga-snapshot.js';
import type { Transition } from '../machine/transition.js';
import { MicroBatcher } from './micro-batcher.js';
import { within } from './patiently.js';
import { LimitedQueues } from './limited-queues.js';
import {
  jobPriority,
  packSnapshot,
  UNIT_JOB_OPTIONS,
  unitJobId,
  type PackedSnapshot,
  type UnitJobData,
} from './saga-queue.js';

const DISPATCH_TIMEOUT_MS = 2000;
/** A larger snapshot costs Redis more than reading it back from Postgres does. */
const MAX_SNAPSHOT_CHARS = 16_384;

/** A unit to enqueue, with what its job carries. */
export type DispatchUnit = DueUnit & Pick<UnitJobData, 'committedAt'>;

/** Puts units that Postgres has already committed onto BullMQ. */
@Injectable()
export class SagaDispatcher implements BeforeApplicationShutdown {
  private readonly logger = new Logger('SagaDispatcher');
  private lastErrorLoggedAt = 0;

  constructor(private readonly queues: LimitedQueues) {
    // Without a listener BullMQ prints every connection error; once every few seconds is enough.
    queues.onError((error) => {
      if (Date.now() - this.lastErrorLoggedAt < 5000) return;
      this.lastErrorLoggedAt = Date.now();
      this.logger.warn(`Redis: ${error.message}`);
    });
  }

  /**
   * Enqueues the units, failing after a short while if Redis does not answer: the units are
   * committed already, so a caller must never wait for Redis (the reconciler enqueues them later).
   * Concurrent calls share one round trip.
   */
  async dispatch(units: DispatchUnit[]): Promise<void> {
    if (units.length === 1) return this.adds.push(units[0]);
    await Promise.all(units.map((unit) => this.adds.push(unit)));
  }

  private readonly adds = new MicroBatcher<DispatchUnit, void>(
    async (units) => {
      const byQueue = new Map<Queue<UnitJobData>, DispatchUnit[]>();
      for (const unit of units) {
        const queue = this.queues.queueOf(unit);
        const queued = byQueue.get(queue);
        if (queued) queued.push(unit);
        else byQueue.set(queue, [unit]);
      }
      await within(
        Promise.all([...byQueue].map(([queue, queued]) => SagaDispatcher.add(queue, queued))),
        DISPATCH_TIMEOUT_MS,
        'enqueueing into Redis',
      );
      return units.map(() => undefined);
    },
    (unit) => unitJobId(unit.sagaId, unit.unit, unit.seq),
  );

  private static add(queue: Queue<UnitJobData>, units: DispatchUnit[]): Promise<unknown> {
    // Units scheduled by one statement share its snapshot: packed once.
    const packed = new Map<SagaSnapshot, PackedSnapshot | undefined>();
    const jobs = units.map((u) => {
      const { sagaId, unit, seq, claimed, sagaName, sagaVersion } = u;
      const data: UnitJobData = { sagaId, unit, seq, claimed, sagaName, sagaVersion };
      if (u.due) data.due = true;
      if (u.snapshot) {
        if (!packed.has(u.snapshot)) packed.set(u.snapshot, carried(u.snapshot));
        data.snapshot = packed.get(u.snapshot);
        if (data.snapshot && u.committedAt !== undefined) data.committedAt = u.committedAt;
      }
      const opts: JobsOptions = {
        ...UNIT_JOB_OPTIONS,
        jobId: unitJobId(sagaId, unit, seq),
        priority: jobPriority(u.priority),
      };
      // Most units are due now: their options, stored with the job and read back, say nothing of it.
      if (u.delayMs > 0) opts.delay = u.delayMs;
      return { name: 'unit', data, opts };
    });
    // addBulk goes through an ioredis pipeline, which copies every BullMQ script onto itself when
    // created: a cost worth sharing between jobs, and not worth paying for one.
    const [job] = jobs;
    return jobs.length === 1 ? queue.add(job.name, job.data, job.opts) : queue.addBulk(jobs);
  }

  /**
   * Enqueues units that Postgres has committed, in the background: once a transition is committed
   * nothing waits for Redis (a worker acknowledges its job, the API answers 202). Never fails: if
   * Redis does not take the units now, the reconciler enqueues them once it does.
   */
  dispatchCommitted(units: DispatchUnit[]): void {
    if (units.length === 0) return;
    const dispatching: Promise<void> = this.dispatch(units).then(
      () => void this.inBackground.delete(dispatching),
      (error: Error) => {
        this.inBackground.delete(dispatching);
        this.logger.warn(
          `not enqueued yet, left to the reconciler (${error.message}): ${units.map((u) => u.sagaId).join(', ')}`,
        );
      },
    );
    this.inBackground.add(dispatching);
  }

  /**
   * What a committed transition sends to Redis: the units it scheduled (and `others`, those it
   * scheduled in other sagas), and the removal of the delayed jobs of units it no longer needs (a
   * deadline or a signal's timeout once the saga ended, a retry a stop made moot), which would
   * otherwise wait in Redis until their time only to find nothing to do.
   */
  dispatchTransition(saga: SagaSnapshot, t: Transition, others: DispatchUnit[] = []): void {
    const next = SagaDispatcher.nextUnits(saga, t);
    this.dispatchCommitted(others.length ? [...next, ...others] : next);
    // Unscheduled, or scheduled anew (a new seq, so a new job): the unit's delayed job is moot.
    const moot: { id: string; queue: Queue<UnitJobData> }[] = [];
    for (const change of t.units) {
      if (change.dueInMs === undefined) continue;
      const u = saga.units.find((unit) => unit.key === change.key);
      if (!u?.scheduled || u.status === UnitStatus.Running) continue;
      const queue = this.queues.queueOf({
        unit: u.key,
        due: u.status === UnitStatus.Waiting,
        sagaName: saga.name,
        sagaVersion: saga.version,
      });
      moot.push({ id: unitJobId(saga.id, u.key, u.seq), queue });
    }
    if (moot.length === 0) return;
    const removing: Promise<void> = within(
      Promise.all(moot.map(({ id, queue }) => queue.remove(id))),
      DISPATCH_TIMEOUT_MS,
      'removing delayed jobs from Redis',
    )
      // Best effort: a job left behind finds its unit no longer due, and does nothing.
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => this.inBackground.delete(removing));
    this.inBackground.add(removing);
  }

  private readonly inBackground = new Set<Promise<void>>();

  /** Waits for the units on their way to Redis; each dispatch ends within the Redis timeout. */
  async drain(): Promise<void> {
    await Promise.all(this.inBackground);
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.drain();
  }

  /**
   * The units that a committed transition schedules, with the saga as the commit left it: their
   * jobs carry it, so that their workers need no read (a claimed unit's) or only a claim that
   * reads no units back (the others', while the saga is still as it was).
   */
  static nextUnits(saga: SagaSnapshot, t: Transition): DispatchUnit[] {
    const scheduled = t.units.filter((u) => u.dueInMs !== undefined && u.dueInMs !== null);
    if (scheduled.length === 0) return [];
    const after = applyTransition(saga, t);
    const committedAt = Date.now();
    return scheduled.map((u) => {
      const unit: DispatchUnit = {
        sagaId: t.sagaId,
        unit: u.key,
        seq: after.units.find((x) => x.key === u.key)!.seq,
        delayMs: u.dueInMs!,
        claimed: u.start === true,
        due: u.status === UnitStatus.Waiting,
        sagaName: saga.name,
        sagaVersion: saga.version,
        priority: saga.priority,
      };
      // A waiting unit's job runs no attempt, and reads the saga when its time comes.
      if (!unit.due) unit.snapshot = after;
      if (u.start) unit.committedAt = committedAt;
      return unit;
    });
  }

  /** Puts a job onto another queue, with the same id and data (the job it was on completes). */
  async requeue(queue: Queue<UnitJobData>, job: Job<UnitJobData>): Promise<void> {
    const { sagaId, unit, seq } = job.data;
    await within(
      queue.add(job.name, job.data, { ...UNIT_JOB_OPTIONS, jobId: unitJobId(sagaId, unit, seq) }),
      DISPATCH_TIMEOUT_MS,
      'enqueueing into Redis',
    );
  }

  /** Which of these units have no job in Redis (lost with a Redis restart, or never enqueued). */
  async missing(units: DueUnit[]): Promise<DueUnit[]> {
    const states = await within(
      Promise.all(units.map((u) => this.queues.queueOf(u).getJobState(unitJobId(u.sagaId, u.unit, u.seq)))),
      DISPATCH_TIMEOUT_MS,
      'reading job states from Redis',
    );
    return units.filter((_, i) => states[i] === 'unknown');
  }

  /**
   * Enqueues units found missing. A partial loss of Redis data can leave a job's hash behind with
   * the job in no list; such a job never runs and blocks a new one with its id, so it goes first.
   */
  async redispatch(units: DueUnit[]): Promise<void> {
    await within(
      Promise.all(units.map((u) => this.queues.queueOf(u).remove(unitJobId(u.sagaId, u.unit, u.seq)))),
      DISPATCH_TIMEOUT_MS,
      'removing orphaned jobs from Redis',
    );
    await this.dispatch(units);
  }
}

/** The snapshot as a job carries it, unless it is too large to be worth sending through Redis. */
function carried(saga: SagaSnapshot): PackedSnapshot | undefined {
  return snapshotChars(saga) > MAX_SNAPSHOT_CHARS ? undefined : packSnapshot(saga);
}

/**
 * About how long the snapshot is as JSON: what varies in length (the input, outputs and payloads)
 * measured as JSON, and a generous allowance for the rest. BullMQ serializes the whole of it
 * anyway; doing that here too, on every step, to find the rare large one would cost more than the
 * check is worth.
 */
function snapshotChars(saga: SagaSnapshot): number {
  let chars = SAGA_FIELD_CHARS + jsonChars(saga.input);
  for (const unit of saga.units)
    chars +=
      UNIT_FIELD_CHARS + jsonChars(unit.output) + jsonChars(unit.payload) + jsonChars(unit.child?.output);
  return chars;
}

const SAGA_FIELD_CHARS = 300;
const UNIT_FIELD_CHARS = 300;
const jsonChars = (value: unknown): number => (value == null ? 0 : JSON.stringify(value).length);

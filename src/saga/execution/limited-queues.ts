import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Queue, type Job } from 'bullmq';
import type {
  HandlerDefinition,
  HandlerLimits,
  SagaDefinition,
} from '../definition/saga-definition.interface.js';
import { SagaRegistry } from '../definition/saga-registry.js';
import { unitKey } from '../machine/saga-snapshot.js';
import { SAGA_MODULE_OPTIONS, type ResolvedSagaModuleOptions } from '../saga-module-options.js';
import { SAGA_QUEUE, type UnitJobData } from './saga-queue.js';
import { RedisConnections } from '../redis/redis-connections.js';

/** The queue that carries the attempts of one limited handler, and nothing else. */
export interface LimitedQueue {
  /** `saga-units/{saga}/{method}`: every version of the saga shares it, and with it the limit. */
  name: string;
  saga: string;
  /** The step the handler runs or undoes, and which of the two. */
  step: string;
  phase: 'step' | 'compensation';
  limits: HandlerLimits;
  queue: Queue<UnitJobData>;
}

/** What a job is for: the unit, the definition its saga started on, and whether it runs an attempt. */
export type UnitJobTarget = Pick<UnitJobData, 'unit' | 'due' | 'sagaName' | 'sagaVersion'>;

/**
 * Which BullMQ queue carries a unit's job. Every unit goes through the one shared queue, except the
 * attempts of a handler that declares a concurrency or a rate limit: those go through a queue of the
 * handler's own, on which BullMQ enforces the limit for every worker together (its global
 * concurrency, kept in the queue's Redis meta key, and a limiter that every worker passes with each
 * fetch). The shared queue's workers never wait on a limit, so a limited handler's backlog holds no
 * other handler back.
 */
@Injectable()
export class LimitedQueues implements OnApplicationShutdown {
  private byName?: Map<string, LimitedQueue>;
  private readonly errorListeners: ((error: Error) => void)[] = [];

  constructor(
    @InjectQueue(SAGA_QUEUE) readonly shared: Queue<UnitJobData>,
    private readonly registry: SagaRegistry,
    private readonly redis: RedisConnections,
    @Inject(SAGA_MODULE_OPTIONS) private readonly options: ResolvedSagaModuleOptions,
  ) {}

  /**
   * Every limited handler of the registered sagas (read once the registry is filled, at first use).
   * When versions declare different limits for one method, the highest version's apply.
   */
  all(): LimitedQueue[] {
    this.byName ??= this.open();
    return [...this.byName.values()];
  }

  /** The shared queue, then every limited one. */
  every(): Queue<UnitJobData>[] {
    return [this.shared, ...this.all().map((q) => q.queue)];
  }

  /** Listens to the connection errors of every queue, the limited ones included. */
  onError(listener: (error: Error) => void): void {
    this.errorListeners.push(listener);
    for (const queue of [this.shared, ...[...(this.byName?.values() ?? [])].map((q) => q.queue)]) {
      queue.on('error', listener);
    }
  }

  /** A unit's job by its id, on whichever queue holds it: for tools that know only the id. */
  async findJob(jobId: string): Promise<Job<UnitJobData> | undefined> {
    for (const queue of this.every()) {
      const job = await queue.getJob(jobId);
      if (job) return job;
    }
    return undefined;
  }

  /** A unit's job's state by its id, on whichever queue holds it; `unknown` when none does. */
  async jobState(jobId: string): Promise<string> {
    for (const queue of this.every()) {
      const state = await queue.getJobState(jobId);
      if (state !== 'unknown') return state;
    }
    return 'unknown';
  }

  /** The queue of the unit's job: its handler's own when it is limited and the job runs an attempt. */
  queueOf(target: UnitJobTarget): Queue<UnitJobData> {
    return this.limitedQueueOf(target)?.queue ?? this.shared;
  }

  /** The limited queue of the unit's job, if its handler is limited in the version its saga started on. */
  limitedQueueOf({ unit, due, sagaName, sagaVersion }: UnitJobTarget): LimitedQueue | undefined {
    const byName = (this.byName ??= this.open());
    if (due || sagaName === undefined || sagaVersion === undefined || byName.size === 0) return undefined;
    const def = this.registry.findVersion(sagaName, sagaVersion);
    const handler = def && handlerOfUnit(def, unit);
    return handler?.limits && byName.get(limitedQueueName(sagaName, handler.method));
  }

  /**
   * Writes each queue's concurrency into Redis, where BullMQ keeps it, and where a loss of Redis data
   * loses it: the reconciler calls this on every tick. A handler that no longer declares one has it
   * removed, lest a value from an earlier deploy hold it back. A rate limit needs no write: every
   * worker passes its limiter with each fetch.
   */
  async applyLimits(): Promise<void> {
    await Promise.all(
      this.all().map(({ queue, limits }) =>
        limits.concurrency ? queue.setGlobalConcurrency(limits.concurrency) : queue.removeGlobalConcurrency(),
      ),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...(this.byName?.values() ?? [])].map((q) => q.queue.close()));
  }

  private open(): Map<string, LimitedQueue> {
    const queues = new Map<string, LimitedQueue>();
    for (const def of this.registry.all()) {
      for (const step of def.steps) {
        for (const [phase, handler] of [
          ['step', step],
          ['compensation', step.compensation],
        ] as const) {
          if (!handler?.limits) continue;
          const name = limitedQueueName(def.name, handler.method);
          const queue = queues.get(name)?.queue ?? this.openQueue(name);
          queues.set(name, { name, saga: def.name, step: step.name, phase, limits: handler.limits, queue });
        }
      }
    }
    return queues;
  }

  private openQueue(name: string): Queue<UnitJobData> {
    const queue = new Queue<UnitJobData>(name, this.redis.bullOptions());
    for (const listener of this.errorListeners) queue.on('error', listener);
    return queue;
  }
}

/** Saga names have no `/`, and method names are identifiers: the name says which handler it is. */
export const limitedQueueName = (saga: string, method: string): string => `${SAGA_QUEUE}/${saga}/${method}`;

/** The handler that a unit's attempts run: its step's, or its step's compensation; none for the saga's own unit. */
function handlerOfUnit(def: SagaDefinition, key: string): HandlerDefinition | undefined {
  const step = def.steps.find((s) => s.index === Number(key.slice(1)));
  if (!step) return undefined;
  if (key === unitKey.step(step.index)) return step;
  return key === unitKey.compensation(step.index) ? step.compensation : undefined;
}

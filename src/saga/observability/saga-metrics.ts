import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { SagaRegistry } from '../definition/saga-registry.js';
import { LimitedQueues } from '../execution/limited-queues.js';
import type { SagaSnapshot, UnitSnapshot } from '../machine/saga-snapshot.js';
import type { Outcome, Transition } from '../machine/transition.js';
import { SagaStatus, TERMINAL_SAGA_STATUSES } from '../saga-status.js';
import { SagaQueries } from '../store/saga-queries.js';
import { registerKeyQueueGauges } from './key-queue-gauges.js';

/** Prometheus metrics, in a registry of their own so that several apps can live in one process. */
@Injectable()
export class SagaMetrics {
  readonly registry = new Registry();

  private readonly attempts = new Counter({
    name: 'saga_attempts_total',
    help: 'Step and compensation attempts run by this process, by outcome',
    labelNames: ['saga', 'phase', 'outcome'],
    registers: [this.registry],
  });

  private readonly attemptSeconds = new Histogram({
    name: 'saga_attempt_duration_seconds',
    help: 'Duration of step and compensation attempts run by this process',
    labelNames: ['saga', 'phase'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
    registers: [this.registry],
  });

  private readonly finished = new Counter({
    name: 'saga_finished_total',
    help: 'Sagas that reached a terminal status in this process',
    labelNames: ['status'],
    registers: [this.registry],
  });

  readonly redriven = new Counter({
    name: 'saga_reconciler_redriven_total',
    help: 'Units that Postgres said were due but Redis did not hold, re-enqueued by the reconciler',
    registers: [this.registry],
  });

  readonly retentionDeleted = new Counter({
    name: 'saga_retention_deleted_total',
    help: 'Finished sagas deleted by retention (SAGA_RETENTION) in this process, with their units, events and signals',
    registers: [this.registry],
  });

  private readonly left = new Counter({
    name: 'saga_units_left_total',
    help: 'Deliveries of units whose saga version this process lacks, left to a process that has it',
    labelNames: ['saga', 'version'],
    registers: [this.registry],
  });

  constructor(queries: SagaQueries, queues: LimitedQueues, registry: SagaRegistry) {
    registerKeyQueueGauges(this.registry, queries, registry);
    // Both gauges below read one query per scrape: prom-client collects every metric at once.
    let scrape: ReturnType<SagaQueries['activeByVersion']> | undefined;
    const activeByVersion = () =>
      (scrape ??= queries.activeByVersion().finally(() => {
        scrape = undefined;
      }));
    new Gauge({
      name: 'saga_active',
      help:
        'Sagas in flight (pending, running, compensating) by name and version; 0 for every version this ' +
        'process registers and none is in flight: an old version may be removed once it is 0',
      labelNames: ['saga', 'version'],
      registers: [this.registry],
      async collect() {
        const rows = await activeByVersion();
        this.reset();
        for (const def of registry.all()) this.set({ saga: def.name, version: def.version }, 0);
        for (const { name, version, sagas } of rows) this.set({ saga: name, version }, sagas);
      },
    });
    new Gauge({
      name: 'saga_units_without_definition',
      help:
        'Scheduled units of sagas in flight whose version this process does not register: it leaves ' +
        'them to processes that do, and they wait while none runs',
      labelNames: ['saga', 'version'],
      registers: [this.registry],
      async collect() {
        const rows = await activeByVersion();
        this.reset();
        for (const { name, version, scheduledUnits } of rows) {
          if (!registry.findVersion(name, version)) this.set({ saga: name, version }, scheduledUnits);
        }
      },
    });
    new Gauge({
      name: 'saga_sagas',
      help: 'Sagas stored in Postgres, by name and status',
      labelNames: ['name', 'status'],
      registers: [this.registry],
      async collect() {
        const counts = await queries.countsByNameAndStatus();
        this.reset();
        for (const { name, status, count } of counts) this.set({ name, status }, count);
      },
    });
    new Gauge({
      name: 'saga_dead_letters',
      help: 'Sagas in status failed: a compensation exhausted its retries and an operator must act',
      registers: [this.registry],
      async collect() {
        const counts = await queries.countsByNameAndStatus();
        this.set(counts.filter((c) => c.status === SagaStatus.Failed).reduce((sum, c) => sum + c.count, 0));
      },
    });
    new Gauge({
      name: 'saga_queue_jobs',
      help: "Jobs in the BullMQ queues (the shared one, and each limited handler's), by queue and state",
      labelNames: ['queue', 'state'],
      registers: [this.registry],
      async collect() {
        const all = queues.every();
        const counts = await Promise.all(
          all.map((q) => q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed')),
        );
        all.forEach((q, i) => {
          for (const [state, count] of Object.entries(counts[i])) this.set({ queue: q.name, state }, count);
        });
      },
    });
    new Gauge({
      name: 'saga_units_waiting_on_limit',
      help:
        'Units of a handler with a concurrency or rate limit that are due and wait for the limit to let ' +
        'them start (a retry waiting out its backoff is not counted), by saga, step and phase',
      labelNames: ['saga', 'step', 'phase'],
      registers: [this.registry],
      async collect() {
        const limited = queues.all();
        const counts = await Promise.all(limited.map((q) => q.queue.getJobCounts('waiting', 'prioritized')));
        limited.forEach(({ saga, step, phase }, i) =>
          this.set({ saga, step, phase }, counts[i].waiting + counts[i].prioritized),
        );
      },
    });
  }

  recordAttempt(saga: SagaSnapshot, unit: UnitSnapshot, outcome: Outcome, seconds: number): void {
    this.attempts.inc({ saga: saga.name, phase: unit.kind, outcome: outcome.kind });
    this.attemptSeconds.observe({ saga: saga.name, phase: unit.kind }, seconds);
  }

  recordLeft(saga: string, version: number): void {
    this.left.inc({ saga, version });
  }

  recordTransition(transition: Transition): void {
    if (TERMINAL_SAGA_STATUSES.includes(transition.status)) this.finished.inc({ status: transition.status });
  }
}

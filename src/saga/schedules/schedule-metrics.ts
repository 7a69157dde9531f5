import { Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { SagaMetrics } from '../observability/saga-metrics.js';
import { SagaScheduler } from './saga-scheduler.js';
import { ScheduleStore, type ScheduleRow } from './schedule.store.js';

/** The schedules' metrics, read from Postgres at each scrape: the same on every process. */
@Injectable()
export class ScheduleMetrics {
  constructor(metrics: SagaMetrics, scheduler: SagaScheduler, store: ScheduleStore) {
    // Both gauges read one query per scrape: prom-client collects every metric at once.
    let scrape: Promise<ScheduleRow[]> | undefined;
    const rows = () =>
      (scrape ??= store.list(scheduler.ids()).finally(() => {
        scrape = undefined;
      }));
    new Gauge({
      name: 'saga_schedule_last_fire_timestamp_seconds',
      help: 'The fire time of the last saga each cron schedule started (Unix seconds); absent until it fires',
      labelNames: ['schedule', 'saga'],
      registers: [metrics.registry],
      async collect() {
        this.reset();
        for (const row of await rows()) {
          if (row.lastFireAt) this.set({ schedule: row.id, saga: row.saga }, row.lastFireAt.getTime() / 1000);
        }
      },
    });
    new Gauge({
      name: 'saga_schedule_fires',
      help: 'Sagas started by each cron schedule so far, by every worker',
      labelNames: ['schedule', 'saga'],
      registers: [metrics.registry],
      async collect() {
        this.reset();
        for (const row of await rows()) this.set({ schedule: row.id, saga: row.saga }, row.fires);
      },
    });
  }
}

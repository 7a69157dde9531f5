import { Gauge, type Registry } from 'prom-client';
import type { SagaRegistry } from '../definition/saga-registry.js';
import type { SagaQueries } from '../store/saga-queries.js';

/**
 * What one running saga per key holds back, by saga name (0 for every keyed saga this process
 * registers): the sagas queued behind a key another saga holds, and the keys held.
 */
export function registerKeyQueueGauges(registry: Registry, queries: SagaQueries, sagas: SagaRegistry): void {
  // Both gauges read one query per scrape: prom-client collects every metric at once.
  let scrape: ReturnType<SagaQueries['keyQueues']> | undefined;
  const keyQueues = () =>
    (scrape ??= queries.keyQueues().finally(() => {
      scrape = undefined;
    }));
  const gauge = (name: string, help: string, value: 'waiting' | 'holders') =>
    new Gauge({
      name,
      help,
      labelNames: ['saga'],
      registers: [registry],
      async collect() {
        const rows = await keyQueues();
        this.reset();
        for (const def of sagas.all()) if (def.concurrencyKey) this.set({ saga: def.name }, 0);
        for (const row of rows) this.set({ saga: row.name }, row[value]);
      },
    });
  gauge(
    'saga_waiting_for_key',
    'Sagas pending behind their concurrency key while another saga of that name and key runs',
    'waiting',
  );
  gauge(
    'saga_key_holders',
    'Concurrency keys held, each by the one saga of that name and key past pending',
    'holders',
  );
}

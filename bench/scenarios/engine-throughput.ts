// A scenario process (see support/scenario-process.ts): the engine, in this process, running
// three-step no-op sagas started through SagaService.start(), as fast as it can.
import postgres from 'postgres';
import { AppDatabase } from '../../src/database/app-database.js';
import { SagaService } from '../../src/saga/index.js';
// Internal, but the bench counts the statements the engine's own pool sends.
import { SagaDatabase } from '../../src/saga/store/saga-database.js';
import { DEFAULT_SAGA_SCHEMA } from '../../src/saga/store/schema.js';
import { NOOP_SAGA, NOOP_STEPS, NoopSagaModule } from '../noop.saga.js';
import { ClientCounters } from '../support/client-counters.js';
import { MeasuredRuns } from '../support/measured-runs.js';
import { startInProcessApp } from '../support/in-process-app.js';
import { distribution } from '../support/percentiles.js';
import { scenarioChild } from '../support/scenario-process.js';
import { TransitionClock } from '../support/transition-clock.js';
import {
  cpuClock,
  memoryNow,
  throughputResult,
  type ThroughputOptions,
  type ThroughputResult,
} from './throughput-result.js';

scenarioChild.run(async (): Promise<ThroughputResult> => {
  const options = scenarioChild.options<ThroughputOptions>();
  // Before the app exists, so that every ioredis client BullMQ creates is counted.
  const counters = new ClientCounters().countRedis();
  const databaseUrl = options.databaseUrl!;
  const started = await startInProcessApp(
    { ...options, databaseUrl },
    {
      sagaModules: [NoopSagaModule],
      settings: { WORKER_CONCURRENCY: String(options.concurrency) },
    },
  );
  const { app } = started;
  counters.countPostgres(app.get(SagaDatabase).sql, app.get(AppDatabase).sql);
  const sagas = app.get(SagaService);
  const clock = app.get(TransitionClock);
  // Connected now: on a busy server a connection opened at the end might find no slot left.
  const observer = postgres(databaseUrl, {
    max: 1,
    onnotice: () => undefined,
    connection: { search_path: DEFAULT_SAGA_SCHEMA },
  });
  await observer`SELECT 1`;

  const start = () => sagas.start(NOOP_SAGA, {});
  const runs = new MeasuredRuns(clock, options, start, (done) => scenarioChild.progress(done));
  await runs.warmUp(() => waitUntilRecorded(observer, options.warmupSagas));

  counters.reset();
  const cpuMs = cpuClock();
  const startedAt = Date.now();
  await runs.measure();
  const { lastCompletedAt, unexpected } = await waitUntilRecorded(
    observer,
    options.warmupSagas + options.sagas,
  );
  await observer.end();
  const client = counters.snapshot();
  const cpu = cpuMs();
  runs.stop();

  const memory = memoryNow();
  await started.close();
  return throughputResult(options, NOOP_STEPS, {
    seconds: (lastCompletedAt - startedAt) / 1000,
    transitionMs: distribution(clock.transitionDelays()),
    client,
    memory,
    cpuMs: cpu,
    unexpected,
  });
});

/**
 * Every last handler has returned; the run ends when Postgres has recorded every saga as
 * terminal, at the latest completed_at. Polled on a connection of the bench's own, which the
 * client counters do not count.
 */
async function waitUntilRecorded(
  sql: postgres.Sql,
  sagas: number,
): Promise<{ lastCompletedAt: number; unexpected: Record<string, number> }> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const rows = await sql<{ status: string; count: number; last: Date | null }[]>`
      SELECT status, count(*)::int AS count, max(completed_at) AS last FROM sagas GROUP BY status`;
    const terminal = rows.filter((r) => r.last !== null);
    if (terminal.reduce((sum, r) => sum + r.count, 0) >= sagas) {
      return {
        lastCompletedAt: Math.max(...terminal.map((r) => r.last!.getTime())),
        unexpected: Object.fromEntries(
          rows.filter((r) => r.status !== 'completed').map((r) => [r.status, r.count]),
        ),
      };
    }
    if (Date.now() > deadline) {
      throw new Error(`sagas not recorded as terminal 60 s after their last step: ${JSON.stringify(rows)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

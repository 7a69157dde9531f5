// A scenario process (see support/scenario-process.ts): the engine, in this process, running
// no-op sagas of one shape (three steps in a row, a parallel group of three, a step and a child
// saga of two) started through SagaService.start(), as fast as it can.
import postgres from 'postgres';
import { AppDatabase } from '../../src/database/app-database.js';
import { SagaService } from '../../src/saga/index.js';
// Internal, but the bench counts the statements the engine's own pool sends.
import { SagaDatabase } from '../../src/saga/store/saga-database.js';
import { DEFAULT_SAGA_SCHEMA } from '../../src/saga/store/schema.js';
import { SAGA_SHAPES } from '../noop.saga.js';
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
  const shape = SAGA_SHAPES[options.shape ?? 'linear'];
  const started = await startInProcessApp(
    { ...options, databaseUrl },
    {
      sagaModules: [shape.module],
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

  // The ids of the measured sagas, for their start→end times.
  const measuredIds: string[] = [];
  let measuring = false;
  let starts = 0;
  const input = () => (shape.keys ? { key: `key-${starts++ % shape.keys}` } : {});
  const start = async () => {
    const { id } = await sagas.start(shape.saga, input());
    if (measuring) measuredIds.push(id);
  };
  const runs = new MeasuredRuns(clock, options, start, (done) => scenarioChild.progress(done));
  await runs.warmUp(() => waitUntilRecorded(observer, shape.saga, options.warmupSagas));

  counters.reset();
  measuring = true;
  const cpuMs = cpuClock();
  const startedAt = Date.now();
  await runs.measure();
  const { lastCompletedAt, unexpected } = await waitUntilRecorded(
    observer,
    shape.saga,
    options.warmupSagas + options.sagas,
  );
  const client = counters.snapshot();
  const cpu = cpuMs();
  runs.stop();
  const startToEndMs = await startToEnd(observer, measuredIds);
  await observer.end();

  const memory = memoryNow();
  await started.close();
  return throughputResult(options, shape, {
    seconds: (lastCompletedAt - startedAt) / 1000,
    transitionMs: distribution(clock.transitionDelays()),
    repeatedHandlerCalls: clock.repeatedCalls,
    startToEndMs: distribution(startToEndMs),
    groupSpreadMs: options.shape === 'parallel' ? distribution(clock.callSpreads()) : undefined,
    client,
    memory,
    cpuMs: cpu,
    unexpected,
  });
});

/**
 * Every last handler has returned (for `child`, the child saga's last: its parent ends two commits
 * later, which the in-flight window does not wait for); the run ends when Postgres has recorded
 * every saga started (`name`: child sagas are not counted) as terminal, at the latest completed_at.
 * Polled on a connection of the bench's own, which the client counters do not count.
 */
async function waitUntilRecorded(
  sql: postgres.Sql,
  name: string,
  sagas: number,
): Promise<{ lastCompletedAt: number; unexpected: Record<string, number> }> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const rows = await sql<{ name: string; status: string; count: number; last: Date | null }[]>`
      SELECT name, status, count(*)::int AS count, max(completed_at) AS last FROM sagas GROUP BY name, status`;
    const terminal = rows.filter((r) => r.name === name && r.last !== null);
    if (terminal.reduce((sum, r) => sum + r.count, 0) >= sagas) {
      return {
        lastCompletedAt: Math.max(...terminal.map((r) => r.last!.getTime())),
        // Any saga not completed, a child too (by then every child has ended, before its parent).
        unexpected: Object.fromEntries(
          rows
            .filter((r) => r.status !== 'completed')
            .map((r) => [r.name === name ? r.status : `${r.name} ${r.status}`, r.count]),
        ),
      };
    }
    if (Date.now() > deadline) {
      throw new Error(`sagas not recorded as terminal 60 s after their last step: ${JSON.stringify(rows)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Per saga, ms from the transaction that inserted it to the one that recorded it terminal. */
async function startToEnd(sql: postgres.Sql, ids: string[]): Promise<number[]> {
  const rows = await sql<{ ms: number }[]>`
    SELECT (extract(epoch FROM completed_at - created_at) * 1000)::float8 AS ms
    FROM sagas WHERE id = ANY(${ids}::uuid[]) AND completed_at IS NOT NULL`;
  return rows.map((r) => r.ms);
}

// What a saga leaves behind, for capacity planning: Redis memory per saga in flight, and rows and
// bytes per saga in Postgres once it has ended (three no-op steps, the app deployed as processes).
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { NOOP_SAGA, NOOP_STEPS } from '../noop.saga.js';
import { NOOP_APP_JS, startAppProcess, type AppProcess } from '../support/app-process.js';
import { cleanUpOnInterrupt, once } from '../support/cleanup.js';
import { createIsolatedEnvironment, uniqueSuffix } from '../support/isolated-environment.js';
import { round } from '../support/percentiles.js';
import type { Progress } from '../support/progress.js';
import { mapWithConcurrency, SagaHttpClient } from '../support/saga-http.js';

export interface FootprintResult {
  sagas: number;
  stepsPerSaga: number;
  /** Every key under the run's BullMQ prefix, by MEMORY USAGE, while each saga has one job waiting. */
  redisBytesPerSagaInFlight: number;
  /** Rows per ended saga, by table of the engine's schema. */
  rowsPerSaga: Record<string, number>;
  /** Table and index bytes per ended saga, by table, after a VACUUM (live rows only). */
  bytesPerSaga: Record<string, number>;
  /** WAL written per saga from its start to its end (server-wide: other activity adds to it). */
  walBytesPerSaga: number;
}

const TABLES = ['sagas', 'saga_units', 'saga_events', 'saga_signals'];

export async function measureFootprint(sagas: number, progress: Progress): Promise<FootprintResult> {
  const id = uniqueSuffix();
  const environment = await createIsolatedEnvironment({
    databaseName: `saga_bench_footprint_${id}`,
    queuePrefix: `saga-bench-footprint-${id}`,
  });
  const processes: AppProcess[] = [];
  const stopAll = once(() => Promise.all(processes.map((p) => p.stop())).then(() => undefined));
  const unregister = cleanUpOnInterrupt(stopAll);
  const sql = postgres(environment.databaseUrl, { max: 1, onnotice: () => undefined });
  const redis = new Redis(environment.redisUrl);
  try {
    // Sagas started while no worker runs: each waits in Redis with its first step's job.
    processes.push(await startAppProcess(environment, { SAGA_ROLE: 'api' }, NOOP_APP_JS));
    const http = new SagaHttpClient(processes[0].url);
    const [{ lsn: walBefore }] = await sql<{ lsn: string }[]>`SELECT pg_current_wal_lsn()::text AS lsn`;
    progress.start('footprint: sagas in flight', sagas);
    let started = 0;
    await mapWithConcurrency(Array.from({ length: sagas }), 50, async () => {
      await http.start(NOOP_SAGA, {});
      progress.update(++started);
    });
    progress.stop();
    // Every job has its saga's priority, so it waits in the prioritized set rather than the wait list.
    const queue = `${environment.queuePrefix}:saga-units`;
    await until(
      async () => (await redis.zcard(`${queue}:prioritized`)) + (await redis.llen(`${queue}:wait`)) >= sagas,
    );
    const redisBytes = await prefixMemory(redis, environment.queuePrefix);

    processes.push(await startAppProcess(environment, { SAGA_ROLE: 'worker' }, NOOP_APP_JS));
    await until(async () => {
      const [{ n }] = await sql<
        { n: number }[]
      >`SELECT count(*)::int AS n FROM saga.sagas WHERE status = 'completed'`;
      return n === sagas;
    });
    const [{ bytes: walBytes }] = await sql<{ bytes: string }[]>`
      SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), ${walBefore}::pg_lsn)::text AS bytes`;
    await sql.unsafe(`VACUUM ${TABLES.map((t) => `saga.${t}`).join(', ')}`);
    const rowsPerSaga: Record<string, number> = {};
    const bytesPerSaga: Record<string, number> = {};
    for (const table of TABLES) {
      const [row] = await sql<{ rows: number; bytes: string }[]>`
        SELECT (SELECT count(*)::int FROM ${sql('saga')}.${sql(table)}) AS rows,
               pg_total_relation_size(${`saga.${table}`}::regclass)::text AS bytes`;
      rowsPerSaga[table] = round(row.rows / sagas, 2);
      bytesPerSaga[table] = round(Number(row.bytes) / sagas, 0);
    }
    return {
      sagas,
      stepsPerSaga: NOOP_STEPS,
      redisBytesPerSagaInFlight: round(redisBytes / sagas, 0),
      rowsPerSaga,
      bytesPerSaga,
      walBytesPerSaga: round(Number(walBytes) / sagas, 0),
    };
  } finally {
    unregister();
    redis.disconnect();
    await sql.end();
    await stopAll();
    await environment.destroy();
  }
}

async function prefixMemory(redis: Redis, prefix: string): Promise<number> {
  let bytes = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    for (const key of keys) bytes += (await redis.memory('USAGE', key)) ?? 0;
    cursor = next;
  } while (cursor !== '0');
  return bytes;
}

async function until(condition: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`footprint: not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

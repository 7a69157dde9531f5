import { commandStatsDelta, total, type ServerCounters } from '../support/server-counters.js';
import { cleanUpOnInterrupt } from '../support/cleanup.js';
import {
  createIsolatedEnvironment,
  deleteRedisKeys,
  REDIS_URL,
  setDatabaseOption,
  uniqueSuffix,
} from '../support/isolated-environment.js';
import type { SagaShapeName } from '../noop.saga.js';
import type { Progress } from '../support/progress.js';
import { runScenarioProcess } from '../support/scenario-process.js';
import type { ThroughputOptions, ThroughputResult } from './throughput-result.js';

export type ThroughputSettings = Pick<
  ThroughputOptions,
  'sagas' | 'warmupSagas' | 'concurrency' | 'inFlight'
>;

/** What the servers counted while a scenario process ran, boot, warm-up and shutdown included. */
export interface ServerDelta {
  /** For the scenario's own database; absent for the baseline, which has none. */
  postgres?: {
    transactions: number;
    rollbacks: number;
    /** Transactions aborted to break a deadlock. */
    deadlocks?: number;
    activeMs: number;
    statements?: number;
  };
  /** INFO commandstats: server-wide, and counting the commands that Lua scripts run. */
  redis: { commands: number; byCommand: Record<string, number> };
}

export type ThroughputMeasurement = ThroughputResult & { server: ServerDelta };

const ENGINE_SCRIPT = new URL('./engine-throughput.js', import.meta.url);
const BASELINE_SCRIPT = new URL('./bullmq-baseline.js', import.meta.url);

/**
 * The engine with a no-op saga of `shape` (default: three steps in a row), in a process of its own,
 * on a fresh database and prefix.
 * `asyncCommit` is a diagnostic: with synchronous_commit off on that database, commits stop
 * waiting for the WAL flush, which shows how much of the engine's time goes to waiting for the disk.
 * Never a setting to run the engine with: a committed transition could be lost in a crash.
 */
export async function measureEngine(
  settings: ThroughputSettings,
  progress: Progress,
  counters: ServerCounters,
  {
    label = 'engine',
    asyncCommit = false,
    shape = 'linear',
  }: { label?: string; asyncCommit?: boolean; shape?: SagaShapeName } = {},
): Promise<ThroughputMeasurement> {
  const id = uniqueSuffix();
  const environment = await createIsolatedEnvironment({
    databaseName: `saga_bench_${id}`,
    queuePrefix: `saga-bench-${id}`,
  });
  try {
    if (asyncCommit) await setDatabaseOption(environment.databaseName, 'synchronous_commit', 'off');
    const postgresBefore = await counters.postgres(environment.databaseName);
    const redisBefore = await counters.redisCommandStats();
    progress.start(label, settings.sagas);
    const result = await runScenarioProcess<ThroughputResult>(
      ENGINE_SCRIPT,
      { ...environment, ...settings, shape } satisfies ThroughputOptions,
      (done) => progress.update(done),
    );
    progress.stop();
    const redisAfter = await counters.redisCommandStats();
    await counters.waitForConnectionsToClose(environment.databaseName);
    const postgresAfter = await counters.postgres(environment.databaseName);
    const redis = commandStatsDelta(redisBefore, redisAfter);
    return {
      ...result,
      server: {
        postgres: {
          transactions: postgresAfter.xactCommit - postgresBefore.xactCommit,
          rollbacks: postgresAfter.xactRollback - postgresBefore.xactRollback,
          deadlocks: postgresAfter.deadlocks - postgresBefore.deadlocks,
          activeMs: postgresAfter.activeMs - postgresBefore.activeMs,
          statements:
            postgresAfter.statements === undefined
              ? undefined
              : postgresAfter.statements - postgresBefore.statements!,
        },
        redis: { commands: total(redis), byCommand: Object.fromEntries(redis) },
      },
    };
  } finally {
    await environment.destroy();
  }
}

/** The plain BullMQ program, in a process of its own, under a fresh prefix (it needs no database). */
export async function measureBaseline(
  settings: ThroughputSettings,
  progress: Progress,
  counters: ServerCounters,
  label = 'plain BullMQ baseline',
): Promise<ThroughputMeasurement> {
  const queuePrefix = `saga-bench-baseline-${uniqueSuffix()}`;
  const cleanUp = () => deleteRedisKeys(REDIS_URL, queuePrefix).then(() => undefined);
  const unregister = cleanUpOnInterrupt(cleanUp);
  try {
    const redisBefore = await counters.redisCommandStats();
    progress.start(label, settings.sagas);
    const options: ThroughputOptions = { redisUrl: REDIS_URL, queuePrefix, ...settings };
    const result = await runScenarioProcess<ThroughputResult>(BASELINE_SCRIPT, options, (done) =>
      progress.update(done),
    );
    progress.stop();
    const redis = commandStatsDelta(redisBefore, await counters.redisCommandStats());
    return { ...result, server: { redis: { commands: total(redis), byCommand: Object.fromEntries(redis) } } };
  } finally {
    unregister();
    await cleanUp();
  }
}

import type { FootprintResult } from './scenarios/footprint.js';
import type { ScaleOutResult } from './scenarios/scale-out.js';
import type { StartLatencyResult } from './scenarios/start-latency.js';
import type { ThroughputMeasurement, ThroughputSettings } from './scenarios/throughput.js';
import type { Machine } from './support/machine.js';
import type { SagaShapeName } from './noop.saga.js';

/** What one saga cost the engine's run, start and reconciler included. */
export interface CostPerSaga {
  /** CPU time of the process running the scenario (the engine, its workers and the bench's starts). */
  processCpuMs: number;
  postgresActiveMs: number;
  postgresTransactions: number;
  postgresStatementsSent: number;
  postgresStatementsExecuted: number | null;
  redisCommandsSent: number;
  redisCommandsExecuted: number;
}

/** The shape of bench/results.json. */
export interface BenchResults {
  generatedAt: string;
  machine: Machine;
  settings: ThroughputSettings & {
    /** The parallel and child shapes' runs (the rest of their settings are the same). */
    shapes?: { sagas: number; warmupSagas: number };
    sagaStartedVia: string;
    startLatency: { ratesPerSecond: number[]; secondsEach: number; app: string };
  };
  /** The median of the rounds below: the engine with three no-op steps in a row (`linear`). */
  engine?: ThroughputMeasurement;
  /** The median of the rounds: the engine with three no-op steps in one parallel group. */
  parallel?: ThroughputMeasurement;
  /** The median of the rounds: the engine with a no-op step, then a child step running a child saga of two. */
  child?: ThroughputMeasurement;
  /**
   * Throughput of every round, in the order they ran (in each round: engine, parallel, child,
   * baseline, those selected).
   */
  rounds?: {
    engineSagasPerSecond: number[];
    baselineSagasPerSecond: number[];
    parallelSagasPerSecond?: number[];
    childSagasPerSecond?: number[];
  };
  /** The linear saga with a concurrency key: sagas taking their key from 100 keys in turn, and all from one. */
  keyed?: { keys100?: ThroughputMeasurement; keys1?: ThroughputMeasurement };
  /** Diagnostic (--async-commit): the engine with synchronous_commit=off on its database. */
  engineAsyncCommit?: ThroughputMeasurement;
  /** The median of the rounds. */
  baseline?: ThroughputMeasurement;
  /** The same sagas one at a time (nothing waits in a queue): step→step is the hand-off alone. */
  handoff?: {
    engine?: ThroughputMeasurement;
    baseline?: ThroughputMeasurement;
    parallel?: ThroughputMeasurement;
    child?: ThroughputMeasurement;
  };
  /** engine ÷ baseline. */
  ratio?: { throughput: number; handoffP50?: number; handoffP99?: number };
  /** Engine scenario, divided by its number of step transitions (saga starts and the reconciler included). */
  costPerStepTransition?: {
    postgresTransactions: number;
    /** pg_stat_database.active_time: time Postgres spent executing the engine's statements. */
    postgresActiveMs: number;
    /** CPU time of the process running the scenario. */
    processCpuMs: number;
    baselineProcessCpuMs?: number;
    postgresStatementsSent: number;
    postgresStatementsExecuted: number | null;
    redisCommandsSent: number;
    redisCommandsExecuted: number;
    baselineRedisCommandsSent?: number;
    baselineRedisCommandsExecuted?: number;
  };
  /**
   * Each engine shape's median run, divided by its number of sagas (for `child`, the parents: each
   * with its child saga), to compare what the shapes cost.
   */
  costPerSaga?: Partial<Record<SagaShapeName, CostPerSaga>>;
  startLatency?: StartLatencyResult[];
  scale?: {
    sagas: number;
    sagasPerSecond: number;
    stepsPerSecond: number;
    transitionP99Ms: number;
    rssMb: number;
    peakRssMb: number;
  }[];
}

/** `npm run bench -- --workers 1,2,4`: one API process and N worker processes. */
export interface ScaleOutResults {
  generatedAt: string;
  machine: BenchResults['machine'];
  settings: ThroughputSettings;
  runs: ScaleOutResult[];
  footprint?: FootprintResult;
}

export function costPerStepTransition(
  engine: ThroughputMeasurement,
  baseline?: ThroughputMeasurement,
): NonNullable<BenchResults['costPerStepTransition']> {
  const per = (count: number, steps: number) => Math.round((count / steps) * 100) / 100;
  // The servers counted the warm-up too; the client counters and the CPU clock did not.
  const serverSteps = (run: ThroughputMeasurement) => (run.steps * (run.sagas + run.warmupSagas)) / run.sagas;
  const postgres = engine.server.postgres!;
  return {
    postgresTransactions: per(postgres.transactions, serverSteps(engine)),
    postgresActiveMs: Math.round((postgres.activeMs / serverSteps(engine)) * 1000) / 1000,
    processCpuMs: Math.round((engine.cpuMs / engine.steps) * 1000) / 1000,
    baselineProcessCpuMs: baseline && Math.round((baseline.cpuMs / baseline.steps) * 1000) / 1000,
    postgresStatementsSent: per(engine.client.postgresStatements, engine.steps),
    postgresStatementsExecuted:
      postgres.statements === undefined ? null : per(postgres.statements, serverSteps(engine)),
    redisCommandsSent: per(engine.client.redisCommands, engine.steps),
    redisCommandsExecuted: per(engine.server.redis.commands, serverSteps(engine)),
    baselineRedisCommandsSent: baseline && per(baseline.client.redisCommands, baseline.steps),
    baselineRedisCommandsExecuted: baseline && per(baseline.server.redis.commands, serverSteps(baseline)),
  };
}

export function costPerSaga(run: ThroughputMeasurement): CostPerSaga {
  const per = (count: number, sagas: number) => Math.round((count / sagas) * 100) / 100;
  // The servers counted the warm-up too; the client counters and the CPU clock did not.
  const serverSagas = run.sagas + run.warmupSagas;
  const postgres = run.server.postgres!;
  return {
    processCpuMs: Math.round((run.cpuMs / run.sagas) * 1000) / 1000,
    postgresActiveMs: Math.round((postgres.activeMs / serverSagas) * 1000) / 1000,
    postgresTransactions: per(postgres.transactions, serverSagas),
    postgresStatementsSent: per(run.client.postgresStatements, run.sagas),
    postgresStatementsExecuted:
      postgres.statements === undefined ? null : per(postgres.statements, serverSagas),
    redisCommandsSent: per(run.client.redisCommands, run.sagas),
    redisCommandsExecuted: per(run.server.redis.commands, serverSagas),
  };
}

import type { SagaShapeName } from '../noop.saga.js';
import type { Distribution } from '../support/percentiles.js';

/** What the engine and the baseline scenario processes report, so that they can be compared line by line. */
export interface ThroughputResult {
  /** What each saga was: three steps in a row (the engine's linear saga, and the baseline), a parallel group, a child saga. */
  shape: SagaShapeName;
  /** Measured sagas; the warm-up ones ran before, in the same process, and are not in any figure but the server's. */
  sagas: number;
  warmupSagas: number;
  /** No-op steps of the measured sagas (three per saga, whatever the shape). */
  steps: number;
  /** Handler calls per saga: the no-op steps, and for `child` the child step's own handler. */
  handlersPerSaga: number;
  concurrency: number;
  inFlight: number;
  seconds: number;
  sagasPerSecond: number;
  stepsPerSecond: number;
  /**
   * Milliseconds from step k's handler returning to step k+1's handler being called (for `child`,
   * across the child's start too; none for `parallel`, whose steps do not follow each other).
   */
  transitionMs: Distribution;
  /**
   * Engine only: per measured saga, from the transaction that inserted it to the one that recorded it
   * completed (Postgres's now() of each), the parent's for `child`.
   */
  startToEndMs?: Distribution;
  /** `parallel` only: per saga, from the first of its group's handlers being called to the last. */
  groupSpreadMs?: Distribution;
  /** Handler calls for a step already called in that saga: redeliveries that ran a handler again. */
  repeatedHandlerCalls: number;
  /** Sent by the scenario process while it was measuring (not while it booted). */
  client: {
    redisCommands: number;
    redisByCommand: Record<string, number>;
    postgresStatements: number;
    /** The statements by kind (verb and tables), largest first; absent for the baseline. */
    postgresByStatement?: Record<string, number>;
  };
  memory: { rssMb: number; peakRssMb: number };
  /** CPU time of the scenario process while measuring (user + system), in ms. */
  cpuMs: number;
  /** Terminal statuses other than the expected one, which would make the figures meaningless. */
  unexpected: Record<string, number>;
}

/** Options a throughput scenario process receives from the bench. */
export interface ThroughputOptions {
  /** The engine's database; the baseline has none. */
  databaseUrl?: string;
  /** The saga the engine runs (default `linear`); the baseline is always three jobs in a row. */
  shape?: SagaShapeName;
  redisUrl: string;
  queuePrefix: string;
  sagas: number;
  /** Run first and not measured, so that both programs are measured warm (JIT, pools, batch sizes). */
  warmupSagas: number;
  concurrency: number;
  inFlight: number;
}

export function memoryNow(): ThroughputResult['memory'] {
  const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
  // maxRSS is in kilobytes: the process's high-water mark, boot included.
  return { rssMb: mb(process.memoryUsage().rss), peakRssMb: mb(process.resourceUsage().maxRSS * 1024) };
}

/** Measures this process's CPU time from now on, in milliseconds. */
export function cpuClock(): () => number {
  const start = process.cpuUsage();
  return () => {
    const { user, system } = process.cpuUsage(start);
    return (user + system) / 1000;
  };
}

/** The result of a throughput run, with the rates derived from its duration. */
export function throughputResult(
  options: ThroughputOptions,
  shape: { steps: number; handlers: number },
  measured: Pick<
    ThroughputResult,
    | 'seconds'
    | 'transitionMs'
    | 'startToEndMs'
    | 'groupSpreadMs'
    | 'repeatedHandlerCalls'
    | 'client'
    | 'memory'
    | 'cpuMs'
    | 'unexpected'
  >,
): ThroughputResult {
  const steps = shape.steps;
  return {
    shape: options.shape ?? 'linear',
    sagas: options.sagas,
    warmupSagas: options.warmupSagas,
    steps: options.sagas * steps,
    handlersPerSaga: shape.handlers,
    concurrency: options.concurrency,
    inFlight: options.inFlight,
    sagasPerSecond: options.sagas / measured.seconds,
    stepsPerSecond: (options.sagas * steps) / measured.seconds,
    ...measured,
  };
}

// `npm run bench`: the engine against plain BullMQ, the engine with a parallel group and with a
// child saga, HTTP start latency, and what a step costs in Postgres and Redis. Every scenario gets
// its own database and BullMQ prefix, removed at the end.
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { formatBenchReport, formatScaleOutReport } from './bench-report.js';
import {
  costPerSaga,
  costPerStepTransition,
  type BenchResults,
  type ScaleOutResults,
} from './bench-results.js';
import { measureFootprint } from './scenarios/footprint.js';
import { measureScaleOut } from './scenarios/scale-out.js';
import { measureStartLatency } from './scenarios/start-latency.js';
import {
  measureBaseline,
  measureEngine,
  type ThroughputMeasurement,
  type ThroughputSettings,
} from './scenarios/throughput.js';
import { wasInterrupted } from './support/cleanup.js';
import { parseFlags, positiveInteger, positiveIntegers } from './support/cli.js';
import { REDIS_URL } from './support/isolated-environment.js';
import { describeMachine } from './support/machine.js';
import { round } from './support/percentiles.js';
import { createProgress } from './support/progress.js';
import { ServerCounters } from './support/server-counters.js';

const USAGE = `usage: npm run bench -- [--n 5000] [--warmup 500] [--rounds 3] [--concurrency 50] [--in-flight 100]
                        [--shapes-n 1000] [--shapes-warmup 200] [--rates 200,1000] [--handoff-n 200]
                        [--seconds 10] [--scale] [--only engine,parallel,child,keyed,baseline,http]
                        [--async-commit] [--json] [--out bench/results.json]
       npm run bench -- --workers 1,2,4 [--n 5000] [--warmup 500] [--concurrency 50] [--out bench/scale-out.json]
  --only          engine: three no-op steps in a row (and one at a time, and the cost per step);
                  parallel: three in one parallel group; child: a step and a child saga of two;
                  keyed: three in a row, one saga per concurrency key, with 100 keys and with 1;
                  baseline: plain BullMQ; http: POST /sagas/order latency. Default: all of them.
  --shapes-n      sagas per round for parallel and child (default: --n, at most 1,000: they run
                  slower, and the bench should stay within five minutes); --shapes-warmup likewise
                  (default: --warmup, at most 200)
  --scale         also runs the engine at 1,000 and 50,000 sagas (throughput and worker RSS)
  --workers       instead of the scenarios above: the app as one API process and N worker processes
                  (for each N listed), no-op sagas of three steps started over HTTP; sagas/s, the
                  Postgres connections held and the CPU per saga of each process; then what a saga
                  costs in Redis while in flight and in Postgres once ended (capacity planning)
  --async-commit  diagnostic: also runs the engine with synchronous_commit=off on its database,
                  to show how much of its time goes to waiting for WAL flushes (never run it so)`;
const DEFAULT_RESULTS_FILE = fileURLToPath(new URL('../../bench/results.json', import.meta.url));
const DEFAULT_SCALE_OUT_FILE = fileURLToPath(new URL('../../bench/scale-out.json', import.meta.url));
const SCALE_SIZES = [1_000, 50_000];

const flags = parseFlags(
  {
    n: { type: 'string' },
    warmup: { type: 'string' },
    'shapes-n': { type: 'string' },
    'shapes-warmup': { type: 'string' },
    concurrency: { type: 'string' },
    'in-flight': { type: 'string' },
    rates: { type: 'string' },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    scale: { type: 'boolean', default: false },
    'async-commit': { type: 'boolean', default: false },
    'handoff-n': { type: 'string' },
    only: { type: 'string' },
    workers: { type: 'string' },
    json: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
  USAGE,
);
const concurrency = positiveInteger(flags.concurrency, 'concurrency', 50);
const settings: ThroughputSettings = {
  sagas: positiveInteger(flags.n, 'n', 5_000),
  warmupSagas: positiveInteger(flags.warmup, 'warmup', 500),
  concurrency,
  // Twice the concurrency: enough that the workers never wait for work, few enough that the delay
  // between two steps is not mostly time spent behind other sagas in the queue.
  inFlight: positiveInteger(flags['in-flight'], 'in-flight', 2 * concurrency),
};
// The parallel group and the child saga run several times slower than three steps in a row: fewer of
// them keep the bench's duration (and the saturated, in-flight settings are the same).
const shapeSettings: ThroughputSettings = {
  ...settings,
  sagas: positiveInteger(flags['shapes-n'], 'shapes-n', Math.min(settings.sagas, 1_000)),
  warmupSagas: positiveInteger(flags['shapes-warmup'], 'shapes-warmup', Math.min(settings.warmupSagas, 200)),
};
// One saga at a time: nothing queues, so step→step is the hand-off alone.
const handoffSettings: ThroughputSettings = {
  sagas: positiveInteger(flags['handoff-n'], 'handoff-n', 200),
  warmupSagas: 20,
  concurrency,
  inFlight: 1,
};
const rates = positiveIntegers(flags.rates, 'rates', [200, 1_000]);
const roundCount = positiveInteger(flags.rounds, 'rounds', 3);
const workerCounts = flags.workers === undefined ? undefined : positiveIntegers(flags.workers, 'workers', []);
const resultsFile = flags.out ?? (workerCounts ? DEFAULT_SCALE_OUT_FILE : DEFAULT_RESULTS_FILE);
const seconds = positiveInteger(flags.seconds, 'seconds', 10);
const SELECTABLE = ['engine', 'parallel', 'child', 'keyed', 'baseline', 'http'];
const only = new Set(flags.only?.split(',').map((part) => part.trim()) ?? SELECTABLE);
for (const part of only) {
  if (!SELECTABLE.includes(part)) {
    console.error(`--only takes some of ${SELECTABLE.join(',')}, got "${part}"\n\n${USAGE}`);
    process.exit(2);
  }
}
/** The engine's saga shapes to measure: the --only name, which is also the name of its results. */
const SHAPES = (
  [
    { key: 'engine', shape: 'linear', label: 'engine' },
    { key: 'parallel', shape: 'parallel', label: 'engine, parallel group' },
    { key: 'child', shape: 'child', label: 'engine, child saga' },
  ] as const
).filter(({ key }) => only.has(key));

async function main(): Promise<void> {
  if (workerCounts) return scaleOut(workerCounts);
  const progress = createProgress(!flags.json);
  const counters = new ServerCounters(REDIS_URL);
  try {
    const results: BenchResults = {
      generatedAt: new Date().toISOString(),
      machine: await describeMachine(REDIS_URL, await counters.pgStatStatementsAvailable()),
      settings: {
        ...settings,
        shapes: { sagas: shapeSettings.sagas, warmupSagas: shapeSettings.warmupSagas },
        sagaStartedVia: 'SagaService.start() in the worker process',
        startLatency: { ratesPerSecond: rates, secondsEach: seconds, app: 'node dist/src/main.js' },
      },
    };
    // Alternating rounds, each program's median reported: this machine's speed drifts by 10-20 %
    // from one run to the next, and alternating spreads the drift over every program.
    const rounds: Record<'engine' | 'parallel' | 'child' | 'baseline', ThroughputMeasurement[]> = {
      engine: [],
      parallel: [],
      child: [],
      baseline: [],
    };
    for (let round = 1; round <= roundCount; round++) {
      const of = roundCount > 1 ? `, round ${round}/${roundCount}` : '';
      for (const { shape, key, label } of SHAPES) {
        const sized = shape === 'linear' ? settings : shapeSettings;
        rounds[key].push(await measureEngine(sized, progress, counters, { label: `${label}${of}`, shape }));
      }
      if (only.has('baseline'))
        rounds.baseline.push(
          await measureBaseline(settings, progress, counters, `plain BullMQ baseline${of}`),
        );
    }
    results.engine = median(rounds.engine);
    results.parallel = median(rounds.parallel);
    results.child = median(rounds.child);
    results.baseline = median(rounds.baseline);
    const sagasPerSecond = (runs: ThroughputMeasurement[]) => runs.map((r) => r.sagasPerSecond);
    results.rounds = {
      engineSagasPerSecond: sagasPerSecond(rounds.engine),
      baselineSagasPerSecond: sagasPerSecond(rounds.baseline),
      parallelSagasPerSecond: only.has('parallel') ? sagasPerSecond(rounds.parallel) : undefined,
      childSagasPerSecond: only.has('child') ? sagasPerSecond(rounds.child) : undefined,
    };
    for (const { shape, key, label } of SHAPES) {
      const run = await measureEngine(handoffSettings, progress, counters, {
        label: `${label}, one saga at a time`,
        shape,
      });
      results.handoff = { ...results.handoff, [key]: run };
    }
    // Once each, with the shapes' settings: the queue behind one key runs one saga at a time.
    if (only.has('keyed')) {
      const keyed = (shape: 'keyed100' | 'keyed1', keys: string) =>
        measureEngine(shapeSettings, progress, counters, { label: `engine, one per key, ${keys}`, shape });
      results.keyed = { keys100: await keyed('keyed100', '100 keys'), keys1: await keyed('keyed1', '1 key') };
    }
    if (flags['async-commit']) {
      const label = 'engine, synchronous_commit=off';
      results.engineAsyncCommit = await measureEngine(settings, progress, counters, {
        label,
        asyncCommit: true,
      });
    }
    if (only.has('baseline')) {
      const label = 'plain BullMQ, one at a time';
      results.handoff = {
        ...results.handoff,
        baseline: await measureBaseline(handoffSettings, progress, counters, label),
      };
    }
    if (results.engine && results.baseline) {
      const { engine, baseline } = results.handoff ?? {};
      results.ratio = {
        throughput: results.engine.sagasPerSecond / results.baseline.sagasPerSecond,
        handoffP50: engine && baseline && engine.transitionMs.p50 / baseline.transitionMs.p50,
        handoffP99: engine && baseline && engine.transitionMs.p99 / baseline.transitionMs.p99,
      };
    }
    if (results.engine)
      results.costPerStepTransition = costPerStepTransition(results.engine, results.baseline);
    if (SHAPES.length > 0) {
      results.costPerSaga = Object.fromEntries(
        SHAPES.map(({ shape, key }) => [shape, costPerSaga(results[key]!)]),
      );
    }
    if (only.has('http')) results.startLatency = await measureStartLatency(rates, seconds, progress);
    if (flags.scale) {
      results.scale = [];
      for (const sagas of SCALE_SIZES) {
        const label = `engine, ${sagas} sagas`;
        const run = await measureEngine({ ...settings, sagas }, progress, counters, { label });
        results.scale.push({
          sagas,
          sagasPerSecond: round(run.sagasPerSecond, 1),
          stepsPerSecond: round(run.stepsPerSecond, 1),
          transitionP99Ms: round(run.transitionMs.p99, 2),
          rssMb: run.memory.rssMb,
          peakRssMb: run.memory.peakRssMb,
        });
      }
    }

    const json = JSON.stringify(
      results,
      (_, value) => (typeof value === 'number' ? round(value, 3) : value),
      2,
    );
    await writeFile(resultsFile, `${json}\n`);
    if (flags.json) console.log(json);
    else console.log(`\n${formatBenchReport(results)}\n\nWrote ${resultsFile}`);
  } finally {
    progress.stop();
    await counters.close();
  }
}

async function scaleOut(counts: number[]): Promise<void> {
  const progress = createProgress(!flags.json);
  try {
    const results: ScaleOutResults = {
      generatedAt: new Date().toISOString(),
      machine: await describeMachine(REDIS_URL, false),
      settings,
      runs: [],
    };
    for (const workers of counts) results.runs.push(await measureScaleOut(workers, settings, progress));
    results.footprint = await measureFootprint(Math.min(settings.sagas, 2_000), progress);
    await writeFile(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
    if (flags.json) console.log(JSON.stringify(results, null, 2));
    else console.log(`\n${formatScaleOutReport(results)}\n\nWrote ${resultsFile}`);
  } finally {
    progress.stop();
  }
}

/** The run with the median throughput (the lower middle of an even count). */
function median(runs: ThroughputMeasurement[]): ThroughputMeasurement | undefined {
  const sorted = [...runs].sort((a, b) => a.sagasPerSecond - b.sagasPerSecond);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    if (wasInterrupted()) return; // the cleanup exits when it is done
    console.error(error.stack ?? error);
    process.exit(1);
  },
);

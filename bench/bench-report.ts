import type { BenchResults, CostPerSaga, ScaleOutResults } from './bench-results.js';
import type { ThroughputMeasurement } from './scenarios/throughput.js';
import { renderTable } from './support/table.js';
import { round } from './support/percentiles.js';

type NamedRun = [string, ThroughputMeasurement];

/** The human-readable report of a bench run: the same figures as results.json. */
export function formatBenchReport(results: BenchResults): string {
  const { machine } = results;
  return [
    `Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGb} GB, Node ${machine.node}, ` +
      `Postgres ${machine.postgres}, Redis ${machine.redis}`,
    throughputSection(results),
    handoffSection(results),
    warnings(results),
    costSection(results),
    costPerSagaSection(results),
    startLatencySection(results),
    scaleSection(results),
  ]
    .filter((section) => section !== '')
    .join('\n\n');
}

const ENGINE_ROWS = {
  engine: 'engine, 3 steps in a row',
  parallel: 'engine, parallel group of 3',
  child: 'engine, 1 step + child saga of 2',
  keys100: 'engine, 3 in a row, one per key, 100 keys',
  keys1: 'engine, 3 in a row, one per key, 1 key',
} as const;

function throughputSection(results: BenchResults): string {
  const { settings, ratio } = results;
  const runs = present([
    [ENGINE_ROWS.engine, results.engine],
    [ENGINE_ROWS.parallel, results.parallel],
    [ENGINE_ROWS.child, results.child],
    [ENGINE_ROWS.keys100, results.keyed?.keys100],
    [ENGINE_ROWS.keys1, results.keyed?.keys1],
    ['engine, synchronous_commit=off (diagnostic)', results.engineAsyncCommit],
    ['plain BullMQ, 3 jobs in a row', results.baseline],
  ]);
  if (runs.length === 0) return '';
  const lines = [
    `Throughput: no-op sagas of three steps each, worker concurrency ${settings.concurrency}, one process, ` +
      `${settings.inFlight} sagas kept in flight, each run measured after warm-up sagas ` +
      `(${settings.warmupSagas.toLocaleString('en-US')}` +
      (settings.shapes && (results.parallel || results.child)
        ? `; ${settings.shapes.warmupSagas.toLocaleString('en-US')} for the parallel group and the child saga`
        : '') +
      `), engine sagas started with ${settings.sagaStartedVia}`,
    renderTable(
      [
        '',
        'sagas',
        'sagas/s',
        'steps/s',
        'seconds',
        'step→step p50 ms',
        'p99 ms',
        'max ms',
        'start→end p50 ms',
        'p99 ms',
        'peak RSS MB',
      ],
      runs.map(([name, r]) => [
        name,
        r.sagas,
        r.sagasPerSecond,
        r.stepsPerSecond,
        r.seconds,
        r.transitionMs.p50,
        r.transitionMs.p99,
        r.transitionMs.max,
        r.startToEndMs?.p50,
        r.startToEndMs?.p99,
        r.memory.peakRssMb,
      ]),
    ),
    '  Saturated, step→step is mostly time queued behind the other sagas in flight (≈ in flight ÷ steps/s),',
    '  and start→end (the transaction that inserted the saga → the one that recorded it completed) too.',
  ];
  if (results.parallel || results.child) {
    lines.push(
      '  steps/s counts three no-op steps per saga: a parallel group has no step→step; the child row',
      "  also runs the child step's own handler (it returns the child's input), two sagas and a join.",
    );
  }
  if (results.keyed) {
    lines.push(
      '  One per key: the sagas take their concurrency key from 100 keys, or all from one, in turn; behind',
      '  one key they run one at a time, and start→end counts their time queued.',
    );
  }
  const { rounds } = results;
  const roundCount =
    (rounds?.engineSagasPerSecond.length ?? 0) +
    (rounds?.baselineSagasPerSecond.length ?? 0) +
    (rounds?.parallelSagasPerSecond?.length ?? 0) +
    (rounds?.childSagasPerSecond?.length ?? 0);
  if (rounds && roundCount > runs.length) {
    const list = (values: number[]) => values.map((v) => Math.round(v).toLocaleString('en-US')).join(', ');
    const parts = [
      ['engine', rounds.engineSagasPerSecond],
      ['parallel group', rounds.parallelSagasPerSecond ?? []],
      ['child saga', rounds.childSagasPerSecond ?? []],
      ['plain BullMQ', rounds.baselineSagasPerSecond],
    ] as const;
    lines.push(
      `  Median of alternating rounds (sagas/s): ${parts
        .filter(([, values]) => values.length > 0)
        .map(([name, values]) => `${name} ${list(values)}`)
        .join('; ')}.`,
    );
  }
  if (ratio) {
    lines.push(
      '',
      `>>> ENGINE THROUGHPUT = ${ratio.throughput.toFixed(2)} × PLAIN BULLMQ ` +
        `(${(1 / ratio.throughput).toFixed(1)} times slower)` +
        (ratio.handoffP50 === undefined
          ? ''
          : `; step hand-off ${ratio.handoffP50.toFixed(1)} × longer at p50, ${ratio.handoffP99!.toFixed(1)} × at p99`),
    );
  }
  return lines.join('\n');
}

function handoffSection(results: BenchResults): string {
  const runs = present([
    [ENGINE_ROWS.engine, results.handoff?.engine],
    [ENGINE_ROWS.parallel, results.handoff?.parallel],
    [ENGINE_ROWS.child, results.handoff?.child],
    ['plain BullMQ, 3 jobs in a row', results.handoff?.baseline],
  ]);
  if (runs.length === 0) return '';
  const lines = [
    `Step hand-off: ${runs[0][1].sagas} sagas one at a time (nothing queues), step k returned → step k+1 called`,
    renderTable(
      ['', 'p50 ms', 'p99 ms', 'max ms', 'start→end p50 ms', 'p99 ms', 'sagas/s, serially'],
      runs.map(([name, r]) => [
        name,
        r.transitionMs.p50,
        r.transitionMs.p99,
        r.transitionMs.max,
        r.startToEndMs?.p50,
        r.startToEndMs?.p99,
        r.sagasPerSecond,
      ]),
    ),
  ];
  const spread = results.handoff?.parallel?.groupSpreadMs;
  if (spread) {
    lines.push(
      `  Parallel group, first of its three handlers called → last called: p50 ${fixed(spread.p50)} ms, ` +
        `p99 ${fixed(spread.p99)} ms.`,
    );
  }
  if (results.handoff?.child) {
    lines.push(
      "  Child: step→step times the parent's step → child step's handler → the child's first step (the",
      "  child saga's start) → its second; start→end also counts the child's end and the parent's join.",
    );
  }
  return lines.join('\n');
}

/** A run whose sagas did not all complete measured something else than it says. */
function warnings(results: BenchResults): string {
  const runs = present([
    ['engine', results.engine],
    ['engine, parallel group', results.parallel],
    ['engine, child saga', results.child],
    [ENGINE_ROWS.keys100, results.keyed?.keys100],
    [ENGINE_ROWS.keys1, results.keyed?.keys1],
    ['engine, synchronous_commit=off', results.engineAsyncCommit],
    ['plain BullMQ', results.baseline],
    ['engine, one at a time', results.handoff?.engine],
    ['engine, parallel group, one at a time', results.handoff?.parallel],
    ['engine, child saga, one at a time', results.handoff?.child],
    ['plain BullMQ, one at a time', results.handoff?.baseline],
  ]);
  return runs
    .filter(([, r]) => Object.keys(r.unexpected).length > 0)
    .map(([name, r]) => `WARNING: ${name} ended sagas as ${JSON.stringify(r.unexpected)}`)
    .join('\n');
}

function costPerSagaSection(results: BenchResults): string {
  const cost = results.costPerSaga;
  if (!cost) return '';
  const shapes = present([
    [ENGINE_ROWS.engine, results.engine],
    [ENGINE_ROWS.parallel, results.parallel],
    [ENGINE_ROWS.child, results.child],
  ]);
  const per = shapes.map(([, run]) => cost[run.shape]!);
  const row = (name: string, value: (c: CostPerSaga) => number | null): (string | number)[] => [
    name,
    ...per.map((c) => value(c) ?? 'n/a'),
  ];
  return [
    'Cost per saga, by shape (median run of each; saga starts and the reconciler included)',
    renderTable(
      ['', ...shapes.map(([name]) => name.replace(/^engine, /, ''))],
      [
        row('CPU ms of the worker process (Node)', (c) => c.processCpuMs),
        row('Postgres ms executing statements (active_time)', (c) => c.postgresActiveMs),
        row('Postgres transactions', (c) => c.postgresTransactions),
        row('Postgres statements sent', (c) => c.postgresStatementsSent),
        row('Postgres statements executed (pg_stat_statements)', (c) => c.postgresStatementsExecuted),
        row('Redis commands sent', (c) => c.redisCommandsSent),
        row('Redis commands executed (server-wide)', (c) => c.redisCommandsExecuted),
      ],
    ),
    '  Postgres deadlocks in each run, warm-up included (each aborts a batch of transitions after',
    "  deadlock_timeout; BullMQ redelivers their jobs 2 s later), and the measured sagas' handlers run again:",
    ...shapes.map(
      ([name, run]) =>
        `    ${name.replace(/^engine, /, '')}: ${run.server.postgres?.deadlocks ?? 'n/a'} deadlocks, ` +
        `${run.repeatedHandlerCalls ?? 'n/a'} handler calls repeated`,
    ),
    '  Statements sent per saga, by kind:',
    ...shapes.map(
      ([name, run]) =>
        `    ${name.replace(/^engine, /, '')}: ` +
        Object.entries(run.client.postgresByStatement ?? {})
          .filter(([, count]) => count / run.sagas >= 0.01)
          .map(([kind, count]) => `${kind} ${fixed(count / run.sagas)}`)
          .join('; '),
    ),
  ].join('\n');
}

function fixed(value: number): string {
  return value.toFixed(value < 10 ? 2 : 1);
}

function costSection(results: BenchResults): string {
  const cost = results.costPerStepTransition;
  if (!cost || !results.engine) return '';
  return [
    `Cost per step transition (engine run: ${results.engine.steps.toLocaleString('en-US')} steps; ` +
      'saga starts and the reconciler included)',
    renderTable(
      ['', 'engine', 'plain BullMQ'],
      [
        ['CPU ms of the worker process (Node)', cost.processCpuMs, cost.baselineProcessCpuMs],
        ['Postgres ms executing statements (active_time)', cost.postgresActiveMs, undefined],
        ['Postgres transactions (pg_stat_database xact_commit)', cost.postgresTransactions, undefined],
        ['Postgres statements sent (counted in the client)', cost.postgresStatementsSent, undefined],
        [
          'Postgres statements executed (pg_stat_statements)',
          cost.postgresStatementsExecuted ?? 'n/a',
          undefined,
        ],
        [
          'Redis commands sent (counted in the client)',
          cost.redisCommandsSent,
          cost.baselineRedisCommandsSent,
        ],
        [
          'Redis commands executed (INFO commandstats, Lua inside)',
          cost.redisCommandsExecuted,
          cost.baselineRedisCommandsExecuted,
        ],
      ],
    ),
    `  engine, Redis commands sent: ${topCommands(results.engine.client.redisByCommand)}`,
    `  engine, Redis commands executed: ${topCommands(results.engine.server.redis.byCommand)}`,
    '  active_time counts time waiting for the CPU and the WAL flush too; commandstats is server-wide, so',
    '  other clients of this Redis add to it.' +
      (cost.postgresStatementsExecuted === null
        ? ' pg_stat_statements is not preloaded on this server.'
        : ''),
  ].join('\n');
}

function startLatencySection(results: BenchResults): string {
  if (!results.startLatency) return '';
  const { app, secondsEach } = results.settings.startLatency;
  return [
    `Start latency: POST /sagas/order over HTTP to \`${app}\` (its workers run the sagas meanwhile), ` +
      `${secondsEach} s per rate, requests evenly spaced (open loop), latency from when each was due`,
    renderTable(
      [
        'deployment',
        'target/s',
        'achieved/s',
        'requests',
        'p50 ms',
        'p99 ms',
        'max ms',
        'statuses',
        'errors',
        'timeouts',
        'CPU busy %',
      ],
      results.startLatency.map((r) => [
        r.deployment,
        r.targetPerSecond,
        r.achievedPerSecond,
        r.requests,
        r.p50Ms,
        r.p99Ms,
        r.maxMs,
        Object.entries(r.statusCodes)
          .map(([code, count]) => `${code}×${count}`)
          .join(' '),
        r.errors,
        r.timeouts,
        r.machineBusyPercent,
      ]),
    ),
    "  CPU busy %: all the machine's cores, shared by the app's processes, Postgres, Redis and the load generator.",
    ...results.startLatency
      .filter((r) => r.appLogTail)
      .map(
        (r) =>
          `  the app's log after ${r.targetPerSecond}/s (${r.deployment}) ended with:\n${indent(r.appLogTail!, '    ')}`,
      ),
  ].join('\n');
}

function scaleSection(results: BenchResults): string {
  if (!results.scale) return '';
  return [
    'Scale: engine throughput and worker memory by run size',
    renderTable(
      ['sagas', 'sagas/s', 'steps/s', 'step→step p99 ms', 'RSS at end MB', 'peak RSS MB'],
      results.scale.map((s) => [
        s.sagas,
        s.sagasPerSecond,
        s.stepsPerSecond,
        s.transitionP99Ms,
        s.rssMb,
        s.peakRssMb,
      ]),
    ),
  ].join('\n');
}

/** The report of `npm run bench -- --workers ...`. */
export function formatScaleOutReport(results: ScaleOutResults): string {
  const [first] = results.runs;
  return [
    `Scale-out: 1 API process + N worker processes (WORKER_CONCURRENCY ${results.settings.concurrency} each), ${first?.sagas ?? 0} sagas of three no-op steps started over HTTP`,
    renderTable(
      [
        'workers',
        'sagas/s',
        'x 1 worker',
        'Postgres connections',
        'API CPU ms/saga',
        'workers CPU ms/saga',
        'CPU busy %',
      ],
      results.runs.map((r) => [
        r.workers,
        r.sagasPerSecond,
        first ? round(r.sagasPerSecond / first.sagasPerSecond, 2) : undefined,
        r.postgresConnections,
        r.apiCpuMsPerSaga,
        r.workersCpuMsPerSaga,
        r.machineBusyPercent,
      ]),
    ),
    `  ${results.machine.cpus} cores shared by every process, Postgres, Redis and the load generator: CPU busy % near 100 means the cores bound it.`,
    footprintSection(results.footprint),
  ].join('\n');
}

function footprintSection(footprint: ScaleOutResults['footprint']): string {
  if (!footprint) return '';
  const tables = Object.keys(footprint.rowsPerSaga);
  return [
    '',
    `Footprint of a saga of ${footprint.stepsPerSaga} steps (${footprint.sagas} sagas)`,
    `  Redis, per saga in flight (one job waiting): ${footprint.redisBytesPerSagaInFlight} bytes`,
    `  Postgres WAL written per saga, start to end: ${footprint.walBytesPerSaga} bytes`,
    renderTable(
      ['table', 'rows per ended saga', 'bytes per ended saga (with indexes)'],
      tables.map((t) => [t, footprint.rowsPerSaga[t], footprint.bytesPerSaga[t]]),
    ),
  ].join('\n');
}

function present(runs: [string, ThroughputMeasurement | undefined][]): NamedRun[] {
  return runs.filter((run): run is NamedRun => run[1] !== undefined);
}

function indent(text: string, prefix: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((line) => prefix + line)
    .join('\n');
}

function topCommands(byCommand: Record<string, number>, count = 6): string {
  return Object.entries(byCommand)
    .slice(0, count)
    .map(([command, calls]) => `${command} ${calls.toLocaleString('en-US')}`)
    .join(', ');
}

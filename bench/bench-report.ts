import type { BenchResults } from './bench-results.js';
import type { ThroughputMeasurement } from './scenarios/throughput.js';
import { renderTable } from './support/table.js';

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
    startLatencySection(results),
    scaleSection(results),
  ]
    .filter((section) => section !== '')
    .join('\n\n');
}

function throughputSection(results: BenchResults): string {
  const { settings, ratio } = results;
  const runs = present([
    ['engine', results.engine],
    ['engine, synchronous_commit=off (diagnostic)', results.engineAsyncCommit],
    ['plain BullMQ', results.baseline],
  ]);
  if (runs.length === 0) return '';
  const lines = [
    `Throughput: ${settings.sagas.toLocaleString('en-US')} three-step no-op sagas, worker concurrency ` +
      `${settings.concurrency}, one process, ${settings.inFlight} sagas kept in flight, measured after ` +
      `${settings.warmupSagas.toLocaleString('en-US')} warm-up sagas ` +
      `(engine: started with ${settings.sagaStartedVia})`,
    renderTable(
      ['', 'sagas/s', 'steps/s', 'seconds', 'step→step p50 ms', 'p99 ms', 'max ms', 'peak RSS MB'],
      runs.map(([name, r]) => [
        name,
        r.sagasPerSecond,
        r.stepsPerSecond,
        r.seconds,
        r.transitionMs.p50,
        r.transitionMs.p99,
        r.transitionMs.max,
        r.memory.peakRssMb,
      ]),
    ),
    '  Saturated, step→step is mostly time queued behind the other sagas in flight (≈ in flight ÷ steps/s).',
  ];
  const { rounds } = results;
  if (rounds && rounds.engineSagasPerSecond.length + rounds.baselineSagasPerSecond.length > 2) {
    const list = (values: number[]) => values.map((v) => Math.round(v).toLocaleString('en-US')).join(', ');
    lines.push(
      `  Median of alternating rounds (sagas/s): engine ${list(rounds.engineSagasPerSecond)}; ` +
        `plain BullMQ ${list(rounds.baselineSagasPerSecond)}.`,
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
    ['engine', results.handoff?.engine],
    ['plain BullMQ', results.handoff?.baseline],
  ]);
  if (runs.length === 0) return '';
  return [
    `Step hand-off: ${runs[0][1].sagas} sagas one at a time (nothing queues), step k returned → step k+1 called`,
    renderTable(
      ['', 'p50 ms', 'p99 ms', 'max ms', 'sagas/s, serially'],
      runs.map(([name, r]) => [
        name,
        r.transitionMs.p50,
        r.transitionMs.p99,
        r.transitionMs.max,
        r.sagasPerSecond,
      ]),
    ),
  ].join('\n');
}

/** A run whose sagas did not all complete measured something else than it says. */
function warnings(results: BenchResults): string {
  const runs = present([
    ['engine', results.engine],
    ['engine, synchronous_commit=off', results.engineAsyncCommit],
    ['plain BullMQ', results.baseline],
    ['engine, one at a time', results.handoff?.engine],
    ['plain BullMQ, one at a time', results.handoff?.baseline],
  ]);
  return runs
    .filter(([, r]) => Object.keys(r.unexpected).length > 0)
    .map(([name, r]) => `WARNING: ${name} ended sagas as ${JSON.stringify(r.unexpected)}`)
    .join('\n');
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

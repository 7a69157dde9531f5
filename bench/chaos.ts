// `npm run chaos`: the chaos scenario of test/integration/chaos.test.ts at a larger scale. One API and
// several worker processes run `order` sagas (default 2,000, `--n`) and `trip` sagas (default 600,
// `--trips`: parallel bookings, approvals sent early, late and twice, rejections, failing bookings,
// declined cards failing the child payment, cancels while waiting and while paying, signal
// timeouts and deadlines) while workers are SIGKILLed and replaced (and others stopped with SIGTERM
// and replaced), the run's Redis data is wiped and Postgres restarts; then it prints a report and
// exits non-zero if any saga (child payments included) was lost, any transition recorded twice,
// anything ended wrong, any child's end did not reach its parent, or any side effect is not
// exactly that of the outcome.
//
// Options: --n <orders>  --trips <n>  --workers <n>  --kills <n> (SIGKILL)  --stops <n> (SIGTERM)  --wipes <n>
//          --pg-restarts <n>  --no-pg-restart  --start-over-ms <ms>  --worker-concurrency <n>  --settle-timeout-ms <ms>
//          --atomic-wipe  --quiet
// --no-pg-restart skips the Postgres restart, which disturbs everything else using that Postgres.
// Redis is wiped with SCAN + DEL from the client, so enqueues racing the wipe can leave half a job
// behind; --atomic-wipe deletes the prefix in one Lua script instead (a FLUSHALL of the prefix).
import { parseArgs } from 'node:util';
import { ChaosScenario, isClean, type ChaosReport, type SagaCounts } from '../test/support/chaos-scenario.js';
import { createTestEnvironment } from '../test/support/test-app.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '2000' },
    trips: { type: 'string', default: '600' },
    workers: { type: 'string', default: '3' },
    kills: { type: 'string', default: '6' },
    stops: { type: 'string', default: '2' },
    wipes: { type: 'string', default: '4' },
    'pg-restarts': { type: 'string', default: '1' },
    'no-pg-restart': { type: 'boolean', default: false },
    'start-over-ms': { type: 'string' },
    'worker-concurrency': { type: 'string', default: '20' },
    'settle-timeout-ms': { type: 'string', default: '120000' },
    'atomic-wipe': { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
  },
});

const int = (name: keyof typeof values, value: string | undefined): number => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) {
    console.error(`--${name} must be a whole number, got ${value}`);
    process.exit(2);
  }
  return parsed;
};

const sagas = int('n', values.n);
const trips = int('trips', values.trips);
const began = Date.now();
const log = (line: string) => {
  if (!values.quiet) console.log(`[${((Date.now() - began) / 1000).toFixed(1).padStart(6)} s] ${line}`);
};

async function main(): Promise<number> {
  const environment = await createTestEnvironment();
  const scenario = new ChaosScenario({
    environment,
    sagas,
    trips,
    workers: int('workers', values.workers),
    // About 50 orders a second by default, which two cores keep up with while everything else
    // happens; a trip (six steps, compensations, a child payment) counts as three orders.
    startOverMs: values['start-over-ms']
      ? int('start-over-ms', values['start-over-ms'])
      : Math.max(5000, (sagas + 3 * trips) * 20),
    workerConcurrency: int('worker-concurrency', values['worker-concurrency']),
    lockDurationMs: 2000,
    workerKills: int('kills', values.kills),
    workerStops: int('stops', values.stops),
    redisWipes: int('wipes', values.wipes),
    postgresRestarts: values['no-pg-restart'] ? 0 : int('pg-restarts', values['pg-restarts']),
    settleTimeoutMs: int('settle-timeout-ms', values['settle-timeout-ms']),
    wipe: values['atomic-wipe'] ? 'atomic' : 'scan',
    log,
  });
  const interrupt = () => {
    console.error('interrupted: stopping every process');
    void scenario.dispose().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);

  let report: ChaosReport;
  try {
    report = await scenario.run();
  } catch (error) {
    console.error(error);
    console.error(scenario.describeProcesses());
    await scenario.dispose();
    await environment.destroy().catch(() => undefined);
    return 1;
  }
  await scenario.dispose();
  await environment.destroy().catch(() => undefined);

  console.log(`\n${renderReport(report)}`);
  if (report.problems.length > 0)
    console.log(`\nProblems:\n${report.problems.map((p) => `  - ${p}`).join('\n')}`);
  const clean = isClean(report);
  console.log(`\n${clean ? 'OK: nothing lost, duplicated or wrong' : 'FAILED: see the problems above'}`);
  return clean ? 0 : 1;
}

function renderReport(report: ChaosReport): string {
  const counts = (label: string, c: SagaCounts): [string, string][] => [
    [`${label}: started`, String(c.started)],
    [`${label}: completed / compensated`, `${c.completed} / ${c.compensated}`],
  ];
  const actions = report.tripActions;
  const rows: [string, string | number, boolean?][] = [
    ...counts('orders', report.orders),
    ...counts('trips', report.trips),
    ...counts('child payments', report.payments),
    [
      'failed (dead letter)',
      report.failed + report.payments.failed,
      report.failed + report.payments.failed > 0,
    ],
    ['lost', report.lost, report.lost > 0],
    ['duplicated transitions', report.duplicatedTransitions, report.duplicatedTransitions > 0],
    ['wrong status', report.wrongStatus, report.wrongStatus > 0],
    ['wrong side effects', report.wrongSideEffects, report.wrongSideEffects > 0],
    ['wrong children', report.wrongChildren, report.wrongChildren > 0],
    ['wrong signals', report.wrongSignals, report.wrongSignals > 0],
    ['unclean process exits', report.uncleanExits, report.uncleanExits > 0],
    ['order attempts cut short (redelivered)', report.extraAttempts],
    ['trips approved before they waited', actions.approvedBeforeWaiting],
    ['trips signalled while waiting', actions.signalledWhileWaiting],
    ['repeated signal keys refused (200)', actions.repeatedSignalsRefused],
    ['trips cancelled while waiting', actions.cancelledWhileWaiting],
    ['trips cancelled while paying', actions.cancelledWhilePaying],
    ['trips not driven as planned', actions.missed, actions.missed > 0],
    ['workers killed (SIGKILL)', report.workersKilled],
    ['workers stopped (SIGTERM)', report.workersStopped],
    ['Redis wipes', report.redisWipes],
    ['Postgres restarts', report.postgresRestarts],
    ['duration', `${(report.durationMs / 1000).toFixed(1)} s`],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const valueWidth = Math.max(...rows.map(([, value]) => String(value).length));
  const line = `${'-'.repeat(width)}  ${'-'.repeat(valueWidth)}`;
  return [
    `${'chaos run'.padEnd(width)}  ${'value'.padStart(valueWidth)}`,
    line,
    ...rows.map(
      ([label, value, bad]) =>
        `${label.padEnd(width)}  ${String(value).padStart(valueWidth)}${bad ? '  <-- !' : ''}`,
    ),
  ].join('\n');
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

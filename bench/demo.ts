// `npm run demo`: what to run first. Starts a few hundred `order` sagas over HTTP (most succeed,
// some are retried, some are compensated), then a few `trip` sagas (parallel bookings, an approval
// the demo sends as a signal, a child `payment` saga; one rejected, one declined), shows them
// finish, and explains what happened.
import { randomBytes } from 'node:crypto';
import type { SagaView } from '../src/saga/index.js';
import { cleanUpOnInterrupt, once, wasInterrupted } from './support/cleanup.js';
import { parseFlags, positiveInteger } from './support/cli.js';
import { startInProcessApp } from './support/in-process-app.js';
import { createIsolatedEnvironment, type IsolatedEnvironment } from './support/isolated-environment.js';
import { cardKindOf, CARDS, EXPECTED_STATUS, orderInput, type CardKind } from './support/order-mix.js';
import { createProgress } from './support/progress.js';
import { mapWithConcurrency, SagaHttpClient, TERMINAL_STATUSES } from './support/saga-http.js';
import { renderSagaSteps, summarizeSagas } from './support/saga-summary.js';
import { renderTable } from './support/table.js';
import { reportTrips, runTrips } from './support/trip-demo.js';

const USAGE = `usage: npm run demo -- [--n 300] [--trips 12] [--url http://host:port] [--keep]
  --n     order sagas to run
  --trips trip sagas to run after the orders
  --url   drive an app that is already running (with API_KEY from the environment, if it needs one)
  --keep  keep the demo database and Redis keys afterwards`;
const DEMO_DATABASE = 'sagas_demo';
const DEMO_QUEUE_PREFIX = 'saga-demo';
/** Requests in flight at once: a handful of clients, not a load test. */
const HTTP_CONCURRENCY = 20;
const FINISH_TIMEOUT_MS = 50_000;
const TRIP_FINISH_TIMEOUT_MS = 30_000;

const flags = parseFlags(
  {
    n: { type: 'string' },
    trips: { type: 'string' },
    url: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
  USAGE,
);
const sagaCount = positiveInteger(flags.n, 'n', 300);
const tripCount = positiveInteger(flags.trips, 'trips', 12);

async function main(): Promise<number> {
  let environment: IsolatedEnvironment | undefined;
  let closeApp: (() => Promise<void>) | undefined;
  let url = flags.url?.replace(/\/$/, '');
  if (!url) {
    console.log(
      `Creating database ${DEMO_DATABASE} and starting the app in this process (BullMQ prefix "${DEMO_QUEUE_PREFIX}")…`,
    );
    environment = await createIsolatedEnvironment(
      { databaseName: DEMO_DATABASE, queuePrefix: DEMO_QUEUE_PREFIX },
      { keepOnInterrupt: flags.keep },
    );
    const started = await startInProcessApp(environment, { listen: true });
    url = started.url!;
    // Registered after the environment, so on Ctrl-C the app stops before its database goes.
    const close = once(started.close);
    const unregister = cleanUpOnInterrupt(close);
    closeApp = () => {
      unregister();
      return close();
    };
  }
  let exampleId: string | undefined;
  try {
    // An app started on its own may require its API_KEY; the one started here does not.
    const http = new SagaHttpClient(url, environment ? undefined : process.env.API_KEY);
    const runId = randomBytes(3).toString('hex');
    const outcome = await runDemo(http, runId);
    exampleId = outcome.exampleId;
    const trips = await runTrips(http, runId, tripCount, createProgress(true), TRIP_FINISH_TIMEOUT_MS);
    return Math.max(outcome.code, reportTrips(trips));
  } finally {
    await closeApp?.();
    if (environment && !flags.keep) await environment.destroy();
    console.log(whereTheSagasAre(url, environment, exampleId));
  }
}

/**
 * The last thing the demo says: where its sagas can be inspected now. The app started here is
 * gone by then, and so is its database unless --keep.
 */
function whereTheSagasAre(
  url: string,
  environment: IsolatedEnvironment | undefined,
  exampleId = '{id}',
): string {
  const routes = "GET /sagas/{id} shows a saga's steps, GET /sagas/{id}/events its history";
  if (!environment) {
    const auth = process.env.API_KEY ? ' -H "Authorization: Bearer $API_KEY"' : '';
    return `\nThese sagas stay in the app at ${url}: ${routes}, e.g.\n  curl -s${auth} ${url}/sagas/${exampleId}/events`;
  }
  if (!flags.keep) {
    return (
      `\nThese sagas were deleted with database ${environment.databaseName} and Redis keys "${DEMO_QUEUE_PREFIX}:*". ` +
      `To keep them and inspect them (${routes}), run:\n  npm run demo -- --keep`
    );
  }
  return (
    `\nKept these sagas in database ${environment.databaseUrl} and Redis keys "${DEMO_QUEUE_PREFIX}:*". ` +
    `To inspect them (${routes}), serve them with the first command and ask with the second, from another terminal:\n` +
    `  DATABASE_URL=${environment.databaseUrl} QUEUE_PREFIX=${DEMO_QUEUE_PREFIX} PORT=3000 npm start\n` +
    `  curl -s localhost:3000/sagas/${exampleId}/events`
  );
}

interface DemoOutcome {
  /** The exit code: 0 when every saga ended as its card said it would. */
  code: number;
  /** A saga worth a look afterwards (the compensated example, when there is one). */
  exampleId?: string;
}

async function runDemo(http: SagaHttpClient, runId: string): Promise<DemoOutcome> {
  const kinds = Array.from({ length: sagaCount }, (_, i) => cardKindOf(i));
  const count = (kind: CardKind) => kinds.filter((k) => k === kind).length;
  console.log(
    `Starting ${sagaCount} order sagas with POST ${http.baseUrl}/sagas/order:\n` +
      `  ${count('succeeds')} with card ${CARDS.succeeds} (succeeds)\n` +
      `  ${count('flaky')} with card ${CARDS.flaky} (payment provider unavailable twice, then succeeds after retries)\n` +
      `  ${count('declined')} with card ${CARDS.declined} (declined: the reserved stock is released, the saga is compensated)\n`,
  );

  // Sagas that were already finished in the app (with --url), so that only ours are counted.
  const before = await http.countsByStatus('order');
  const finishedNow = async () => {
    const counts = await http.countsByStatus('order');
    return TERMINAL_STATUSES.reduce((sum, s) => sum + (counts.get(s) ?? 0) - (before.get(s) ?? 0), 0);
  };

  const progress = createProgress(true);
  progress.start('order sagas finished', sagaCount);
  let posted = 0;
  const poll = setInterval(() => {
    finishedNow().then(
      (finished) => progress.update(Math.min(finished, sagaCount), `(${posted} started)`),
      () => undefined,
    );
  }, 200);
  const wallStart = Date.now();
  let ids: string[];
  try {
    ids = await mapWithConcurrency(kinds, HTTP_CONCURRENCY, async (_, index) => {
      const { id } = await http.start('order', orderInput(runId, index));
      posted++;
      return id;
    });
    // Then wait until every one of them is terminal, reading each saga through the API.
    const deadline = Date.now() + FINISH_TIMEOUT_MS;
    while ((await finishedNow()) < sagaCount && Date.now() < deadline) await sleep(100);
  } finally {
    clearInterval(poll);
  }
  const views = await mapWithConcurrency(ids, HTTP_CONCURRENCY, (id) => http.get(id));
  progress.update(views.filter((v) => isTerminal(v)).length, `(${posted} started)`);
  progress.stop();
  const wallSeconds = (Date.now() - wallStart) / 1000;

  return report(views, kinds, wallSeconds);
}

function report(views: SagaView[], kinds: CardKind[], wallSeconds: number): DemoOutcome {
  const summary = summarizeSagas(views);
  const d = summary.durationMs;
  console.log(
    '\n' +
      renderTable(
        [`${views.length} order sagas`, ''],
        [
          ['completed', summary.byStatus.completed],
          ['compensated', summary.byStatus.compensated],
          ['failed', summary.byStatus.failed],
          ['still running', views.length - views.filter(isTerminal).length],
          ['retries (attempts beyond the first)', summary.retries],
          ['saga duration p50 (ms)', d.p50],
          ['saga duration p99 (ms)', d.p99],
          ['saga duration max (ms)', d.max],
          ['sagas/s (first created → last finished)', summary.sagasPerSecond],
          ['wall time, HTTP included (s)', wallSeconds],
        ],
      ),
  );

  const examples: [string, SagaView | undefined][] = [
    ['A saga that succeeded', views.find((v, i) => kinds[i] === 'succeeds' && v.status === 'completed')],
    ['One that was retried', views.find((v, i) => kinds[i] === 'flaky' && v.status === 'completed')],
    ['One that was compensated', views.find((v, i) => kinds[i] === 'declined' && v.status === 'compensated')],
  ];
  for (const [title, view] of examples) {
    if (!view) continue;
    console.log(
      `\n${title}: ${view.id} (card ${(view.input as { card: string }).card}, ${view.status})\n${renderSagaSteps(view)}`,
    );
  }

  const exampleId = examples.findLast(([, view]) => view)?.[1]?.id ?? views[0]?.id;
  const wrong = views.filter((v, i) => v.status !== EXPECTED_STATUS[kinds[i]]);
  if (wrong.length > 0) {
    console.log(`\n${wrong.length} saga(s) did not end as expected, e.g.:`);
    for (const view of wrong.slice(0, 3))
      console.log(`  ${view.id}: ${view.status}\n${renderSagaSteps(view)}`);
    return { code: 1, exampleId: wrong[0].id };
  }
  console.log('\nEvery order ended as its card said it would.');
  return { code: 0, exampleId };
}

function isTerminal(view: SagaView): boolean {
  return (TERMINAL_STATUSES as readonly string[]).includes(view.status);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    if (wasInterrupted()) return; // the cleanup exits when it is done
    console.error(error.stack ?? error);
    process.exit(1);
  },
);

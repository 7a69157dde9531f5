// `npm run demo`: what to run first. Starts a few hundred `order` sagas over HTTP (most succeed,
// some are retried, some are compensated), shows them finish, and explains what happened.
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

const USAGE = `usage: npm run demo -- [--n 300] [--url http://host:port] [--keep]
  --url   drive an app that is already running (with API_KEY from the environment, if it needs one)
  --keep  keep the demo database and Redis keys afterwards`;
const DEMO_DATABASE = 'sagas_demo';
const DEMO_QUEUE_PREFIX = 'saga-demo';
/** Requests in flight at once: a handful of clients, not a load test. */
const HTTP_CONCURRENCY = 20;
const FINISH_TIMEOUT_MS = 50_000;

const flags = parseFlags(
  { n: { type: 'string' }, url: { type: 'string' }, keep: { type: 'boolean', default: false } },
  USAGE,
);
const sagaCount = positiveInteger(flags.n, 'n', 300);

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
  try {
    // An app started on its own may require its API_KEY; the one started here does not.
    return await runDemo(new SagaHttpClient(url, environment ? undefined : process.env.API_KEY));
  } finally {
    await closeApp?.();
    if (environment && !flags.keep) await environment.destroy();
    if (environment && flags.keep) {
      console.log(
        `\nKept database ${environment.databaseUrl} and Redis keys "${DEMO_QUEUE_PREFIX}:*". To look around:\n` +
          `  DATABASE_URL=${environment.databaseUrl} QUEUE_PREFIX=${DEMO_QUEUE_PREFIX} npm start`,
      );
    }
  }
}

async function runDemo(http: SagaHttpClient): Promise<number> {
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

  const runId = randomBytes(3).toString('hex');
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

function report(views: SagaView[], kinds: CardKind[], wallSeconds: number): number {
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

  const wrong = views.filter((v, i) => v.status !== EXPECTED_STATUS[kinds[i]]);
  if (wrong.length > 0) {
    console.log(`\n${wrong.length} saga(s) did not end as expected, e.g.:`);
    for (const view of wrong.slice(0, 3))
      console.log(`  ${view.id}: ${view.status}\n${renderSagaSteps(view)}`);
    return 1;
  }
  console.log(
    '\nEvery saga ended as its card said it would. GET /sagas/{id} and GET /sagas/{id}/events show the rest.',
  );
  return 0;
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

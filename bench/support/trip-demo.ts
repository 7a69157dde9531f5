import type { SagaView } from '../../src/saga/index.js';
import { distribution } from './percentiles.js';
import type { Progress } from './progress.js';
import { mapWithConcurrency, TERMINAL_STATUSES, type SagaHttpClient } from './saga-http.js';
import { renderSagaSteps } from './saga-summary.js';
import { renderTable } from './table.js';
import { TRIP_EXPECTED_STATUS, TRIP_KINDS, tripInput, tripKindOf, type TripKind } from './trip-mix.js';

const HTTP_CONCURRENCY = 10;
const POLL_MS = 200;
const APPROVER = 'demo-ops';
/** A booking step with these made its booking (a compensated one was then cancelled). */
const BOOKED: string[] = ['completed', 'compensated'];

/** The view fields of wait and child steps, as DESIGN.md gives them. */
type TripView = SagaView & { children?: { id: string; name: string; status: string; step: string }[] };

export interface TripRun {
  kinds: TripKind[];
  views: TripView[];
  /** Each trip's child payment saga, by trip id, once it has one. */
  payments: Map<string, SagaView>;
  approvals: { beforeWait: number; onceWaiting: number; rejected: number };
  /** Signals the app did not accept, with its answer. */
  refused: string[];
}

/**
 * Starts `count` trips over HTTP and plays their approver: each trip's approval (or rejection) is
 * posted as signal `approval`, right after the start for some, once the trip waits for the others;
 * then waits until every trip has ended.
 */
export async function runTrips(
  http: SagaHttpClient,
  runId: string,
  count: number,
  progress: Progress,
  timeoutMs: number,
): Promise<TripRun> {
  const kinds = Array.from({ length: count }, (_, i) => tripKindOf(i));
  const described = (Object.keys(TRIP_KINDS) as TripKind[]).map(
    (kind) => `  ${kinds.filter((k) => k === kind).length} ${TRIP_KINDS[kind]}`,
  );
  console.log(
    `\nStarting ${count} trip sagas with POST ${http.baseUrl}/sagas/trip: flight, hotel and car are ` +
      `booked in parallel, then each trip waits for signal "approval" (POST /sagas/{id}/signals/approval, ` +
      `sent by this demo) and pays with a child "payment" saga:\n${described.join('\n')}\n`,
  );

  const approvals = { beforeWait: 0, onceWaiting: 0, rejected: 0 };
  const refused: string[] = [];
  const signalled = new Set<string>();
  const sendApproval = async (id: string, kind: TripKind, when: 'beforeWait' | 'onceWaiting') => {
    signalled.add(id);
    const approved = kind !== 'rejected';
    try {
      await http.signal(id, 'approval', { approved, by: APPROVER });
      approvals[when]++;
      if (!approved) approvals.rejected++;
    } catch (error) {
      refused.push((error as Error).message);
    }
  };

  progress.start('trip sagas finished', count);
  const ids = await mapWithConcurrency(kinds, HTTP_CONCURRENCY, async (kind, index) => {
    const { id } = await http.start('trip', tripInput(runId, index));
    if (kind === 'approvedEarly') await sendApproval(id, kind, 'beforeWait');
    return id;
  });

  let views: TripView[];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    views = await mapWithConcurrency(ids, HTTP_CONCURRENCY, (id) => http.get(id));
    const waiting = views.filter(
      (view) =>
        !signalled.has(view.id) &&
        view.steps?.some((s) => s.name === 'awaitApproval' && s.status === 'waiting'),
    );
    await mapWithConcurrency(waiting, HTTP_CONCURRENCY, (view) =>
      sendApproval(view.id, kinds[ids.indexOf(view.id)], 'onceWaiting'),
    );
    const finished = views.filter(isTerminal).length;
    const sent = approvals.beforeWait + approvals.onceWaiting;
    progress.update(finished, `(${sent} approval signals sent)`);
    if (finished === count || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  progress.stop();

  const payments = new Map<string, SagaView>();
  await mapWithConcurrency(views, HTTP_CONCURRENCY, async (view) => {
    const child = view.children?.find((c) => c.step === 'pay');
    if (child) payments.set(view.id, await http.get(child.id));
  });
  return { kinds, views, payments, approvals, refused };
}

/** Prints what the trips did; returns the exit code: 0 when every trip ended as its kind said it would. */
export function reportTrips(run: TripRun): number {
  const { kinds, views, payments, approvals } = run;
  const count = (status: string) => views.filter((v) => v.status === status).length;
  const paymentCount = (status: string) => [...payments.values()].filter((p) => p.status === status).length;
  const bookings = views.flatMap((v) => (v.steps ?? []).filter((s) => s.group === 'bookings'));
  const durations = distribution(
    views.filter((v) => v.completedAt).map((v) => Date.parse(v.completedAt!) - Date.parse(v.createdAt)),
  );
  console.log(
    '\n' +
      renderTable(
        [`${views.length} trip sagas`, ''],
        [
          ['completed', count('completed')],
          ['compensated', count('compensated')],
          ['failed', count('failed')],
          ['still running', views.length - views.filter(isTerminal).length],
          ['bookings made, 3 a trip in parallel', bookings.filter((s) => BOOKED.includes(s.status)).length],
          ['bookings undone by compensation', bookings.filter((s) => s.status === 'compensated').length],
          ['approvals sent before the trip waited', approvals.beforeWait],
          ['approvals sent once it waited', approvals.onceWaiting],
          ['of which rejections', approvals.rejected],
          ['child payment sagas completed', paymentCount('completed')],
          ['child payment sagas compensated', paymentCount('compensated')],
          ['trip duration p50 (ms)', durations.p50],
          ['trip duration max (ms)', durations.max],
        ],
      ),
  );
  if (run.refused.length > 0) {
    console.log(`\n${run.refused.length} approval signal(s) refused, e.g.:\n  ${run.refused[0]}`);
  }

  const find = (kind: TripKind, status: string) =>
    views.find((v, i) => kinds[i] === kind && v.status === status);
  const examples: [string, TripView | undefined][] = [
    ['A trip that completed', find('approved', 'completed')],
    ['A trip approved before it waited', find('approvedEarly', 'completed')],
    ['A rejected trip, compensated', find('rejected', 'compensated')],
    ['A trip whose card was declined, compensated', find('declined', 'compensated')],
  ];
  for (const [title, view] of examples) {
    if (!view) continue;
    const input = view.input as { flight: { from: string; to: string }; car?: { class: string } };
    console.log(
      `\n${title}: ${view.id} (${input.flight.from} → ${input.flight.to}, ${input.car ? `${input.car.class} car` : 'no car'}, ${view.status})\n${renderSagaSteps(view)}`,
    );
    const payment = payments.get(view.id);
    if (payment)
      console.log(`  its child payment saga ${payment.id}: ${payment.status}\n${renderSagaSteps(payment)}`);
  }

  const wrong = views.filter((v, i) => v.status !== TRIP_EXPECTED_STATUS[kinds[i]]);
  if (wrong.length > 0) {
    console.log(`\n${wrong.length} trip(s) did not end as expected, e.g.:`);
    for (const view of wrong.slice(0, 3))
      console.log(`  ${view.id}: ${view.status}\n${renderSagaSteps(view)}`);
    return 1;
  }
  console.log('\nEvery trip ended as its approval and card said it would.');
  return 0;
}

function isTerminal(view: SagaView): boolean {
  return (TERMINAL_STATUSES as readonly string[]).includes(view.status);
}

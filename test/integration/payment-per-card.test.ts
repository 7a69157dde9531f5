import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { SagaView } from '../../src/saga/index.js';
import { wipeRedisPrefix } from '../../src/saga/testing/redis-keys.js';
import type { AppProcess } from '../support/app-process.js';
import { assertOneAtATime, runOf } from '../support/key-runs.js';
import { orderInput, waitForSaga } from '../support/sagas.js';
import { processTests } from '../support/process-tests.js';
import { waitFor } from '../support/wait.js';

const CARD = '4111111111111111';
/** A card of its own for each of the other payments. */
const otherCard = (i: number) => `5500000000000${String(i).padStart(3, '0')}`;
const payment = (card: string) => ({
  paymentId: `p-${Math.random().toString(36).slice(2)}`,
  amount: 10,
  card,
});

/**
 * `payment` runs one saga per card at a time, and priorities order a backlog: real API and worker
 * processes on their own database and BullMQ prefix, a worker SIGKILLed and Redis wiped mid-run.
 */
describe('payment: one per card; priorities', () => {
  const suite = processTests({ LOCK_DURATION_MS: '2000' });
  const { start, scenario } = suite;

  async function post(api: AppProcess, path: string, input: object): Promise<string> {
    const started = await api.http.post(path, input);
    assert.equal(started.status, 202, started.text);
    return started.body.id as string;
  }

  /**
   * 20 payments of one card, each started once the one before was recorded (so that their start
   * order is known), and at the same time 20 payments of other cards, all at once.
   */
  async function startPayments(api: AppProcess): Promise<{ card: string[]; others: Promise<string[]> }> {
    const others = Promise.all(
      Array.from({ length: 20 }, (_, i) => post(api, '/sagas/payment', payment(otherCard(i)))),
    );
    const card: string[] = [];
    for (let i = 0; i < 20; i++) card.push(await post(api, '/sagas/payment', payment(CARD)));
    return { card, others };
  }

  /** Every payment completed; the card's ran one at a time in start order; the others never queued. */
  async function assertPerCard(api: AppProcess, card: string[], others: string[]): Promise<void> {
    const ended = await Promise.all(
      [...card, ...others].map((id) => waitForSaga(api.http, id, undefined, 60_000)),
    );
    assert.deepEqual(
      ended.filter((s) => s.status !== 'completed').map((s) => [s.id, s.status]),
      [],
    );
    const runs = await Promise.all(card.map((id) => runOf(api.http, id)));
    assert.deepEqual(assertOneAtATime(runs), card, 'in start order');
    const lastOfCard = Math.max(...runs.map((r) => r.end));
    const otherRuns = await Promise.all(others.map((id) => runOf(api.http, id)));
    assert.ok(
      otherRuns.every((r) => r.end < lastOfCard),
      'the other cards ended before the last payment of the one card',
    );
    const [{ queued }] = await suite.t.sql`
      SELECT count(*)::int AS queued FROM saga_units WHERE key = 'key' AND saga_id = ANY(${others}::uuid[])`;
    assert.equal(queued, 0, 'no payment of another card queued');
    assert.deepEqual([...(await suite.t.sql`SELECT * FROM saga_key_holders`)], []);
  }

  scenario(
    '20 payments of one card run one at a time, in start order, while 20 of other cards run at once',
    async () => {
      const api = await start('all');
      const { card, others } = await startPayments(api);
      await assertPerCard(api, card, await others);
    },
  );

  scenario(
    'the queue of a card holds across a SIGKILL of the worker running its holder and a Redis wipe',
    async () => {
      const api = await start('api');
      const worker = await start('worker');
      const { card, others } = await startPayments(api);
      // The one worker runs the holder: kill it after a few payments of the card, with one running.
      await waitFor(
        async () => {
          const sagas = await Promise.all(
            card.map(async (id) => (await api.http.get<SagaView>(`/sagas/${id}`)).body),
          );
          const done = sagas.filter((s) => s.status === 'completed').length;
          return done >= 3 && sagas.some((s) => s.status === 'running') ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 5, what: 'a payment of the card to run after three completed' },
      );
      await worker.stop('SIGKILL');
      await wipeRedisPrefix(suite.t.redis, suite.t.queuePrefix);
      await start('worker');
      await assertPerCard(api, card, await others);
    },
  );

  scenario("a trip's child payment takes the trip's priority", async () => {
    const api = await start('all');
    const trip = await post(api, '/sagas/trip?priority=2', {
      tripId: `trip-${Math.random().toString(36).slice(2)}`,
      travelerId: 'traveler-1',
      flight: { from: 'LHR', to: 'LIS' },
      hotel: { city: 'Lisbon', nights: 3 },
      amount: 980,
      card: CARD,
    });
    // Kept until the trip waits for it.
    const approval = await api.http.post(`/sagas/${trip}/signals/approval`, { approved: true, by: 'ops' });
    assert.equal(approval.status, 202, approval.text);
    const done = await waitForSaga(api.http, trip, undefined, 30_000);
    assert.equal(done.status, 'completed');
    const rows = await suite.t.sql`
      SELECT name, priority FROM sagas WHERE id = ${trip} OR parent_id = ${trip} ORDER BY id`;
    assert.deepEqual(
      rows.map((r) => [r.name, r.priority]),
      [
        ['trip', 2],
        ['payment', 2],
      ],
    );
  });

  scenario('with a backlog, priority-1 sagas finish before priority-10 sagas started earlier', async () => {
    const api = await start('api');
    const low = await Promise.all(
      Array.from({ length: 20 }, () => post(api, '/sagas/order?priority=10', orderInput())),
    );
    const high = await Promise.all(
      Array.from({ length: 5 }, () => post(api, '/sagas/order?priority=1', orderInput())),
    );
    // One worker taking one job at a time works the backlog off.
    await start('worker', { WORKER_CONCURRENCY: '1' });
    const ended = await Promise.all(
      [...low, ...high].map((id) => waitForSaga(api.http, id, undefined, 60_000)),
    );
    assert.ok(ended.every((s) => s.status === 'completed'));
    const finished = (s: SagaView) => Date.parse(s.completedAt!);
    const lastHigh = Math.max(...ended.slice(20).map(finished));
    const lowBefore = ended.slice(0, 20).filter((s) => finished(s) < lastHigh);
    // A unit the worker's commit enqueues reaches Redis just after the worker asks for its next job:
    // a low one may slip in then, and rarely more than one low saga finishes before the last high one.
    assert.ok(
      lowBefore.length <= 2,
      `${lowBefore.length} priority-10 sagas finished before the last priority-1 saga`,
    );
  });
});

import assert from 'node:assert/strict';
import type { SagaView } from '../../src/saga/index.js';
import type { HttpClient } from './http-client.js';
import { orderInput, tripInput, waitForSaga } from './sagas.js';
import { waitFor } from './wait.js';

export const DECLINED_CARD = '4000000000000002';

export async function startSaga(http: HttpClient, name: string, input: unknown): Promise<string> {
  const started = await http.post(`/sagas/${name}`, input);
  assert.equal(started.status, 202, started.text);
  return started.body.id as string;
}

/** Sends the trip its approval once its `awaitApproval` step waits for it. */
export async function approveWhenWaiting(http: HttpClient, id: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    async () => {
      const { body } = await http.get<SagaView>(`/sagas/${id}`);
      return body.steps?.find((s) => s.name === 'awaitApproval')?.status === 'waiting' ? true : undefined;
    },
    { timeoutMs, what: `trip ${id} to wait for its approval` },
  );
  const sent = await http.post(`/sagas/${id}/signals/approval`, { approved: true, by: 'manager' });
  assert.equal(sent.status, 202, sent.text);
}

/**
 * What every deployment topology must carry, over HTTP to the end: a linear `order` that completes
 * and one whose payment is declined, compensated in reverse; a `trip` whose parallel bookings,
 * approval signal and child `payment` complete; and three `payment`s of one card, one at a time in
 * start order (its concurrency key), each through `authorize`'s own limited queue.
 */
export async function runSagasToTheirEnds(http: HttpClient, timeoutMs = 30_000): Promise<void> {
  const [completed, declined, trip] = await Promise.all([
    startSaga(http, 'order', orderInput()),
    startSaga(http, 'order', orderInput({ card: DECLINED_CARD })),
    startSaga(http, 'trip', tripInput()),
  ]);
  const card = `4111${String(Math.floor(Math.random() * 1e12)).padStart(12, '0')}`;
  const payments: string[] = [];
  for (let i = 0; i < 3; i++)
    payments.push(await startSaga(http, 'payment', { paymentId: `pay-${card}-${i}`, amount: 10, card }));
  await approveWhenWaiting(http, trip, timeoutMs);

  let previousEnd = 0;
  for (const id of payments) {
    const payment = await waitForSaga(http, id, undefined, timeoutMs);
    assert.equal(payment.status, 'completed', JSON.stringify(payment));
    const firstStart = Date.parse(payment.steps![0].startedAt!);
    assert.ok(firstStart >= previousEnd, `payment ${id} started before the one before it ended`);
    previousEnd = Date.parse(payment.completedAt!);
  }

  const order = await waitForSaga(http, completed, undefined, timeoutMs);
  assert.equal(order.status, 'completed', JSON.stringify(order));
  assert.deepEqual(
    order.steps!.map((s) => [s.name, s.status]),
    [
      ['reserveInventory', 'completed'],
      ['chargePayment', 'completed'],
      ['sendConfirmation', 'completed'],
    ],
  );

  const refused = await waitForSaga(http, declined, undefined, timeoutMs);
  assert.equal(refused.status, 'compensated', JSON.stringify(refused));
  assert.deepEqual(
    refused.steps!.map((s) => [s.name, s.status]),
    [
      ['reserveInventory', 'compensated'],
      ['chargePayment', 'compensated'],
      ['sendConfirmation', 'skipped'],
    ],
  );

  const booked = await waitForSaga(http, trip, undefined, timeoutMs);
  assert.equal(booked.status, 'completed', JSON.stringify(booked));
  assert.deepEqual(
    booked.steps!.map((s) => [s.name, s.group ?? null, s.status]),
    [
      ['bookFlight', 'bookings', 'completed'],
      ['bookHotel', 'bookings', 'completed'],
      ['rentCar', 'bookings', 'completed'],
      ['awaitApproval', null, 'completed'],
      ['pay', null, 'completed'],
      ['issueTickets', null, 'completed'],
    ],
  );
  const [child] = booked.children ?? [];
  assert.equal(child?.name, 'payment');
  assert.equal((await waitForSaga(http, child.id, undefined, timeoutMs)).status, 'completed');
}

import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TripModule } from '../../sagas/trip/trip.module.js';
import type { TripInput } from '../../sagas/trip/trip.input.js';
import { DatabaseModule } from '../../src/database/database.module.js';
import { SagaTestKit, type SagaView } from '../../src/saga/testing/index.js';
import { tripInput } from '../support/sagas.js';

const DAY = 24 * 60 * 60_000;
const APPROVED = { approved: true, by: 'ops' };

/**
 * The trip saga with the test kit, as its author would test it: approved with `signal`, its day of
 * waiting for an approval skipped, and crashed at every unit of work, its child payment's included.
 * (trip-saga.test.ts tests its HTTP contract, through the running app.)
 */
describe('trip saga, with the test kit', () => {
  let kit: SagaTestKit;

  before(async () => {
    kit = await SagaTestKit.create({
      // TripModule brings PaymentModule: a trip pays with a child `payment` saga.
      imports: ({ databaseUrl }) => [DatabaseModule.forRoot(databaseUrl), TripModule],
      migrationsFolder: fileURLToPath(new URL('../../../drizzle', import.meta.url)),
    });
  });
  after(() => kit?.close());

  const stepOf = (saga: SagaView, name: string) => saga.steps!.find((s) => s.name === name)!;

  /** What the trip's services recorded: each booking, the payment's ledgers and the tickets. */
  async function recordsOf(saga: SagaView) {
    const { tripId } = saga.input as TripInput;
    const rows = async (query: Promise<object[]>) => (await query).map((row) => ({ ...row }));
    return {
      flights: await rows(kit.sql`
        SELECT key, cancelled_at IS NOT NULL AS undone FROM flight_bookings WHERE trip_id = ${tripId}`),
      hotels: await rows(kit.sql`
        SELECT key, cancelled_at IS NOT NULL AS undone FROM hotel_bookings WHERE trip_id = ${tripId}`),
      cars: await rows(kit.sql`
        SELECT key, returned_at IS NOT NULL AS undone FROM car_rentals
        WHERE trip_id = ${tripId} AND rented_at IS NOT NULL`),
      authorizations: await rows(kit.sql`
        SELECT key, status FROM card_authorizations WHERE payment_id = ${tripId}`),
      captures: await rows(kit.sql`
        SELECT key, refunded_at IS NOT NULL AS refunded FROM card_captures WHERE payment_id = ${tripId}`),
      tickets: await rows(kit.sql`SELECT key FROM trip_tickets WHERE trip_id = ${tripId}`),
    };
  }

  /** Exactly what an approved trip leaves: each booking once, one payment captured once, the tickets once. */
  async function assertBookedOnce(saga: SagaView) {
    const payment = stepOf(saga, 'pay').childId!;
    assert.deepEqual(await recordsOf(saga), {
      flights: [{ key: `${saga.id}:bookFlight`, undone: false }],
      hotels: [{ key: `${saga.id}:bookHotel`, undone: false }],
      cars: [{ key: `${saga.id}:rentCar`, undone: false }],
      authorizations: [{ key: `${payment}:authorize`, status: 'authorized' }],
      captures: [{ key: `${payment}:capture`, refunded: false }],
      tickets: [{ key: `${saga.id}:issueTickets` }],
    });
  }

  it('books, waits for the approval sent with signal(), pays with its child saga and issues the tickets once', async () => {
    const id = await kit.start('trip', tripInput());
    const waiting = await kit.runUntilWaiting(id, 'approval');
    for (const name of ['bookFlight', 'bookHotel', 'rentCar'])
      assert.equal(stepOf(waiting, name).status, 'completed');
    assert.ok(
      Date.parse(stepOf(waiting, 'awaitApproval').dueAt!) - Date.now() > DAY - 60_000,
      'a day to answer',
    );
    await kit.signal(id, 'approval', APPROVED);
    const saga = await kit.runToEnd(id);
    assert.equal(saga.status, 'completed');
    assert.deepEqual(stepOf(saga, 'awaitApproval').output, APPROVED);
    assert.deepEqual(saga.children, [
      { id: stepOf(saga, 'pay').childId, name: 'payment', status: 'completed', step: 'pay' },
    ]);
    await assertBookedOnce(saga);
  });

  it('without an approval, gives up after its day of waiting (skipped), and cancels each booking once', async () => {
    const startedAt = Date.now();
    const saga = await kit.runToEnd(await kit.start('trip', tripInput()));
    assert.deepEqual([saga.status, saga.error?.name], ['compensated', 'SignalTimeout']);
    assert.ok(Date.now() - startedAt < 10_000, `took ${Date.now() - startedAt} ms`);
    const records = await recordsOf(saga);
    assert.deepEqual(
      [records.flights, records.hotels, records.cars],
      ['bookFlight', 'bookHotel', 'rentCar'].map((step) => [{ key: `${saga.id}:${step}`, undone: true }]),
    );
    assert.deepEqual([records.authorizations, records.tickets], [[], []]);
  });

  it("survives a crash at every boundary of every unit of work, its payment saga's too, approved in each run", async () => {
    const report = await kit.exploreCrashes('trip', tripInput, {
      status: 'completed',
      signals: [{ name: 'approval', payload: APPROVED }],
      check: assertBookedOnce,
    });
    assert.deepEqual(report.units.map((u) => (u.via ? `${u.saga}.${u.step}` : u.step)).sort(), [
      'awaitApproval',
      'bookFlight',
      'bookHotel',
      'issueTickets',
      'pay',
      'payment.authorize',
      'payment.capture',
      'rentCar',
    ]);
    assert.equal(report.runs.length, 1 + 8 * 3);
  });
});

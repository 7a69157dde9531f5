import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DECLINED_CARD } from '../../sagas/payment/card-acquirer.service.js';
import { SLOW_ANSWER_MS } from '../../sagas/trip/flight.service.js';
import type { SagaView, StepView } from '../../src/saga/index.js';
import { eventsOf, tripInput } from '../support/sagas.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const CARD = '4242424242424242';
const TERMINAL = ['completed', 'compensated', 'failed'];
const BOOKINGS = ['bookFlight', 'bookHotel', 'rentCar'];
/** The advisory lock that holds the inserts of 'held-…' trips (see `before`) while a test keeps it. */
const HOLD_LOCK = 4_242_001;

/** The saga view, with the trip's input as it was sent. */
type TripView = Omit<SagaView, 'input'> & { input: any };
type TripStepView = StepView;

const trip = tripInput;

/**
 * The trip saga through the running app, over HTTP: its contract is an HTTP one (signals,
 * `?deadlineMs=`, the view's children), and the payment saga runs beside it as its child.
 */
describe('trip saga', () => {
  let t: TestApp;

  before(async () => {
    // SAGA_MODULES: order, payment and trip, as `npm start` serves them.
    t = await startTestApp();
    // A ticket office and an acquirer that wait, for the trips named 'held-tickets-…' and the
    // payments named 'held-payment-…', while a test holds HOLD_LOCK: a step held running on purpose.
    await t.sql.unsafe(`
      CREATE FUNCTION public.hold_for_test() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        IF to_jsonb(NEW)->>TG_ARGV[0] LIKE TG_ARGV[1] THEN PERFORM pg_advisory_xact_lock_shared(${HOLD_LOCK}); END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER hold_tickets BEFORE INSERT ON public.trip_tickets
        FOR EACH ROW EXECUTE FUNCTION public.hold_for_test('trip_id', 'held-tickets-%');
      CREATE TRIGGER hold_authorizations BEFORE INSERT ON public.card_authorizations
        FOR EACH ROW EXECUTE FUNCTION public.hold_for_test('payment_id', 'held-payment-%');`);
  });
  after(() => t?.close());

  async function start(input: unknown, query = ''): Promise<string> {
    const started = await t.http.post(`/sagas/trip${query}`, input);
    assert.equal(started.status, 202, started.text);
    assert.deepEqual(started.body, { id: started.body.id, name: 'trip', status: started.body.status });
    return started.body.id as string;
  }

  async function view(id: string): Promise<TripView> {
    const response = await t.http.get<TripView>(`/sagas/${id}`);
    assert.equal(response.status, 200, response.text);
    return response.body;
  }

  function stepOf(saga: TripView, name: string): TripStepView {
    const step = saga.steps!.find((s) => s.name === name);
    assert.ok(step, `saga ${saga.id} has no step ${name}`);
    return step;
  }

  /** Polls the saga until `ready`; fails at once if it ends otherwise, saying how its steps ended. */
  async function until(id: string, what: string, ready: (saga: TripView) => boolean): Promise<TripView> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const saga = await view(id);
      if (ready(saga)) return saga;
      const steps = saga.steps!.map(
        (s) => `${s.name} ${s.status}${s.error ? ` (${s.error.name}: ${s.error.message})` : ''}`,
      );
      if (TERMINAL.includes(saga.status))
        assert.fail(`saga ${id} ended ${saga.status} before ${what}: ${steps.join(', ')}`);
      if (Date.now() > deadline) assert.fail(`saga ${id}: no ${what} after 20 s: ${steps.join(', ')}`);
      await sleep(50);
    }
  }

  const ended = (id: string) => until(id, 'terminal', (s) => TERMINAL.includes(s.status));
  const waitingForApproval = (id: string) =>
    until(id, 'awaitApproval waiting', (s) => stepOf(s, 'awaitApproval').status === 'waiting');

  function approve(id: string, payload: unknown = { approved: true, by: 'ops' }) {
    return t.http.post(`/sagas/${id}/signals/approval`, payload);
  }

  async function approved(id: string, payload?: unknown) {
    const response = await approve(id, payload);
    assert.equal(response.status, 202, response.text);
    assert.deepEqual(response.body, { id, signal: 'approval', status: 'accepted' });
  }

  /** What the trip's services recorded, by booking, and what its payment recorded. */
  async function recordsOf(tripId: string) {
    const rows = async (query: Promise<object[]>) => (await query).map((row) => ({ ...row }));
    return {
      flights: await rows(t.sql`
        SELECT key, cancelled_at IS NOT NULL AS undone FROM public.flight_bookings WHERE trip_id = ${tripId}`),
      hotels: await rows(t.sql`
        SELECT key, cancelled_at IS NOT NULL AS undone FROM public.hotel_bookings WHERE trip_id = ${tripId}`),
      cars: await rows(t.sql`
        SELECT key, returned_at IS NOT NULL AS undone FROM public.car_rentals
        WHERE trip_id = ${tripId} AND rented_at IS NOT NULL`),
      carCalls: (await t.sql`SELECT calls FROM public.car_rentals WHERE trip_id = ${tripId}`).map(
        (r) => r.calls as number,
      ),
      tickets: await rows(
        t.sql`SELECT key, saga_id, tickets FROM public.trip_tickets WHERE trip_id = ${tripId}`,
      ),
      authorizations: await rows(t.sql`
        SELECT key, status FROM public.card_authorizations WHERE payment_id = ${tripId}`),
      captures: await rows(t.sql`
        SELECT key, refunded_at IS NOT NULL AS refunded FROM public.card_captures WHERE payment_id = ${tripId}`),
    };
  }

  /** Each booking of the saga, by step: its row once, cancelled once (`undone`), or no row if it never completed. */
  async function bookingRows(saga: TripView) {
    const records = await recordsOf(saga.input.tripId);
    return { bookFlight: records.flights, bookHotel: records.hotels, rentCar: records.cars };
  }

  /** A trip that compensated: every booking that completed was cancelled once; the others left no row. */
  async function assertBookingsUndone(saga: TripView) {
    const rows = await bookingRows(saga);
    for (const name of BOOKINGS) {
      const step = stepOf(saga, name);
      const booked = step.status === 'compensated' && !(name === 'rentCar' && !(step.output as any).rented);
      assert.deepEqual(
        rows[name as keyof typeof rows],
        booked ? [{ key: `${saga.id}:${name}`, undone: true }] : [],
        `${name} ${step.status}`,
      );
      if (step.status === 'compensated') assert.equal(step.compensation?.attempts, 1, name);
    }
  }

  /** The steps that completed, in order of completion, and the compensations, in the order they completed. */
  async function completionOrder(id: string) {
    const events = await eventsOf(t.http, id);
    return {
      completed: events.filter((e) => e.type === 'step_completed').map((e) => e.step!),
      compensated: events.filter((e) => e.type === 'compensation_completed').map((e) => e.step!),
    };
  }

  function assertNeverReached(saga: TripView, steps: string[]) {
    for (const name of steps) assert.equal(stepOf(saga, name).status, 'skipped', name);
  }

  // These run before the wait for approval, and pass without the engine's wait and child steps.
  describe('bookings', () => {
    it('rejects input outside the contract with a 400 that names each field', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ flight: { from: 'lhr', to: 'LIS' } }, 'flight.from'],
        [{ flight: { from: 'LHR', to: 'LISB' } }, 'flight.to'],
        [{ hotel: { city: 'Lisbon', nights: 0 } }, 'hotel.nights'],
        [{ hotel: { city: 'Lisbon', nights: 31 } }, 'hotel.nights'],
        [{ hotel: { city: 'Lisbon', nights: 2.5 } }, 'hotel.nights'],
        [{ car: { class: 'van' } }, 'car.class'],
        [{ amount: 0 }, 'amount'],
        [{ card: '42424242' }, 'card'],
        [{ approvalTimeoutMs: 99 }, 'approvalTimeoutMs'],
        [{ approvalTimeoutMs: 604_800_001 }, 'approvalTimeoutMs'],
        [{ tripId: undefined }, 'tripId'],
      ];
      for (const [overrides, path] of cases) {
        const response = await t.http.post('/sagas/trip', trip(overrides));
        assert.equal(response.status, 400, `${JSON.stringify(overrides)}: ${response.text}`);
        assert.deepEqual(
          response.body.issues.map((i: { path: string }) => i.path),
          [path],
          JSON.stringify(overrides),
        );
      }
    });

    it('destination ZZZ fails bookFlight at once ("no flights"): the trip never waits, and every booking made is cancelled once', async () => {
      const id = await start(trip({ flight: { from: 'LHR', to: 'ZZZ' } }));
      const saga = await ended(id);
      assert.equal(saga.status, 'compensated');
      assert.deepEqual(saga.error, { name: 'NonRetryableError', message: 'no flights', retryable: false });
      const flight = stepOf(saga, 'bookFlight');
      assert.deepEqual([flight.status, flight.attempts, flight.compensation], ['failed', 1, undefined]);
      assertNeverReached(saga, ['awaitApproval', 'pay', 'issueTickets']);
      await assertBookingsUndone(saga);
      const records = await recordsOf(saga.input.tripId);
      assert.deepEqual([records.tickets, records.authorizations], [[], []]);
    });

    it('city Atlantis fails bookHotel at once: the trip never waits, and every booking made is cancelled once', async () => {
      const id = await start(trip({ hotel: { city: 'Atlantis', nights: 2 }, car: { class: 'economy' } }));
      const saga = await ended(id);
      assert.equal(saga.status, 'compensated');
      assert.deepEqual(saga.error, {
        name: 'NonRetryableError',
        message: 'no hotel in Atlantis',
        retryable: false,
      });
      const hotel = stepOf(saga, 'bookHotel');
      assert.deepEqual([hotel.status, hotel.attempts, hotel.compensation], ['failed', 1, undefined]);
      assertNeverReached(saga, ['awaitApproval', 'pay', 'issueTickets']);
      await assertBookingsUndone(saga);
      const records = await recordsOf(saga.input.tripId);
      assert.deepEqual([records.tickets, records.authorizations], [[], []]);
    });

    it('destination SLO answers in 2 s, but a sibling that fails (Atlantis) aborts the wait at once: nothing is booked', async () => {
      const id = await start(
        trip({ flight: { from: 'LHR', to: 'SLO' }, hotel: { city: 'Atlantis', nights: 1 }, car: undefined }),
      );
      const saga = await ended(id);
      assert.equal(saga.status, 'compensated');
      assert.equal(saga.error?.message, 'no hotel in Atlantis');
      const flight = stepOf(saga, 'bookFlight');
      assert.equal(flight.status, 'failed');
      assert.equal(flight.attempts, 1);
      const flightMs = Date.parse(flight.finishedAt!) - Date.parse(flight.startedAt!);
      const sagaMs = Date.parse(saga.completedAt!) - Date.parse(saga.createdAt);
      assert.ok(flightMs < SLOW_ANSWER_MS / 2, `bookFlight ran ${flightMs} ms: its wait was not aborted`);
      assert.ok(sagaMs < SLOW_ANSWER_MS, `the trip took ${sagaMs} ms to compensate`);
      assert.deepEqual((await recordsOf(saga.input.tripId)).flights, []);
      await assertBookingsUndone(saga);
    });

    it('books flight, hotel and an suv in parallel (the desk answers on attempt 3), each once; without an approval, each is undone once in reverse order of completion', async () => {
      // No approval comes: the trip gives up after approvalTimeoutMs and compensates.
      const id = await start(trip({ car: { class: 'suv' }, approvalTimeoutMs: 100 }));
      const saga = await ended(id);
      assert.equal(saga.status, 'compensated');
      assert.equal(saga.input.approvalTimeoutMs, 100);
      assert.deepEqual(
        BOOKINGS.map((name) => [name, stepOf(saga, name).group, stepOf(saga, name).kind]),
        BOOKINGS.map((name) => [name, 'bookings', 'task']),
      );
      assert.deepEqual(
        BOOKINGS.map((name) => stepOf(saga, name).output),
        [
          { bookingId: `${id}:bookFlight`, from: 'LHR', to: 'LIS' },
          { bookingId: `${id}:bookHotel`, city: 'Lisbon', nights: 3 },
          { rented: true, rentalId: `${id}:rentCar`, class: 'suv' },
        ],
      );
      const events = await eventsOf(t.http, id);
      // In parallel: each booking started before the car, which takes three attempts and at least
      // 300 ms of backoff, completed (one after another, the car would come last).
      const carCompleted = events.findIndex((e) => e.type === 'step_completed' && e.step === 'rentCar');
      assert.deepEqual(
        events
          .slice(0, carCompleted)
          .filter((e) => e.type === 'step_started' && e.attempt === 1)
          .map((e) => e.step)
          .sort(),
        [...BOOKINGS].sort(),
      );
      assert.deepEqual(
        events
          .filter((e) => e.type === 'step_failed' && e.step === 'rentCar')
          .map((e) => [e.attempt, e.data.error.message, e.data.retryInMs]),
        [
          [1, 'desk unavailable', 100],
          [2, 'desk unavailable', 200],
        ],
      );
      assert.equal(stepOf(saga, 'rentCar').attempts, 3);
      const order = await completionOrder(id);
      assert.deepEqual(order.compensated, order.completed.filter((s) => BOOKINGS.includes(s)).reverse());
      await assertBookingsUndone(saga);
      const records = await recordsOf(saga.input.tripId);
      assert.deepEqual(records.carCalls, [3]);
      assert.deepEqual([records.tickets, records.authorizations], [[], []]);
    });

    it('without a car, rentCar completes with { rented: false } and returnCar has nothing to return', async () => {
      const id = await start(trip({ car: undefined, approvalTimeoutMs: 100 }));
      const saga = await ended(id);
      assert.equal(saga.status, 'compensated');
      const car = stepOf(saga, 'rentCar');
      assert.deepEqual([car.attempts, car.output], [1, { rented: false }]);
      assert.deepEqual(car.compensation?.status, 'completed');
      const records = await recordsOf(saga.input.tripId);
      assert.deepEqual([records.cars, records.carCalls], [[], []]);
      await assertBookingsUndone(saga);
    });

    it('without ?deadlineMs=, a trip has the saga deadline of 7 days, and waits a day for approval', async () => {
      const id = await start(trip({ flight: { from: 'LHR', to: 'ZZZ' } }));
      const saga = await view(id);
      assert.equal(saga.input.approvalTimeoutMs, 86_400_000);
      const deadlineMs = Date.parse(saga.deadlineAt!) - Date.parse(saga.createdAt);
      assert.ok(Math.abs(deadlineMs - 7 * 24 * 3600_000) < 1000, `deadline ${deadlineMs} ms after the start`);
      await ended(id);
    });
  });

  // From here on, the trip reaches its wait step and its child step: these wait for the engine's
  // support for signals, child sagas and `?deadlineMs=`.
  describe('approval, payment, cancel and deadline', () => {
    it('waits for approval, then pays with a child payment saga and issues the tickets once', async () => {
      const input = trip({ car: { class: 'economy' } });
      const id = await start(input);
      const waiting = await waitingForApproval(id);
      const wait = stepOf(waiting, 'awaitApproval');
      assert.deepEqual([wait.kind, wait.waitingFor], ['wait', 'approval']);
      assert.equal(stepOf(waiting, 'pay').kind, 'child');

      // The payload is checked against the signal's schema; only declared signals are accepted.
      const invalid = await approve(id, { approved: 'yes', by: '' });
      assert.equal(invalid.status, 400, invalid.text);
      assert.deepEqual(invalid.body.issues.map((i: { path: string }) => i.path).sort(), ['approved', 'by']);
      assert.equal((await t.http.post(`/sagas/${id}/signals/payment`, {})).status, 404);
      await approved(id);

      const saga = await ended(id);
      assert.equal(saga.status, 'completed', JSON.stringify(saga.steps));
      assert.deepEqual(stepOf(saga, 'awaitApproval').output, { approved: true, by: 'ops' });
      const pay = stepOf(saga, 'pay');
      assert.ok(pay.childId, 'pay names its child saga');
      assert.deepEqual(saga.children, [
        { id: pay.childId, name: 'payment', status: 'completed', step: 'pay' },
      ]);
      const child = await view(pay.childId);
      assert.equal(child.name, 'payment');
      assert.equal(child.parentId, id);
      assert.deepEqual(child.input, { paymentId: input.tripId, amount: 980, card: CARD });
      assert.deepEqual(pay.output, child.output);

      const records = await recordsOf(input.tripId);
      assert.deepEqual(await bookingRows(saga), {
        bookFlight: [{ key: `${id}:bookFlight`, undone: false }],
        bookHotel: [{ key: `${id}:bookHotel`, undone: false }],
        rentCar: [{ key: `${id}:rentCar`, undone: false }],
      });
      assert.deepEqual(records.authorizations, [{ key: `${child.id}:authorize`, status: 'authorized' }]);
      assert.deepEqual(records.captures, [{ key: `${child.id}:capture`, refunded: false }]);
      assert.deepEqual(records.tickets, [
        {
          key: `${id}:issueTickets`,
          saga_id: id,
          tickets: [
            { kind: 'flight', reference: `${id}:bookFlight`, description: 'LHR → LIS' },
            { kind: 'hotel', reference: `${id}:bookHotel`, description: 'Lisbon, 3 nights' },
            { kind: 'car', reference: `${id}:rentCar`, description: 'economy car' },
          ],
        },
      ]);
      assert.deepEqual(stepOf(saga, 'issueTickets').output, { tickets: records.tickets[0].tickets });
      // A finished trip takes no more signals.
      assert.equal((await approve(id)).status, 409);
    });

    it('takes an approval sent before it waits (while SLO is still answering), and completes', async () => {
      const id = await start(trip({ flight: { from: 'LHR', to: 'SLO' } }));
      await approved(id);
      const early = await view(id);
      assert.equal(stepOf(early, 'bookFlight').status, 'running', 'the approval came before the wait');
      assert.notEqual(stepOf(early, 'awaitApproval').status, 'completed');
      const saga = await ended(id);
      assert.equal(saga.status, 'completed');
      assert.deepEqual(stepOf(saga, 'awaitApproval').output, { approved: true, by: 'ops' });
      assert.equal(saga.children?.[0]?.status, 'completed');
    });

    it('a rejected approval fails awaitApproval and undoes the bookings in reverse order of their completion', async () => {
      // SLO answers last (2 s), the suv after its two busy answers, the hotel first.
      const id = await start(trip({ flight: { from: 'LHR', to: 'SLO' }, car: { class: 'suv' } }));
      await waitingForApproval(id);
      await approved(id, { approved: false, by: 'ops' });
      const saga = await ended(id);
      assert.equal(saga.status, 'compensated');
      assert.deepEqual(saga.error, {
        name: 'NonRetryableError',
        message: 'trip rejected by ops',
        retryable: false,
      });
      const wait = stepOf(saga, 'awaitApproval');
      assert.deepEqual([wait.status, wait.attempts], ['failed', 1]);
      assertNeverReached(saga, ['pay', 'issueTickets']);
      const order = await completionOrder(id);
      assert.equal(order.completed.at(-1), 'bookFlight');
      assert.deepEqual(order.compensated, [...order.completed].reverse());
      assert.equal(order.compensated[0], 'bookFlight');
      await assertBookingsUndone(saga);
      assert.equal(saga.children?.length ?? 0, 0);
      const records = await recordsOf(saga.input.tripId);
      assert.deepEqual([records.authorizations, records.tickets], [[], []]);
    });

    it('an approval that does not come within approvalTimeoutMs fails the wait with SignalTimeout', async () => {
      const id = await start(trip({ approvalTimeoutMs: 300 }));
      const saga = await ended(id);
      assert.equal(saga.status, 'compensated');
      assert.equal(saga.error?.name, 'SignalTimeout');
      const wait = stepOf(saga, 'awaitApproval');
      assert.equal(wait.status, 'failed');
      assert.equal(wait.error?.name, 'SignalTimeout');
      const sagaMs = Date.parse(saga.completedAt!) - Date.parse(saga.createdAt);
      assert.ok(sagaMs >= 300, `compensated ${sagaMs} ms after the start: it did not wait 300 ms`);
      await assertBookingsUndone(saga);
      assert.equal((await approve(id)).status, 409);
    });

    it('a declined card fails the child payment, so pay fails with ChildSagaFailed and the trip is compensated', async () => {
      const id = await start(trip({ card: DECLINED_CARD }));
      await waitingForApproval(id);
      await approved(id);
      const saga = await ended(id);
      assert.equal(saga.status, 'compensated');
      assert.equal(saga.error?.name, 'ChildSagaFailed');
      const pay = stepOf(saga, 'pay');
      assert.deepEqual([pay.status, pay.error?.name], ['failed', 'ChildSagaFailed']);
      assert.deepEqual(saga.children, [
        { id: pay.childId, name: 'payment', status: 'compensated', step: 'pay' },
      ]);
      assert.equal((await view(pay.childId!)).error?.message, 'card declined');
      assertNeverReached(saga, ['issueTickets']);
      await assertBookingsUndone(saga);
      const records = await recordsOf(saga.input.tripId);
      assert.deepEqual(records.authorizations, [{ key: `${pay.childId}:authorize`, status: 'declined' }]);
      assert.deepEqual([records.captures, records.tickets], [[], []]);
    });

    /** Holds every insert of a 'held-…' trip until `body` is done. */
    async function holding<T>(body: () => Promise<T>): Promise<T> {
      const connection = await t.sql.reserve();
      await connection`SELECT pg_advisory_lock(${HOLD_LOCK})`;
      try {
        return await body();
      } finally {
        await connection`SELECT pg_advisory_unlock(${HOLD_LOCK})`;
        connection.release();
      }
    }

    it('cancelled after pay completed (issuing tickets), the trip compensates its completed child payment: refunded and voided once', async () => {
      const input = trip({}, 'held-tickets');
      const id = await start(input);
      const saga = await holding(async () => {
        await waitingForApproval(id);
        await approved(id);
        await until(id, 'issueTickets running', (s) => stepOf(s, 'issueTickets').status === 'running');
        assert.equal((await t.http.post(`/sagas/${id}/cancel`)).status, 202);
        // issueTickets honours its signal: the cancel ends its insert, still held.
        return ended(id);
      });
      assert.equal(saga.status, 'compensated');
      assert.equal(saga.error?.name, 'SagaCancelled');
      const pay = stepOf(saga, 'pay');
      assert.equal(pay.status, 'compensated');
      const child = await view(pay.childId!);
      assert.equal(child.status, 'compensated');
      assert.deepEqual(saga.children, [
        { id: child.id, name: 'payment', status: 'compensated', step: 'pay' },
      ]);
      assert.deepEqual(
        (await completionOrder(child.id)).compensated,
        ['capture', 'authorize'],
        'the child compensates in reverse',
      );
      const records = await recordsOf(input.tripId);
      assert.deepEqual(records.authorizations, [{ key: `${child.id}:authorize`, status: 'voided' }]);
      assert.deepEqual(records.captures, [{ key: `${child.id}:capture`, refunded: true }]);
      assert.deepEqual(records.tickets, []);
      // The payment was undone before the bookings, the reverse of their completion.
      const order = await completionOrder(id);
      assert.equal(order.compensated[0], 'pay');
      await assertBookingsUndone(saga);
    });

    it('cancelling a trip while its child payment runs cancels the child, which compensates', async () => {
      const input = trip({}, 'held-payment');
      const id = await start(input);
      let childId: string | undefined;
      await holding(async () => {
        await waitingForApproval(id);
        await approved(id);
        const paying = await until(id, 'pay started its child', (s) => !!stepOf(s, 'pay').childId);
        childId = stepOf(paying, 'pay').childId!;
        await until(childId, 'authorize running', (s) => stepOf(s, 'authorize').status === 'running');
        assert.equal((await t.http.post(`/sagas/${id}/cancel`)).status, 202);
        // Released with the lock: the held authorization completes, and is then voided.
      });
      const saga = await ended(id);
      assert.equal(saga.status, 'compensated');
      assert.equal(saga.error?.name, 'SagaCancelled');
      const child = await ended(childId!);
      assert.equal(child.status, 'compensated');
      assert.equal(child.error?.name, 'SagaCancelled');
      assert.notEqual(stepOf(saga, 'pay').status, 'completed');
      const records = await recordsOf(input.tripId);
      assert.deepEqual(records.authorizations, [{ key: `${childId}:authorize`, status: 'voided' }]);
      assert.deepEqual([records.captures, records.tickets], [[], []]);
      await assertBookingsUndone(saga);
    });

    it('cancelling a trip that waits for approval compensates it; the approval is refused afterwards', async () => {
      const id = await start(trip());
      await waitingForApproval(id);
      assert.equal((await t.http.post(`/sagas/${id}/cancel`)).status, 202);
      const saga = await ended(id);
      assert.equal(saga.status, 'compensated');
      assert.equal(saga.error?.name, 'SagaCancelled');
      assert.notEqual(stepOf(saga, 'awaitApproval').status, 'completed');
      assertNeverReached(saga, ['pay', 'issueTickets']);
      await assertBookingsUndone(saga);
      assert.equal((await approve(id)).status, 409);
    });

    it('?deadlineMs= overrides the 7-day deadline: passed while waiting for approval, the trip compensates with DeadlineExceeded', async () => {
      const id = await start(trip(), '?deadlineMs=1500');
      const waiting = await waitingForApproval(id);
      const deadlineMs = Date.parse(waiting.deadlineAt!) - Date.parse(waiting.createdAt);
      assert.ok(Math.abs(deadlineMs - 1500) < 200, `deadline ${deadlineMs} ms after the start`);
      const saga = await ended(id);
      assert.equal(saga.status, 'compensated');
      assert.equal(saga.error?.name, 'DeadlineExceeded');
      assert.notEqual(stepOf(saga, 'awaitApproval').status, 'completed');
      await assertBookingsUndone(saga);
    });
  });
});

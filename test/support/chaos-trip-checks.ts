import { isDeepStrictEqual } from 'node:util';
import type postgres from 'postgres';
import { TERMINAL_SAGA_STATUSES } from '../../src/saga/saga-status.js';
import { EXPECTED, type PlannedTrip, type TripActions, type TripExpectation } from './chaos-trips.js';

/**
 * What the chaos scenario's trips (chaos-trips.ts) must have left in Postgres once every saga
 * ended: each trip's status, error and steps as its case and the scenario's actions imply; its
 * child payment exactly once, with its end reached by the trip; its signals recorded as the API
 * answered them; and the rows of the trip's services (bookings, tickets) and of the acquirer
 * (authorizations, captures) exactly those of the outcome.
 */

const BOOKINGS = ['bookFlight', 'bookHotel', 'rentCar'] as const;
/** The trip's steps that something undoes: the bookings' compensations, and `pay`'s child saga. */
const COMPENSABLE = [...BOOKINGS, 'pay'];
const TERMINAL: readonly string[] = TERMINAL_SAGA_STATUSES;

export interface TripVerification {
  trips: { completed: number; compensated: number; failed: number };
  payments: { started: number; completed: number; compensated: number; failed: number };
  lost: string[];
  duplicatedStarts: number;
  wrongStatus: number;
  wrongSideEffects: number;
  /** Children not exactly once per trip that paid, with another parent, status or output than their trip's, or whose end never reached it. */
  wrongChildren: number;
  /** Signals recorded otherwise than the API answered (a delivery recorded twice, or not at all). */
  wrongSignals: number;
  actions: TripActions;
  /** A few of the sagas behind the problems above (trips and their children), to explain. */
  suspects: string[];
}

/**
 * What Postgres holds for the trips once every saga ended: each trip's status, its steps, its
 * child payment, its signals, and the rows of the trip's and the payment's services.
 */
export async function verifyTrips(
  sql: postgres.Sql,
  trips: PlannedTrip[],
  actions: TripActions,
  note: (line: string) => void,
): Promise<TripVerification> {
  const rows = await loadTripRows(sql);
  const result: TripVerification = {
    trips: { completed: 0, compensated: 0, failed: 0 },
    payments: { started: rows.payments.length, completed: 0, compensated: 0, failed: 0 },
    lost: [],
    duplicatedStarts: 0,
    wrongStatus: 0,
    wrongSideEffects: 0,
    wrongChildren: 0,
    wrongSignals: 0,
    actions,
    suspects: [],
  };
  const suspect = (...ids: (string | undefined)[]) => {
    for (const id of ids) if (id && result.suspects.length < 6) result.suspects.push(id);
  };
  for (const p of rows.payments) {
    if (p.status === 'completed' || p.status === 'compensated' || p.status === 'failed')
      result.payments[p.status]++;
  }

  // One saga per trip: a second one is a start recorded twice.
  const perTrip = new Map<string, number>();
  for (const s of rows.trips) perTrip.set(s.input.tripId, (perTrip.get(s.input.tripId) ?? 0) + 1);
  for (const [tripId, count] of perTrip) {
    if (count > 1) {
      result.duplicatedStarts += count - 1;
      note(`duplicated start: trip ${tripId} has ${count} sagas`);
    }
  }

  const started = trips.filter((t) => t.id);
  for (const trip of started) {
    const saga = rows.tripById.get(trip.id!);
    const status = saga?.status;
    if (status === 'completed' || status === 'compensated' || status === 'failed') result.trips[status]++;
    if (!saga || !TERMINAL.includes(saga.status)) {
      result.lost.push(trip.id!);
      note(`lost: trip ${trip.id} (${trip.case}) is ${status ?? 'not stored'}`);
      continue;
    }
    const expected = expectationOf(trip);
    const says = `trip ${trip.id} (${trip.case}, ${trip.tripId})`;
    const units = rows.unitsOf(trip.id!);
    const children = rows.childrenOf(trip.id!);
    const child = children[0];
    const wrongChild = childProblems(trip, saga, expected, units, children, rows);
    const wrongEffects = [...bookingProblems(trip, saga, units, rows), ...paymentProblems(trip, child, rows)];

    const wrongStatus = statusProblems(saga, expected, units);
    if (wrongStatus.length + wrongChild.length + wrongEffects.length > 0) suspect(saga.id, child?.id);
    if (wrongStatus.length > 0) {
      result.wrongStatus++;
      note(`wrong status: ${says}: ${wrongStatus.join(', ')}; steps ${describeUnits(units)}`);
    }
    if (wrongChild.length > 0) {
      result.wrongChildren++;
      note(`wrong child: ${says}: ${wrongChild.join(', ')}; steps ${describeUnits(units)}`);
    }
    if (wrongEffects.length > 0) {
      result.wrongSideEffects++;
      note(`side effects of ${saga.status} ${says}: ${wrongEffects.join(', ')}`);
    }

    // Signals: each 202 the API answered is one delivery in the inbox and one event, no more.
    const events = rows.eventsOf(trip.id!);
    const received = events.get('signal_received') ?? 0;
    const inbox = rows.signalsOf(trip.id!);
    const wrongSignals: string[] = [];
    if (received !== trip.signalsDelivered || inbox !== trip.signalsDelivered)
      wrongSignals.push(
        `the API delivered ${trip.signalsDelivered} signals; ${received} signal_received events, ${inbox} in the inbox`,
      );
    if (trip.case === 'approve-twice' && (trip.signalsDelivered !== 1 || trip.signalsRepeated !== 1))
      wrongSignals.push(
        `one key sent twice was answered 202 ${trip.signalsDelivered} times and 200 ${trip.signalsRepeated} times`,
      );
    if (wrongSignals.length > 0) {
      result.wrongSignals++;
      note(`wrong signals: ${says}: ${wrongSignals.join(', ')}`);
    }
    if (
      received > 0 &&
      !events.has('step_waiting') &&
      units.get('step:awaitApproval')?.status === 'completed'
    )
      result.actions.approvedBeforeWaiting++;
  }

  // Every child's end reached its parent: no unit still waits for a child saga that has ended.
  for (const stuck of rows.waitingOnEndedChildren) {
    result.wrongChildren++;
    suspect(stuck.saga_id, stuck.child_id);
    note(
      `child end not reached its parent: saga ${stuck.saga_id} (${stuck.parent_status}) unit ${stuck.key} waits for child ${stuck.child_id}, which is ${stuck.child_status}`,
    );
  }
  // Every child belongs to a trip this run started.
  const tripIds = new Set(started.map((t) => t.id!));
  for (const p of rows.payments) {
    if (!p.parent_id || !tripIds.has(p.parent_id)) {
      result.wrongChildren++;
      note(`payment saga ${p.id} has parent ${p.parent_id ?? 'none'}, not a trip of this run`);
    }
  }
  return result;
}

/** The expectation of a trip as the scenario drove it: a cancel that came too late finds it completed. */
function expectationOf(trip: PlannedTrip): TripExpectation {
  if (trip.cancel?.status === 409) return EXPECTED['approve-waiting'];
  return EXPECTED[trip.case];
}

interface SagaRow {
  id: string;
  name: string;
  status: string;
  input: any;
  output: unknown;
  error: { name: string; message: string } | null;
  parent_id: string | null;
  parent_step: number | null;
}

interface UnitRow {
  saga_id: string;
  key: string;
  kind: string;
  name: string;
  status: string;
  attempts: number;
  child_id: string | null;
  output: any;
}

interface StuckRow {
  saga_id: string;
  parent_status: string;
  key: string;
  child_id: string;
  child_status: string;
}

type TripRows = Awaited<ReturnType<typeof loadTripRows>>;

/** Everything the checks read, in a few statements (so that a run of thousands checks in seconds). */
async function loadTripRows(sql: postgres.Sql) {
  const sagas = await sql<SagaRow[]>`
    SELECT id, name, status, input, output, error, parent_id, parent_step FROM sagas
    WHERE name IN ('trip', 'payment')`;
  const units = await sql<UnitRow[]>`
    SELECT u.saga_id, u.key, u.kind, u.name, u.status, u.attempts, u.child_id, u.output
    FROM saga_units u JOIN sagas s ON s.id = u.saga_id WHERE s.name IN ('trip', 'payment')`;
  const events = await sql<{ saga_id: string; type: string; count: number }[]>`
    SELECT e.saga_id, e.type, count(*)::int AS count
    FROM saga_events e JOIN sagas s ON s.id = e.saga_id
    WHERE s.name = 'trip' AND e.type IN ('signal_received', 'step_waiting')
    GROUP BY e.saga_id, e.type`;
  const signals = await sql<{ saga_id: string; count: number }[]>`
    SELECT saga_id, count(*)::int AS count FROM saga_signals GROUP BY saga_id`;
  const waitingOnEndedChildren = await sql<StuckRow[]>`
    SELECT u.saga_id, p.status AS parent_status, u.key, s.child_id, c.status AS child_status
    FROM saga_units u JOIN sagas p ON p.id = u.saga_id
      JOIN saga_units s ON s.saga_id = u.saga_id AND s.kind = 'step' AND s.step_index = u.step_index
      JOIN sagas c ON c.id = s.child_id
    WHERE u.status = 'waiting' AND u.kind IN ('step', 'compensation')
      AND c.status IN ('completed', 'compensated', 'failed')`;
  const flights = await sql<{ trip_id: string; key: string; cancelled: boolean }[]>`
    SELECT trip_id, key, cancelled_at IS NOT NULL AS cancelled FROM flight_bookings`;
  const hotels = await sql<{ trip_id: string; key: string; cancelled: boolean }[]>`
    SELECT trip_id, key, cancelled_at IS NOT NULL AS cancelled FROM hotel_bookings`;
  const cars = await sql<
    { trip_id: string; key: string; calls: number; rented: boolean; cancelled: boolean }[]
  >`
    SELECT trip_id, key, calls, rented_at IS NOT NULL AS rented, returned_at IS NOT NULL AS cancelled
    FROM car_rentals`;
  const tickets = await sql<{ trip_id: string; key: string; saga_id: string }[]>`
    SELECT trip_id, key, saga_id FROM trip_tickets`;
  const authorizations = await sql<{ payment_id: string; key: string; status: string; calls: number }[]>`
    SELECT payment_id, key, status, calls FROM card_authorizations`;
  const captures = await sql<{ payment_id: string; key: string; refunded: boolean }[]>`
    SELECT payment_id, key, refunded_at IS NOT NULL AS refunded FROM card_captures`;

  const group = <T, K>(items: T[], key: (item: T) => K) => {
    const map = new Map<K, T[]>();
    for (const item of items) map.set(key(item), [...(map.get(key(item)) ?? []), item]);
    return map;
  };
  const unitsBySaga = group(units, (u) => u.saga_id);
  const childrenByParent = group(
    sagas.filter((s) => s.parent_id),
    (s) => s.parent_id!,
  );
  const eventsBySaga = group(events, (e) => e.saga_id);
  const signalCount = new Map(signals.map((s) => [s.saga_id, s.count]));
  const byTrip = <T extends { trip_id: string }>(items: T[]) => group(items, (i) => i.trip_id);
  const byPayment = <T extends { payment_id: string }>(items: T[]) => group(items, (i) => i.payment_id);
  return {
    trips: sagas.filter((s) => s.name === 'trip'),
    payments: sagas.filter((s) => s.name === 'payment'),
    tripById: new Map(sagas.filter((s) => s.name === 'trip').map((s) => [s.id, s])),
    /** A saga's units by `kind:name` (`step:pay`, `compensation:pay`). */
    unitsOf: (id: string) => new Map((unitsBySaga.get(id) ?? []).map((u) => [`${u.kind}:${u.name}`, u])),
    childrenOf: (id: string) => childrenByParent.get(id) ?? [],
    eventsOf: (id: string) => new Map((eventsBySaga.get(id) ?? []).map((e) => [e.type, e.count])),
    signalsOf: (id: string) => signalCount.get(id) ?? 0,
    waitingOnEndedChildren,
    bookings: { bookFlight: byTrip(flights), bookHotel: byTrip(hotels), rentCar: byTrip(cars) },
    tickets: byTrip(tickets),
    authorizations: byPayment(authorizations),
    captures: byPayment(captures),
  };
}

/** The trip's status and error, and how its steps ended, against what its case implies. */
function statusProblems(saga: SagaRow, expected: TripExpectation, units: Map<string, UnitRow>): string[] {
  const problems: string[] = [];
  if (saga.status !== expected.status) problems.push(`${saga.status}, expected ${expected.status}`);
  if (expected.error) {
    const { name, message } = expected.error;
    if (saga.error?.name !== name || (message !== undefined && saga.error.message !== message))
      problems.push(
        `error ${saga.error ? `${saga.error.name}: ${saga.error.message}` : 'none'}, expected ${name}${message ? `: ${message}` : ''}`,
      );
  }
  if (expected.failedStep && units.get(`step:${expected.failedStep}`)?.status !== 'failed')
    problems.push(
      `${expected.failedStep} is ${units.get(`step:${expected.failedStep}`)?.status}, not failed`,
    );
  for (const unit of units.values()) {
    // Nothing runs or waits in an ended saga (the control unit keeps its deadline's `waiting`).
    if (unit.kind === 'control') continue;
    if (unit.status === 'running' || unit.status === 'waiting')
      problems.push(`${unit.kind} ${unit.name} still ${unit.status}`);
    if (saga.status === 'completed' && unit.kind === 'step' && unit.status !== 'completed')
      problems.push(`step ${unit.name} ${unit.status} in a completed trip`);
    if (saga.status === 'completed' && unit.kind === 'compensation')
      problems.push(`compensation ${unit.name} ${unit.status} in a completed trip`);
  }
  // Every completed step with something to undo was undone in a compensated trip.
  if (saga.status === 'compensated') {
    for (const name of COMPENSABLE) {
      const step = units.get(`step:${name}`);
      const undo = units.get(`compensation:${name}`);
      if (step?.status === 'completed' && undo?.status !== 'completed')
        problems.push(`${name} completed and its compensation is ${undo?.status ?? 'missing'}`);
      if (step?.status !== 'completed' && undo)
        problems.push(`${name} ${step?.status} has a compensation ${undo.status}`);
    }
  }
  return problems;
}

/** The trip's child payment: once if it got to `pay`, with this trip as its parent, ended as the trip implies. */
function childProblems(
  trip: PlannedTrip,
  saga: SagaRow,
  expected: TripExpectation,
  units: Map<string, UnitRow>,
  children: SagaRow[],
  rows: TripRows,
): string[] {
  const problems: string[] = [];
  const pay = units.get('step:pay');
  const undone = units.get('compensation:pay')?.status === 'completed';
  const [child] = children;
  // Started once, whatever the redeliveries: one child, the one its step names.
  if (children.length > 1)
    problems.push(`${children.length} child payments: ${children.map((c) => c.id).join(', ')}`);
  if ((pay?.child_id ?? undefined) !== child?.id)
    problems.push(`pay names child ${pay?.child_id}, not ${child?.id}`);
  // A trip whose plan missed (a cancel that came too late) may or may not have paid.
  if (!trip.missed && !!child !== expected.pays)
    problems.push(expected.pays ? 'it never got to pay' : `it got to pay (pay ${pay?.status})`);
  if (!child) return problems;
  if (child.name !== 'payment' || child.parent_step === null || child.input.paymentId !== trip.tripId)
    problems.push(
      `child ${child.id} is ${child.name} step ${child.parent_step} for ${child.input.paymentId}`,
    );
  // The child ends completed when the trip does; compensated when the trip undid it or it failed `pay`.
  const expectedChild =
    saga.status === 'completed'
      ? 'completed'
      : pay?.status === 'completed' && !undone
        ? 'completed'
        : 'compensated';
  if (child.status !== expectedChild)
    problems.push(`child ${child.id} is ${child.status}, expected ${expectedChild} (pay ${pay?.status})`);
  if (
    pay?.status === 'completed' &&
    !isDeepStrictEqual(pay.output, child.output) &&
    child.status === 'completed'
  )
    problems.push(
      `pay output ${JSON.stringify(pay.output)} is not the child's ${JSON.stringify(child.output)}`,
    );
  if (trip.case === 'declined' && child.error?.message !== 'card declined')
    problems.push(`child error ${JSON.stringify(child.error)}, expected card declined`);
  // Its own steps: all completed in a completed payment; in a compensated one, each that ran
  // undone (both steps compensate a failed attempt too: it may have reached the acquirer).
  for (const name of ['authorize', 'capture']) {
    const step = rows.unitsOf(child.id).get(`step:${name}`);
    const undo = rows.unitsOf(child.id).get(`compensation:${name}`);
    if (child.status === 'completed' && (step?.status !== 'completed' || undo))
      problems.push(`child ${name} ${step?.status}${undo ? `, compensation ${undo.status}` : ''}`);
    if (
      child.status === 'compensated' &&
      (step?.status === 'completed' || step?.status === 'failed') &&
      undo?.status !== 'completed'
    )
      problems.push(`child ${name} ${step.status}, its compensation ${undo?.status ?? 'missing'}`);
  }
  return problems;
}

/** Each booking once per key if its step completed (none otherwise), cancelled once iff the trip undid it; tickets once iff completed. */
function bookingProblems(
  trip: PlannedTrip,
  saga: SagaRow,
  units: Map<string, UnitRow>,
  rows: TripRows,
): string[] {
  const problems: string[] = [];
  for (const name of BOOKINGS) {
    const step = units.get(`step:${name}`);
    const undone = units.get(`compensation:${name}`)?.status === 'completed';
    const all = (rows.bookings[name].get(trip.tripId) ?? []) as {
      key: string;
      cancelled: boolean;
      rented?: boolean;
      calls?: number;
    }[];
    // A car desk that was unavailable left a row that never rented: only rentals count.
    const booked = name === 'rentCar' ? all.filter((r) => r.rented) : all;
    const made = step?.status === 'completed' && (name !== 'rentCar' || step.output?.rented === true);
    const expected = made ? [{ key: `${saga.id}:${name}`, cancelled: undone }] : [];
    const actual = booked.map((r) => ({ key: r.key, cancelled: r.cancelled }));
    if (!isDeepStrictEqual(actual, expected))
      problems.push(`${name} (${step?.status}${undone ? ', undone' : ''}) left ${JSON.stringify(actual)}`);
    if (undone && saga.status === 'completed') problems.push(`${name} undone in a completed trip`);
    if (name === 'rentCar' && trip.case === 'suv' && made && (booked[0]?.calls ?? 0) < 3)
      problems.push(`the suv was rented after ${booked[0]?.calls} calls, not 3 or more`);
  }
  // Tickets for a completed trip only; but a cancel that missed its moment may have come while
  // issueTickets ran and found it done: the tickets stay, as the step has no compensation.
  const tickets = rows.tickets.get(trip.tripId) ?? [];
  const issued =
    saga.status === 'completed' ||
    (trip.missed !== undefined && units.get('step:issueTickets')?.status === 'completed');
  const expectedTickets = issued ? [{ key: `${saga.id}:issueTickets`, saga_id: saga.id }] : [];
  const actualTickets = tickets.map((t) => ({ key: t.key, saga_id: t.saga_id }));
  if (!isDeepStrictEqual(actualTickets, expectedTickets))
    problems.push(`tickets ${JSON.stringify(actualTickets)} for a ${saga.status} trip`);
  return problems;
}

/**
 * The acquirer's rows of the trip's payment (keyed by the child's step keys): an authorization once
 * per child that got to `authorize`, captured once if the child completed; a compensated child held
 * nothing and kept nothing (voided or never authorized, any capture refunded).
 */
function paymentProblems(trip: PlannedTrip, child: SagaRow | undefined, rows: TripRows): string[] {
  const problems: string[] = [];
  const authorizations = rows.authorizations.get(trip.tripId) ?? [];
  const captures = rows.captures.get(trip.tripId) ?? [];
  const show = (items: object[]) => JSON.stringify(items);
  if (!child) {
    if (authorizations.length || captures.length)
      problems.push(`no child payment, yet ${show(authorizations)} ${show(captures)}`);
    return problems;
  }
  const authorizationKey = `${child.id}:authorize`;
  const captureKey = `${child.id}:capture`;
  if (authorizations.some((a) => a.key !== authorizationKey) || captures.some((c) => c.key !== captureKey))
    problems.push(`rows of another payment: ${show(authorizations)} ${show(captures)}`);
  const [authorization] = authorizations;
  if (child.status === 'completed') {
    if (authorization?.status !== 'authorized' || captures.length !== 1 || captures[0].refunded)
      problems.push(`completed payment left ${show(authorizations)} ${show(captures)}`);
    if (trip.case === 'flaky-card' && (authorization?.calls ?? 0) < 3)
      problems.push(`the flaky card was authorized after ${authorization?.calls} calls`);
  } else {
    if (authorization?.status === 'authorized' || captures.some((c) => !c.refunded))
      problems.push(`${child.status} payment still holds ${show(authorizations)} ${show(captures)}`);
    if (trip.case === 'declined' && (authorization?.status !== 'declined' || captures.length > 0))
      problems.push(`declined card left ${show(authorizations)} ${show(captures)}`);
    if (trip.cancel?.asPlanned && (authorization?.status !== 'voided' || captures.length > 0))
      problems.push(`payment cancelled while authorizing left ${show(authorizations)} ${show(captures)}`);
  }
  return problems;
}

function describeUnits(units: Map<string, UnitRow>): string {
  return [...units.values()]
    .filter((u) => u.kind !== 'control')
    .map((u) => `${u.kind === 'compensation' ? '~' : ''}${u.name}=${u.status}/${u.attempts}`)
    .join(' ');
}

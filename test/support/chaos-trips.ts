import postgres from 'postgres';
import { TERMINAL_SAGA_STATUSES } from '../../src/saga/saga-status.js';
import type { HttpClient, HttpResponse } from './http-client.js';

/**
 * The `trip` sagas of the chaos scenario (test/support/chaos-scenario.ts): what each trip is, how
 * the scenario drives it over HTTP (its approval signal at various moments, cancels while it waits
 * or while its child payment runs), and what Postgres must hold once every saga has ended. The
 * trips put parallel groups, waits for signals, signals that arrive early or twice, deadlines,
 * signal timeouts and child sagas in flight while the scenario kills workers and wipes Redis.
 * chaos-trip-checks.ts checks what they leave.
 */

/** What the scenario does with a trip; each implies how the trip ends (EXPECTED). */
export type TripCase =
  /** Approved right after the start, before the trip waits (the flight to SLO takes 2 s). */
  | 'approve-early'
  /** Approved right after the start, whenever the trip gets to its wait. */
  | 'approve-at-once'
  /** Approved once the trip waits for it. */
  | 'approve-waiting'
  /** Approved once it waits, with one Idempotency-Key sent twice at once: delivered once. */
  | 'approve-twice'
  /** An suv: the desk fails twice, the third attempt rents it; approved while waiting. */
  | 'suv'
  /** The flaky card: the child payment's `authorize` fails twice, then passes. */
  | 'flaky-card'
  /** `approved: false` once it waits. */
  | 'reject'
  /** Destination ZZZ: `bookFlight` fails; an approval sent at once finds it failing or ended. */
  | 'no-flights'
  /** City Atlantis: `bookHotel` fails. */
  | 'no-hotel'
  /** The declined card: the child payment fails, so `pay` fails with ChildSagaFailed. */
  | 'declined'
  /** Cancelled while it waits for approval; then approved, too late. */
  | 'cancel-waiting'
  /** Approved, then cancelled while its child payment's `authorize` is held inside the acquirer. */
  | 'cancel-paying'
  /** Never approved: its `approvalTimeoutMs` (3 s) fails the wait with SignalTimeout. */
  | 'approval-timeout'
  /** Never approved: `?deadlineMs=5000` cancels it with DeadlineExceeded. */
  | 'deadline';

/** How a trip of a case ends. */
export interface TripExpectation {
  status: 'completed' | 'compensated';
  /** The trip's error (a compensated trip's), by name and, when it is fixed, message. */
  error?: { name: string; message?: string };
  /** The step whose failure stops the trip, when one does. */
  failedStep?: string;
  /** Whether the trip gets to `pay`: its child payment saga exists, exactly once. */
  pays: boolean;
}

const APPROVER = 'chaos';
const completed: TripExpectation = { status: 'completed', pays: true };
const compensated = (
  error: TripExpectation['error'],
  rest: Omit<TripExpectation, 'status' | 'error'>,
): TripExpectation => ({ status: 'compensated', error, ...rest });

export const EXPECTED: Record<TripCase, TripExpectation> = {
  'approve-early': completed,
  'approve-at-once': completed,
  'approve-waiting': completed,
  'approve-twice': completed,
  suv: completed,
  'flaky-card': completed,
  reject: compensated(
    { name: 'NonRetryableError', message: `trip rejected by ${APPROVER}` },
    { failedStep: 'awaitApproval', pays: false },
  ),
  'no-flights': compensated(
    { name: 'NonRetryableError', message: 'no flights' },
    { failedStep: 'bookFlight', pays: false },
  ),
  'no-hotel': compensated(
    { name: 'NonRetryableError', message: 'no hotel in Atlantis' },
    { failedStep: 'bookHotel', pays: false },
  ),
  declined: compensated({ name: 'ChildSagaFailed' }, { failedStep: 'pay', pays: true }),
  'cancel-waiting': compensated({ name: 'SagaCancelled' }, { pays: false }),
  'cancel-paying': compensated({ name: 'SagaCancelled' }, { pays: true }),
  'approval-timeout': compensated({ name: 'SignalTimeout' }, { failedStep: 'awaitApproval', pays: false }),
  deadline: compensated({ name: 'DeadlineExceeded' }, { pays: false }),
};

/** One round of the mix, repeated: half the trips complete, half compensate, for many reasons. */
const CYCLE: TripCase[] = [
  'approve-early',
  'approve-waiting',
  'reject',
  'approve-twice',
  'no-flights',
  'suv',
  'declined',
  'approve-at-once',
  'cancel-waiting',
  'approve-waiting',
  'flaky-card',
  'no-hotel',
  'approve-waiting',
  'cancel-paying',
  'approve-twice',
  'reject',
  'declined',
  'approval-timeout',
  'approve-at-once',
  'deadline',
];

export const TRIP_CARD_FLAKY = '4000000000000119';
export const TRIP_CARD_DECLINED = '4000000000000002';
const TERMINAL: readonly string[] = TERMINAL_SAGA_STATUSES;
/**
 * The payment of a trip whose id ends in HELD_SUFFIX is held inside the acquirer while the scenario
 * holds advisory lock (HOLD_CLASS, trip index): the acquirer's insert waits for it.
 */
const HOLD_CLASS = 4_242_009;
const HELD_SUFFIX = '-held';
/** Long enough never to fire by accident; the `approval-timeout` case sets its own. */
const APPROVAL_TIMEOUT_MS = 3_600_000;

export interface PlannedTrip {
  index: number;
  case: TripCase;
  tripId: string;
  input: Record<string, unknown>;
  /** The start's query string (`?deadlineMs=` for the deadline case). */
  query: string;
  /** The saga's id, once the API started it. */
  id?: string;
  /** Signals the API answered 202 (delivered) and 200 (an Idempotency-Key delivered already). */
  signalsDelivered: number;
  signalsRepeated: number;
  /** The answer to the scenario's cancel, and whether it came while the trip was where the case says. */
  cancel?: { status: number; asPlanned: boolean };
  /** What did not go as the case plans (the trip ended before it waited, say): a problem of the run. */
  missed?: string;
}

/** How many trips of each case `count` trips hold, the way the scenario plans them. */
export function tripCases(count: number): Record<TripCase, number> {
  const counts = Object.fromEntries(Object.keys(EXPECTED).map((c) => [c, 0])) as Record<TripCase, number>;
  for (let i = 0; i < count; i++) counts[CYCLE[i % CYCLE.length]]++;
  return counts;
}

/** How many of `count` trips should end `completed` and `compensated`. */
export function expectedTripStatuses(count: number): { completed: number; compensated: number } {
  const result = { completed: 0, compensated: 0 };
  for (const [c, n] of Object.entries(tripCases(count))) result[EXPECTED[c as TripCase].status] += n;
  return result;
}

export function makeTrip(index: number, runId: string): PlannedTrip {
  const kind = CYCLE[index % CYCLE.length];
  const cars = [{ class: 'economy' }, { class: 'compact' }, undefined];
  const car = kind === 'suv' ? { class: 'suv' } : cars[index % cars.length];
  const destinations = ['LIS', 'JFK', 'NRT', 'CDG', 'BCN'];
  const cities = ['Lisbon', 'New York', 'Tokyo', 'Paris', 'Barcelona'];
  const card =
    kind === 'declined'
      ? TRIP_CARD_DECLINED
      : kind === 'flaky-card'
        ? TRIP_CARD_FLAKY
        : `4111${String(index).padStart(12, '0')}`;
  const tripId = `chaos-${runId}-trip-${index}${kind === 'cancel-paying' ? HELD_SUFFIX : ''}`;
  return {
    index,
    case: kind,
    tripId,
    input: {
      tripId,
      travelerId: `traveler-${index % 13}`,
      flight: {
        from: 'LHR',
        to:
          kind === 'no-flights'
            ? 'ZZZ'
            : kind === 'approve-early'
              ? 'SLO'
              : destinations[index % destinations.length],
      },
      hotel: {
        city: kind === 'no-hotel' ? 'Atlantis' : cities[index % cities.length],
        nights: 1 + (index % 30),
      },
      ...(car ? { car } : {}),
      amount: 100 + (index % 900),
      card,
      approvalTimeoutMs: kind === 'approval-timeout' ? 3000 : APPROVAL_TIMEOUT_MS,
    },
    query: kind === 'deadline' ? '?deadlineMs=5000' : '',
    signalsDelivered: 0,
    signalsRepeated: 0,
  };
}

/** What the scenario did with the trips, beside how they ended: it shows the plan was carried out. */
export interface TripActions {
  /** Trips that took their approval before they waited for it (no `step_waiting` event). */
  approvedBeforeWaiting: number;
  /** Trips approved (or rejected) by a signal sent while they waited. */
  signalledWhileWaiting: number;
  /** Repeated Idempotency-Keys the API answered 200, delivering nothing. */
  repeatedSignalsRefused: number;
  cancelledWhileWaiting: number;
  /** Cancelled while their child payment ran, its `authorize` held inside the acquirer. */
  cancelledWhilePaying: number;
  /** Trips whose plan could not be carried out as the case says (see the problems). */
  missed: number;
}

interface TripContext {
  api: () => HttpClient;
  sql: postgres.Sql;
  /** For the hold's session of its own. */
  databaseUrl: string;
  /** How long to wait for a trip to get where the scenario acts on it. */
  timeoutMs: number;
  log: (line: string) => void;
  problem: (line: string) => void;
}

/** Starts trips and drives each as its case says. */
export class TripDriver {
  private readonly drives = new Set<Promise<void>>();
  private readonly watcher: ApprovalWatcher;
  private readonly hold: PaymentHold;
  private signalledWhileWaiting = 0;
  private cancelledWhileWaiting = 0;
  private cancelledWhilePaying = 0;

  constructor(private readonly context: TripContext) {
    this.watcher = new ApprovalWatcher(context.sql);
    this.hold = new PaymentHold(context.databaseUrl);
  }

  /**
   * Installs the acquirer's hold: while the scenario holds a held trip's lock, the authorization of
   * its payment waits inside its insert, so that a cancel finds the child payment running.
   */
  static install(sql: postgres.Sql): Promise<void> {
    return holdInserts(sql, 'card_authorizations', 'payment_id');
  }

  /** Starts the trip (its tripId is its Idempotency-Key), then drives it in the background. */
  async start(trip: PlannedTrip): Promise<void> {
    const response = await this.send(
      `/sagas/trip${trip.query}`,
      trip.input,
      { 'Idempotency-Key': trip.tripId },
      [200, 202],
    );
    if (!response) return this.context.problem(`trip ${trip.tripId} could not be started`);
    trip.id = response.body.id as string;
    const drive = this.drive(trip).catch((error: Error) =>
      this.miss(trip, `driver failed: ${error.message}`),
    );
    this.drives.add(drive);
    void drive.finally(() => this.drives.delete(drive));
  }

  /** Waits until every trip has been driven as its case says. */
  async settled(): Promise<void> {
    while (this.drives.size > 0) await Promise.allSettled([...this.drives]);
    this.watcher.stop();
    await this.hold.close();
  }

  async dispose(): Promise<void> {
    this.watcher.stop();
    await this.hold.close();
  }

  /** What the driver did; `approvedBeforeWaiting` is for the checks to count, from the events. */
  actions(trips: PlannedTrip[]): TripActions {
    return {
      approvedBeforeWaiting: 0,
      signalledWhileWaiting: this.signalledWhileWaiting,
      repeatedSignalsRefused: trips.reduce((n, t) => n + t.signalsRepeated, 0),
      cancelledWhileWaiting: this.cancelledWhileWaiting,
      cancelledWhilePaying: this.cancelledWhilePaying,
      missed: trips.filter((t) => t.missed).length,
    };
  }

  private async drive(trip: PlannedTrip): Promise<void> {
    switch (trip.case) {
      case 'approve-early':
      case 'approve-at-once':
        await this.approve(trip);
        return;
      case 'no-flights':
      case 'no-hotel':
        // A trip that is failing (or has ended) takes no approval: accepted and not taken, or 409.
        if (trip.index % 2 === 0) await this.approve(trip, { allowTerminal: true });
        return;
      case 'approval-timeout':
      case 'deadline':
        return;
    }
    if (!(await this.waiting(trip))) return;
    switch (trip.case) {
      case 'approve-waiting':
      case 'suv':
      case 'flaky-card':
      case 'declined':
        if (await this.approve(trip)) this.signalledWhileWaiting++;
        return;
      case 'reject':
        if (await this.approve(trip, { approved: false })) this.signalledWhileWaiting++;
        return;
      case 'approve-twice': {
        const key = `approval-${trip.tripId}`;
        const answers = await Promise.all([this.approve(trip, { key }), this.approve(trip, { key })]);
        if (answers.every(Boolean)) this.signalledWhileWaiting++;
        return;
      }
      case 'cancel-waiting': {
        const status = await this.cancel(trip);
        trip.cancel = { status, asPlanned: status === 202 };
        if (status === 202) this.cancelledWhileWaiting++;
        else this.miss(trip, `the cancel of a trip that waited for approval was answered ${status}`);
        // Too late: a compensating trip keeps the signal without taking it; an ended one refuses it.
        await this.approve(trip, { allowTerminal: true });
        return;
      }
      case 'cancel-paying':
        return this.holdAndCancel(trip);
    }
  }

  /** Resolves true once the trip waits for approval; false (and a miss) if it ended or never did. */
  private async waiting(trip: PlannedTrip): Promise<boolean> {
    const state = await this.watcher.until(trip.id!, this.context.timeoutMs);
    if (state === 'waiting') return true;
    this.miss(
      trip,
      state === 'ended' ? 'it ended before it waited for approval' : 'it never waited for approval',
    );
    return false;
  }

  /** Sends the approval signal; true if the API delivered it (202) or said the key was delivered (200). */
  private async approve(
    trip: PlannedTrip,
    options: { approved?: boolean; key?: string; allowTerminal?: boolean } = {},
  ): Promise<boolean> {
    const { approved = true, key, allowTerminal = false } = options;
    const accept = allowTerminal ? [200, 202, 409] : [200, 202];
    const response = await this.send(
      `/sagas/${trip.id}/signals/approval`,
      { approved, by: APPROVER },
      key ? { 'Idempotency-Key': key } : {},
      accept,
    );
    if (response?.status === 202) trip.signalsDelivered++;
    if (response?.status === 200) trip.signalsRepeated++;
    if (!response) this.miss(trip, 'its approval could not be sent');
    return response?.status === 202 || response?.status === 200;
  }

  private async cancel(trip: PlannedTrip): Promise<number> {
    const response = await this.send(`/sagas/${trip.id}/cancel`, undefined, {}, [202, 409]);
    return response?.status ?? 0;
  }

  /**
   * Holds the acquirer for this trip, approves it, and once its payment's authorization waits
   * inside the acquirer, cancels the trip and lets the authorization go. Getting there may take a
   * while (a killed worker's job waits for its lock to expire); the authorization itself is held
   * only as long as the cancel takes, far from the step's timeout (10 s).
   */
  private async holdAndCancel(trip: PlannedTrip): Promise<void> {
    const { log } = this.context;
    if (!(await this.hold.take(trip.index))) return this.miss(trip, 'the acquirer could not be held');
    try {
      if (!(await this.approve(trip))) return;
      const began = Date.now();
      let held = false;
      // Until the authorization waits; or the trip or its child went on without it (a restart of
      // Postgres ends the hold's session, and with it the hold).
      while (Date.now() - began < this.context.timeoutMs) {
        await sleep(50);
        held = await this.hold.waiting(trip.index).catch(() => false);
        if (held) break;
        const state = await this.statesOf(trip);
        if ((state.trip && state.trip !== 'running') || TERMINAL.includes(state.child ?? '')) break;
      }
      // Read after the authorization was seen waiting: its claim set the child running before.
      const state = await this.statesOf(trip);
      const status = await this.cancel(trip);
      const child = state.child ? { status: state.child } : undefined;
      const asPlanned = held && status === 202 && child?.status === 'running';
      trip.cancel = { status, asPlanned };
      if (asPlanned) this.cancelledWhilePaying++;
      else
        this.miss(
          trip,
          `cancel answered ${status} with its child payment ${child?.status ?? 'not started'}, its authorization ${held ? '' : 'not '}held`,
        );
      log(
        `trip ${trip.id}: cancelled ${Date.now() - began} ms after its approval, its payment ${child?.status ?? 'not started'}, its authorization ${held ? '' : 'not '}held`,
      );
    } finally {
      await this.hold.release(trip.index);
    }
  }

  /** The statuses of the trip and of its child payment, if any (none while Postgres restarts). */
  private statesOf(trip: PlannedTrip): Promise<{ trip?: string; child?: string }> {
    return this.context.sql<{ trip?: string; child?: string }[]>`
      SELECT (SELECT status FROM sagas WHERE id = ${trip.id!}) AS trip,
        (SELECT status FROM sagas WHERE parent_id = ${trip.id!}) AS child`.then(
      ([row]) => row,
      () => ({}),
    );
  }

  /**
   * A POST to the API, sent again on a 5xx or a network error (Postgres restarting) until one of
   * `accept` comes back. Nothing is written on a 5xx, so sending again delivers nothing twice.
   */
  private async send(
    path: string,
    body: unknown,
    headers: Record<string, string>,
    accept: number[],
  ): Promise<HttpResponse | undefined> {
    const deadline = Date.now() + 60_000;
    let last = '';
    while (Date.now() < deadline) {
      try {
        const response = await this.context.api().post(path, body, headers);
        if (accept.includes(response.status)) return response;
        last = `${response.status} ${response.text}`;
        if (response.status < 500) break;
      } catch (error) {
        last = (error as Error).message;
      }
      await sleep(250);
    }
    this.context.problem(`POST ${path} failed: ${last}`);
    return undefined;
  }

  private miss(trip: PlannedTrip, what: string): void {
    trip.missed = trip.missed ? `${trip.missed}; ${what}` : what;
    this.context.problem(`trip ${trip.id ?? trip.tripId} (${trip.case}) not driven as planned: ${what}`);
  }
}

/**
 * Makes the inserts into `table` whose `column` names a held trip (its id ends in HELD_SUFFIX) wait
 * while a PaymentHold holds that trip's lock.
 */
export async function holdInserts(sql: postgres.Sql, table: string, column: string): Promise<void> {
  await sql.unsafe(`
    CREATE OR REPLACE FUNCTION public.chaos_hold() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE held text := substring(to_jsonb(NEW)->>TG_ARGV[0] FROM '-trip-([0-9]+)${HELD_SUFFIX}$');
    BEGIN
      IF held IS NOT NULL THEN PERFORM pg_advisory_xact_lock_shared(${HOLD_CLASS}, held::int); END IF;
      RETURN NEW;
    END $$;
    DROP TRIGGER IF EXISTS chaos_hold ON public.${table};
    CREATE TRIGGER chaos_hold BEFORE INSERT ON public.${table}
      FOR EACH ROW EXECUTE FUNCTION public.chaos_hold('${column}');`);
}

/**
 * The scenario's hold on the acquirer: a session of its own holds a lock per held trip, which the
 * trigger installed by TripDriver.install (holdInserts) makes that trip's authorization wait for. The session is a
 * pool of one connection rather than a reserved one: the driver crashes the process on the next
 * query of a reserved connection whose backend died (porsager/postgres#1208), as a Postgres
 * restart does; a pool replaces the connection (the locks went with it).
 */
export class PaymentHold {
  private readonly session: postgres.Sql;

  constructor(databaseUrl: string) {
    this.session = postgres(databaseUrl, { max: 1, onnotice: () => undefined });
  }

  /** Takes the trip's lock (never waiting for it); false if it could not. */
  async take(index: number): Promise<boolean> {
    const [{ taken }] = await this.session<{ taken: boolean }[]>`
      SELECT pg_try_advisory_lock(${HOLD_CLASS}, ${index}) AS taken`.catch(() => [{ taken: false }]);
    return taken;
  }

  async release(index: number): Promise<void> {
    await this.session`SELECT pg_advisory_unlock(${HOLD_CLASS}, ${index})`.catch(() => undefined);
  }

  /** Whether an insert of the trip (its payment's authorization) waits for the trip's lock, in this database. */
  async waiting(index: number): Promise<boolean> {
    const [{ n }] = await this.session<{ n: number }[]>`
      SELECT count(*)::int AS n FROM pg_locks
      WHERE locktype = 'advisory' AND NOT granted AND classid = ${HOLD_CLASS} AND objid = ${index}
        AND objsubid = 2 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`;
    return n > 0;
  }

  async close(): Promise<void> {
    await this.session.end({ timeout: 5 }).catch(() => undefined);
  }
}

/**
 * Waits for trips to wait for their approval, with one query every 100 ms for all of them, rather
 * than one request per trip.
 */
class ApprovalWatcher {
  private readonly waiters = new Map<
    string,
    { resolve: (state: 'waiting' | 'ended' | 'timeout') => void; deadline: number }[]
  >();
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly sql: postgres.Sql) {}

  until(sagaId: string, timeoutMs: number): Promise<'waiting' | 'ended' | 'timeout'> {
    return new Promise((resolve) => {
      this.waiters.set(sagaId, [
        ...(this.waiters.get(sagaId) ?? []),
        { resolve, deadline: Date.now() + timeoutMs },
      ]);
      this.schedule();
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const list of this.waiters.values()) for (const w of list) w.resolve('timeout');
    this.waiters.clear();
  }

  private schedule(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      void this.poll().finally(() => {
        this.timer = undefined;
        if (this.waiters.size > 0) this.schedule();
      });
    }, 100);
  }

  private async poll(): Promise<void> {
    const ids = [...this.waiters.keys()];
    const rows = await this.sql<{ id: string; status: string; wait: string | null }[]>`
      SELECT s.id, s.status, u.status AS wait FROM sagas s
      LEFT JOIN saga_units u ON u.saga_id = s.id AND u.kind = 'step' AND u.name = 'awaitApproval'
      WHERE s.id = ANY(${ids}::uuid[])`.catch(() => undefined);
    const now = Date.now();
    for (const id of ids) {
      const row = rows?.find((r) => r.id === id);
      const state =
        row?.wait === 'waiting'
          ? 'waiting'
          : row && row.status !== 'pending' && row.status !== 'running'
            ? 'ended'
            : undefined;
      const list = this.waiters.get(id) ?? [];
      const left = list.filter((w) => {
        const settled = state ?? (now > w.deadline ? 'timeout' : undefined);
        if (settled) w.resolve(settled);
        return !settled;
      });
      if (left.length > 0) this.waiters.set(id, left);
      else this.waiters.delete(id);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { AppProcess, killAll, type Exit } from './app-process.js';
import { wipeRedisPrefix } from '../../src/saga/testing/redis-keys.js';
import { verifyTrips } from './chaos-trip-checks.js';
import { makeTrip, TripDriver, type PlannedTrip, type TripActions } from './chaos-trips.js';
import type { TestEnvironment } from './test-app.js';

/**
 * The chaos scenario shared by test/integration/chaos.test.ts (a few hundred sagas) and
 * bench/chaos.ts (thousands, plus a Postgres restart): one API process and several worker
 * processes share the environment's database and BullMQ prefix; `order` sagas (the three demo cards
 * mixed) and `trip` sagas (approved, rejected, failing, cancelled, timing out: see chaos-trips.ts)
 * are started through the API, and the trips driven over HTTP, while workers are SIGKILLed or
 * stopped and replaced, the Redis data under the prefix is wiped and (optionally) Postgres
 * restarts. Then Postgres is checked: every saga (children too) has ended, in the status its
 * input and what the scenario did imply; no transition is recorded twice; every child saga exists
 * once and its end reached its parent; and the side effects (payments, e-mails, inventory,
 * bookings, tickets, authorizations, captures) are exactly those of the outcomes.
 */

export const CARD_OK = '4242424242424242';
export const CARD_FLAKY = '4000000000000119';
export const CARD_DECLINED = '4000000000000002';
const CARDS = [CARD_OK, CARD_FLAKY, CARD_DECLINED];
const SEED_UNITS = 1_000_000;
const TERMINAL = ['completed', 'compensated', 'failed'];

export type ChaosAction = 'kill-worker' | 'stop-worker' | 'wipe-redis' | 'restart-postgres';

export interface ChaosOptions {
  /** The database and BullMQ prefix every process shares (createTestEnvironment()). */
  environment: TestEnvironment;
  /** How many `order` sagas to start. */
  sagas: number;
  /** How many `trip` sagas to start beside them, over the same window. @defaultValue 0 */
  trips?: number;
  /** Worker processes alive at once (a killed one is replaced). @defaultValue 2 */
  workers?: number;
  /** Starts are spread evenly over this window; the chaos happens inside it. */
  startOverMs: number;
  /** Requests to the API in flight at once. @defaultValue 16 */
  clientConcurrency?: number;
  workerConcurrency?: number;
  lockDurationMs?: number;
  /** Workers SIGKILLed (and replaced) during the run. */
  workerKills: number;
  /** Workers stopped with SIGTERM (and replaced) during the run, like a rolling deploy: each must exit 0. */
  workerStops?: number;
  redisWipes: number;
  postgresRestarts?: number;
  /** After the last start, how long every saga has to end. */
  settleTimeoutMs: number;
  /** Progress and diagnostics, one line at a time. */
  log?: (line: string) => void;
  /** LOG_LEVEL of the application processes. @defaultValue 'warn' */
  logLevel?: string;
  /**
   * `scan`: SCAN + DEL from the client, as an operator would, so that writes racing the wipe can
   * leave part of a job behind; `atomic`: the same inside one Lua script, like a FLUSHALL of the
   * prefix. @defaultValue 'scan'
   */
  wipe?: 'scan' | 'atomic';
}

export interface SagaCounts {
  started: number;
  completed: number;
  compensated: number;
  failed: number;
}

export interface ChaosReport {
  /** Sagas the scenario started (orders and trips; their child payments are in `payments`). */
  started: number;
  completed: number;
  compensated: number;
  failed: number;
  orders: SagaCounts;
  trips: SagaCounts;
  /** The trips' child `payment` sagas, as stored. */
  payments: SagaCounts;
  /** Started (the API said so) but not in a terminal status at the end, or not stored at all; or any other saga (a child) still active. */
  lost: number;
  /** Transitions recorded more than once, plus sagas stored twice for one order or trip. */
  duplicatedTransitions: number;
  /** Terminal, but not the status (and error, and failed step) the input and the scenario's actions imply (failed counts here too). */
  wrongStatus: number;
  /** Orders and trips whose side effects (payment, e-mail, stock; bookings, tickets, authorizations, captures) are not exactly those of the outcome. */
  wrongSideEffects: number;
  /** Child sagas not exactly once per trip that got to `pay`, with the wrong parent or end, or whose end never reached their parent. */
  wrongChildren: number;
  /** Signals recorded otherwise than the API answered them (twice, or not at all). */
  wrongSignals: number;
  /** What the scenario did to the trips, to show it did what the cases say. */
  tripActions: TripActions;
  /** Processes that exited non-zero on SIGTERM at the end, or died without being killed. */
  uncleanExits: number;
  /** Orders' step and compensation attempts beyond what their cards need: deliveries cut short by the chaos. */
  extraAttempts: number;
  workersKilled: number;
  workersStopped: number;
  redisWipes: number;
  postgresRestarts: number;
  durationMs: number;
  /** Up to a few dozen human-readable details of everything above that is not zero and should be. */
  problems: string[];
}

interface StartedOrder {
  index: number;
  orderId: string;
  card: string;
  items: { sku: string; quantity: number }[];
  id?: string;
}

/** True when the report shows nothing lost, duplicated or wrong. */
export function isClean(report: ChaosReport): boolean {
  return (
    report.lost === 0 &&
    report.duplicatedTransitions === 0 &&
    report.wrongStatus === 0 &&
    report.wrongSideEffects === 0 &&
    report.wrongChildren === 0 &&
    report.wrongSignals === 0 &&
    report.uncleanExits === 0 &&
    report.started > 0
  );
}

export function expectedStatus(card: string): 'completed' | 'compensated' {
  return card === CARD_DECLINED ? 'compensated' : 'completed';
}

/** Deletes every key under `${prefix}:` in one Lua script: nothing can run between the deletions. */
export async function wipeRedisPrefixAtomically(redis: Redis, prefix: string): Promise<number> {
  const script = `
    local cursor, deleted = '0', 0
    repeat
      local page = redis.call('SCAN', cursor, 'MATCH', ARGV[1], 'COUNT', 1000)
      cursor = page[1]
      for _, key in ipairs(page[2]) do deleted = deleted + redis.call('DEL', key) end
    until cursor == '0'
    return deleted`;
  return (await redis.eval(script, 0, `${prefix}:*`)) as number;
}

/** Restarts the local Postgres cluster (affects everything using it: for bench/chaos.ts only). */
export async function restartPostgres(): Promise<void> {
  const [version] = readdirSync('/etc/postgresql');
  await promisify(execFile)('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart']);
}

/**
 * One run of the scenario. `run()` does everything and returns the report; `dispose()` kills every
 * process it started and must be called whatever happened (an `after` hook, a `finally`).
 */
export class ChaosScenario {
  readonly processes: AppProcess[] = [];
  private readonly log: (line: string) => void;
  private api?: AppProcess;
  private readonly workers = new Set<AppProcess>();
  /** Processes this scenario killed on purpose, whose exit is expected. */
  private readonly killed = new Set<AppProcess>();
  private readonly pendingStarts = new Set<Promise<unknown>>();
  private workerCount = 0;
  private counts = { workersKilled: 0, workersStopped: 0, redisWipes: 0, postgresRestarts: 0 };
  private unclean = 0;
  private readonly problems: string[] = [];
  private readonly trips: TripDriver;

  constructor(private readonly options: ChaosOptions) {
    this.log = options.log ?? (() => undefined);
    this.trips = new TripDriver({
      api: () => this.api!.http,
      sql: options.environment.sql,
      databaseUrl: options.environment.databaseUrl,
      timeoutMs: options.settleTimeoutMs,
      log: this.log,
      problem: (line) => this.note(line),
    });
  }

  async dispose(): Promise<void> {
    await this.trips.dispose();
    await Promise.allSettled([...this.pendingStarts]);
    await killAll(this.processes);
  }

  /** The output of every process, for a failure message. */
  describeProcesses(tailChars = 4000): string {
    return this.processes.map((p) => p.describe(tailChars)).join('\n');
  }

  async run(): Promise<ChaosReport> {
    const o = this.options;
    const began = Date.now();
    const workers = o.workers ?? 2;
    this.log(`starting 1 api and ${workers} worker processes`);
    await TripDriver.install(o.environment.sql);
    await Promise.all([
      this.spawn('api').then((p) => (this.api = p)),
      ...Array.from({ length: workers }, () => this.startWorker()),
    ]);

    const orders = Array.from({ length: o.sagas }, (_, index) => makeOrder(index, o.environment.id));
    const trips = Array.from({ length: o.trips ?? 0 }, (_, index) => makeTrip(index, o.environment.id));
    const startedAt = Date.now();
    const chaos = this.runChaos(startedAt);
    const progress = this.watchProgress();
    try {
      await this.startAll(interleave(orders, trips), startedAt);
      const started = orders.filter((x) => x.id).length + trips.filter((x) => x.id).length;
      this.log(`started ${started} sagas in ${Date.now() - startedAt} ms`);
      await chaos;
      await this.trips.settled();
      await Promise.allSettled([...this.pendingStarts]);
      await this.settle();
    } finally {
      progress.stop();
    }
    await this.stopAll();
    const report = await this.verify(orders, trips);
    report.durationMs = Date.now() - began;
    return report;
  }

  // --- processes -------------------------------------------------------------------------------

  private async spawn(role: 'api' | 'worker'): Promise<AppProcess> {
    const o = this.options;
    const p = await AppProcess.start({
      role,
      name: role === 'api' ? 'api' : `worker-${++this.workerCount}`,
      env: {
        ...o.environment.env,
        LOG_LEVEL: o.logLevel ?? 'warn',
        WORKER_CONCURRENCY: String(o.workerConcurrency ?? 20),
        LOCK_DURATION_MS: String(o.lockDurationMs ?? 2000),
      },
      readyTimeoutMs: 60_000,
    });
    this.processes.push(p);
    void p.exited.then((exit) => {
      if (!this.killed.has(p)) this.unexpectedExit(p, exit);
    });
    return p;
  }

  private unexpectedExit(p: AppProcess, exit: Exit): void {
    this.unclean++;
    this.problems.push(`${p.name} (pid ${p.pid}) exited on its own: code ${exit.code} signal ${exit.signal}`);
    this.log(`!! ${p.name} exited on its own: code ${exit.code} signal ${exit.signal}\n${p.describe(2000)}`);
    this.workers.delete(p);
  }

  /** Starts a worker, trying again for a while if it cannot start (Postgres restarting, say). */
  private startWorker(): Promise<AppProcess> {
    const starting = (async () => {
      for (let tries = 1; ; tries++) {
        try {
          const p = await this.spawn('worker');
          this.workers.add(p);
          this.log(`${p.name} (pid ${p.pid}) up`);
          return p;
        } catch (error) {
          if (tries >= 5) throw error;
          this.log(`a worker failed to start (${(error as Error).message.split('\n')[0]}), trying again`);
          await sleep(1000);
        }
      }
    })();
    this.pendingStarts.add(starting);
    void starting.finally(() => this.pendingStarts.delete(starting)).catch(() => undefined);
    return starting;
  }

  private async stopAll(): Promise<void> {
    // A clean SIGTERM of every survivor must exit 0 (DESIGN.md, invariant 7).
    const alive = this.processes.filter((p) => p.running);
    for (const p of alive) this.killed.add(p);
    const exits = await Promise.all(
      alive.map((p) =>
        p.stop('SIGTERM', 30_000).then(
          (exit) => ({ p, exit, error: undefined }),
          (error: Error) => ({ p, exit: undefined, error }),
        ),
      ),
    );
    for (const { p, exit, error } of exits) {
      if (error) {
        this.unclean++;
        this.problems.push(`${p.name}: ${error.message.split('\n')[0]}`);
      } else if (exit!.code !== 0) {
        this.unclean++;
        this.problems.push(`${p.name} exited with code ${exit!.code} signal ${exit!.signal} on SIGTERM`);
        this.log(p.describe(3000));
      }
    }
  }

  // --- load ------------------------------------------------------------------------------------

  /** Starts orders and trips, spread evenly over the window; each trip is then driven in the background. */
  private async startAll(starts: (StartedOrder | PlannedTrip)[], startedAt: number): Promise<void> {
    const o = this.options;
    const spacing = o.startOverMs / Math.max(1, starts.length);
    let next = 0;
    const client = async () => {
      while (next < starts.length) {
        const at = next;
        const start = starts[next++];
        const wait = startedAt + at * spacing - Date.now();
        if (wait > 0) await sleep(wait);
        if ('orderId' in start) await this.startOrder(start);
        else await this.trips.start(start);
      }
    };
    await Promise.all(Array.from({ length: o.clientConcurrency ?? 16 }, client));
  }

  /** POSTs an order with its order id as Idempotency-Key, so retrying after an error cannot start it twice. */
  private async startOrder(order: StartedOrder): Promise<void> {
    const deadline = Date.now() + 60_000;
    let last = '';
    while (Date.now() < deadline) {
      try {
        const response = await this.api!.http.post(
          '/sagas/order',
          {
            orderId: order.orderId,
            customerId: `customer-${order.index % 17}`,
            items: order.items,
            amount: 10 + (order.index % 90),
            card: order.card,
          },
          { 'Idempotency-Key': order.orderId },
        );
        if (response.status === 202 || response.status === 200) {
          order.id = response.body.id;
          return;
        }
        last = `${response.status} ${response.text}`;
        if (response.status < 500) break;
      } catch (error) {
        last = (error as Error).message;
      }
      await sleep(250);
    }
    this.note(`order ${order.orderId} could not be started: ${last}`);
  }

  private note(problem: string): void {
    if (this.problems.length < 60) this.problems.push(problem);
  }

  // --- chaos -----------------------------------------------------------------------------------

  /** The faults, spread evenly over the middle of the start window, kinds interleaved. */
  private schedule(): ChaosAction[] {
    const o = this.options;
    const queues: ChaosAction[][] = [
      Array<ChaosAction>(o.workerKills).fill('kill-worker'),
      Array<ChaosAction>(o.redisWipes).fill('wipe-redis'),
      Array<ChaosAction>(o.workerStops ?? 0).fill('stop-worker'),
    ];
    const actions: ChaosAction[] = [];
    while (queues.some((q) => q.length > 0))
      for (const q of queues) if (q.length > 0) actions.push(q.shift()!);
    // Postgres restarts go in the middle.
    for (let i = 0; i < (o.postgresRestarts ?? 0); i++) {
      actions.splice(
        Math.floor(((i + 1) * actions.length) / ((o.postgresRestarts ?? 0) + 1)),
        0,
        'restart-postgres',
      );
    }
    return actions;
  }

  private async runChaos(startedAt: number): Promise<void> {
    const actions = this.schedule();
    const o = this.options;
    for (const [i, action] of actions.entries()) {
      const at = startedAt + o.startOverMs * (0.1 + (0.8 * (i + 0.5)) / actions.length);
      await sleep(at - Date.now());
      try {
        await this.act(action);
      } catch (error) {
        this.problems.push(`chaos action ${action} failed: ${(error as Error).message.split('\n')[0]}`);
      }
    }
  }

  private async act(action: ChaosAction): Promise<void> {
    const o = this.options;
    const t = Date.now();
    switch (action) {
      case 'kill-worker':
      case 'stop-worker': {
        // Keep at least one worker alive, so that someone finds the killed worker's stalled jobs.
        while (this.workers.size < 2) {
          if (Date.now() - t > 60_000) throw new Error(`only ${this.workers.size} worker up for a minute`);
          await Promise.race([...this.pendingStarts, sleep(1000)]);
        }
        const candidates = [...this.workers];
        const victim = candidates[Math.floor(Math.random() * candidates.length)];
        this.killed.add(victim);
        this.workers.delete(victim);
        // The replacement starts at once, as an orchestrator would start it.
        void this.startWorker().catch((error: Error) =>
          this.problems.push(`replacement worker did not start: ${error.message.split('\n')[0]}`),
        );
        if (action === 'kill-worker') {
          victim.kill('SIGKILL');
          await victim.exited;
          this.counts.workersKilled++;
          this.log(`SIGKILLed ${victim.name} (pid ${victim.pid}); a replacement is starting`);
          return;
        }
        this.log(`SIGTERM to ${victim.name} (pid ${victim.pid}); a replacement is starting`);
        const exit = await victim.stop('SIGTERM', 30_000).catch((error: Error) => {
          this.unclean++;
          this.problems.push(error.message.split('\n')[0]);
          return undefined;
        });
        this.counts.workersStopped++;
        if (exit && exit.code !== 0) {
          this.unclean++;
          this.problems.push(
            `${victim.name} exited with code ${exit.code} signal ${exit.signal} on SIGTERM under load`,
          );
          this.log(victim.describe(3000));
        } else if (exit) {
          this.log(`${victim.name} exited 0 after ${Date.now() - t} ms`);
        }
        return;
      }
      case 'wipe-redis': {
        const wipe = o.wipe === 'atomic' ? wipeRedisPrefixAtomically : wipeRedisPrefix;
        const deleted = await wipe(o.environment.redis, o.environment.queuePrefix);
        this.counts.redisWipes++;
        this.log(`wiped Redis (${o.wipe ?? 'scan'}): ${deleted} keys under ${o.environment.queuePrefix}:`);
        return;
      }
      case 'restart-postgres': {
        this.log('restarting Postgres');
        await restartPostgres();
        this.counts.postgresRestarts++;
        this.log(`Postgres restarted in ${Date.now() - t} ms`);
        return;
      }
    }
  }

  // --- waiting and checking --------------------------------------------------------------------

  private watchProgress(): { stop(): void } {
    const { sql } = this.options.environment;
    const timer = setInterval(() => {
      sql<{ name: string; status: string; count: number }[]>`
        SELECT name, status, count(*)::int AS count FROM sagas GROUP BY name, status ORDER BY name, status`
        .then((rows) =>
          this.log(
            `progress: ${rows.map((r) => `${r.name}:${r.status}=${r.count}`).join(' ') || 'no sagas yet'}`,
          ),
        )
        .catch((error: Error) => this.log(`progress: ${error.message}`));
    }, 2000);
    return { stop: () => clearInterval(timer) };
  }

  /**
   * Waits until no saga of the run (the database is the run's own: children included) is active,
   * or the settle timeout passes (what is left is lost).
   */
  private async settle(): Promise<void> {
    const { sql } = this.options.environment;
    const deadline = Date.now() + this.options.settleTimeoutMs;
    while (Date.now() < deadline) {
      try {
        const [{ open }] = await sql<{ open: number }[]>`
          SELECT count(*)::int AS open FROM sagas WHERE status <> ALL(${TERMINAL}::text[])`;
        if (open === 0) return;
      } catch {
        // Postgres restarting: ask again.
      }
      await sleep(250);
    }
    this.log(`settle timeout (${this.options.settleTimeoutMs} ms) reached with sagas still open`);
  }

  private async verify(orders: StartedOrder[], trips: PlannedTrip[]): Promise<ChaosReport> {
    const { sql, queuePrefix, redis } = this.options.environment;
    const note = (problem: string) => this.note(problem);
    const started = orders.filter((x) => x.id);
    const byId = new Map(started.map((x) => [x.id!, x]));

    const sagas = await sql<{ id: string; status: string; input: { orderId: string } }[]>`
      SELECT id, status, input FROM sagas WHERE name = 'order'`;
    const statusOf = new Map(sagas.map((s) => [s.id, s.status]));
    const counts = (): SagaCounts => ({ started: 0, completed: 0, compensated: 0, failed: 0 });
    const report: ChaosReport = {
      started: 0,
      completed: 0,
      compensated: 0,
      failed: 0,
      orders: { ...counts(), started: started.length },
      trips: counts(),
      payments: counts(),
      lost: 0,
      duplicatedTransitions: 0,
      wrongStatus: 0,
      wrongSideEffects: 0,
      wrongChildren: 0,
      wrongSignals: 0,
      tripActions: this.trips.actions(trips),
      uncleanExits: 0,
      extraAttempts: 0,
      ...this.counts,
      durationMs: 0,
      problems: this.problems,
    };
    report.uncleanExits = this.unclean;
    report.lost += orders.length - started.length + trips.filter((t) => !t.id).length;

    // Statuses.
    const lost: string[] = [];
    for (const order of started) {
      const status = statusOf.get(order.id!);
      if (status === 'completed') report.orders.completed++;
      if (status === 'compensated') report.orders.compensated++;
      if (status === 'failed') report.orders.failed++;
      if (!status || !TERMINAL.includes(status)) {
        report.lost++;
        lost.push(order.id!);
        note(
          `lost: saga ${order.id} (order ${order.orderId}, card ${order.card}) is ${status ?? 'not stored'}`,
        );
      } else if (status !== expectedStatus(order.card)) {
        report.wrongStatus++;
        note(
          `wrong status: saga ${order.id} (card ${order.card}) is ${status}, expected ${expectedStatus(order.card)}`,
        );
      }
    }

    // Trips, their child payments, their signals and their services' rows (chaos-trip-checks.ts).
    const tripCheck = await verifyTrips(sql, trips, report.tripActions, note);
    report.trips = { started: trips.filter((t) => t.id).length, ...tripCheck.trips };
    report.payments = tripCheck.payments;
    report.lost += tripCheck.lost.length;
    lost.push(...tripCheck.lost);
    report.duplicatedTransitions += tripCheck.duplicatedStarts;
    report.wrongStatus += tripCheck.wrongStatus;
    report.wrongSideEffects += tripCheck.wrongSideEffects;
    report.wrongChildren += tripCheck.wrongChildren;
    report.wrongSignals += tripCheck.wrongSignals;
    report.tripActions = tripCheck.actions;
    for (const key of ['started', 'completed', 'compensated', 'failed'] as const)
      report[key] = report.orders[key] + report.trips[key];

    // No saga left active, whoever started it (a child payment, say).
    const counted = new Set([...started.map((x) => x.id!), ...trips.flatMap((t) => (t.id ? [t.id] : []))]);
    const active = await sql<{ id: string; name: string; status: string; parent_id: string | null }[]>`
      SELECT id, name, status, parent_id FROM sagas WHERE status <> ALL(${TERMINAL}::text[])`;
    for (const saga of active.filter((s) => !counted.has(s.id))) {
      report.lost++;
      lost.push(saga.id);
      note(`lost: ${saga.name} saga ${saga.id} (parent ${saga.parent_id ?? 'none'}) is ${saga.status}`);
    }
    await this.explain([...lost.slice(0, 5), ...tripCheck.suspects], note);

    // Attempts of orders: what a card needs without faults (ok: 3 steps; flaky: 2 more charges;
    // declined: reserve, charge, refund, release); anything above was cut short by a kill or a wipe.
    const attempts = await sql<{ saga_id: string; attempts: number }[]>`
      SELECT saga_id, sum(attempts)::int AS attempts FROM saga_units GROUP BY saga_id`;
    const needed: Record<string, number> = { [CARD_OK]: 3, [CARD_FLAKY]: 5, [CARD_DECLINED]: 4 };
    for (const { saga_id, attempts: n } of attempts) {
      const order = byId.get(saga_id);
      if (order && TERMINAL.includes(statusOf.get(saga_id)!))
        report.extraAttempts += Math.max(0, n - needed[order.card]);
    }

    // One saga per order: a second one is a start recorded twice.
    const perOrder = new Map<string, number>();
    for (const s of sagas) perOrder.set(s.input.orderId, (perOrder.get(s.input.orderId) ?? 0) + 1);
    for (const [orderId, count] of perOrder) {
      if (count > 1) {
        report.duplicatedTransitions += count - 1;
        note(`duplicated start: order ${orderId} has ${count} sagas`);
      }
    }
    for (const s of sagas) {
      if (!byId.has(s.id)) note(`unexpected saga ${s.id} (order ${s.input.orderId}) that no start returned`);
    }

    // Transitions recorded twice, in every saga of the run (children too): each of these at most
    // once per step (per attempt for failures).
    const duplicates = await sql<
      { saga_id: string; type: string; step: string | null; attempt: number | null; count: number }[]
    >`
      SELECT saga_id, type, step, attempt, count(*)::int AS count FROM (
        SELECT saga_id, type, step, CASE WHEN type IN ('step_failed', 'compensation_failed') THEN attempt END AS attempt
        FROM saga_events
        WHERE type IN ('saga_started', 'step_completed', 'step_failed', 'step_waiting', 'child_started',
          'compensation_completed', 'compensation_failed', 'saga_compensating', 'saga_completed',
          'saga_compensated', 'saga_failed')
      ) e GROUP BY saga_id, type, step, attempt HAVING count(*) > 1`;
    // One terminal event per saga, but for a completed child that its parent compensated since
    // (invariant 5's one way out of a terminal status).
    const terminalTwice = await sql<{ saga_id: string; types: string }[]>`
      SELECT e.saga_id, string_agg(e.type, ',' ORDER BY e.id) AS types
      FROM saga_events e JOIN sagas s ON s.id = e.saga_id
      WHERE e.type IN ('saga_completed', 'saga_compensated', 'saga_failed')
      GROUP BY e.saga_id, s.parent_id
      HAVING count(*) > 1
        AND NOT (s.parent_id IS NOT NULL AND string_agg(e.type, ',' ORDER BY e.id) = 'saga_completed,saga_compensated')`;
    for (const d of duplicates) {
      report.duplicatedTransitions += d.count - 1;
      note(
        `duplicated transition: saga ${d.saga_id} has ${d.count} × ${d.type}${d.step ? ` of ${d.step}` : ''}${d.attempt ? ` attempt ${d.attempt}` : ''}`,
      );
    }
    for (const d of terminalTwice) {
      if (!duplicates.some((x) => x.saga_id === d.saga_id)) report.duplicatedTransitions++;
      note(`duplicated transition: saga ${d.saga_id} has terminal events ${d.types}`);
    }

    // Side effects, by order.
    const payments = await sql<{ order_id: string; status: string; count: number }[]>`
      SELECT order_id, status, count(*)::int AS count FROM payments GROUP BY order_id, status`;
    const emails = await sql<{ order_id: string; count: number }[]>`
      SELECT order_id, count(*)::int AS count FROM sent_emails GROUP BY order_id`;
    const reservations = await sql<{ key: string; released: boolean }[]>`
      SELECT key, released_at IS NOT NULL AS released FROM inventory_reservations`;
    const charged = new Map<string, number>();
    const paymentRows = new Map<string, number>();
    for (const p of payments) {
      paymentRows.set(p.order_id, (paymentRows.get(p.order_id) ?? 0) + p.count);
      if (p.status === 'charged') charged.set(p.order_id, p.count);
    }
    const emailCount = new Map(emails.map((e) => [e.order_id, e.count]));
    const released = new Map(reservations.map((r) => [r.key, r.released]));
    const taken = new Map<string, number>();
    for (const order of started) {
      const status = statusOf.get(order.id!);
      const wrong: string[] = [];
      const reservation = released.get(`${order.id}:reserveInventory`);
      if (status === 'completed') {
        if (paymentRows.get(order.orderId) !== 1 || charged.get(order.orderId) !== 1) {
          wrong.push(
            `${paymentRows.get(order.orderId) ?? 0} payment rows, ${charged.get(order.orderId) ?? 0} charged`,
          );
        }
        if (emailCount.get(order.orderId) !== 1) wrong.push(`${emailCount.get(order.orderId) ?? 0} e-mails`);
        if (reservation !== false)
          wrong.push(`reservation ${reservation === undefined ? 'missing' : 'released'}`);
        for (const item of order.items) taken.set(item.sku, (taken.get(item.sku) ?? 0) + item.quantity);
      } else if (status === 'compensated') {
        if (charged.has(order.orderId)) wrong.push(`${charged.get(order.orderId)} payment still charged`);
        if (emailCount.has(order.orderId)) wrong.push(`${emailCount.get(order.orderId)} e-mails`);
        if (reservation === false) wrong.push('reservation not released');
      } else {
        continue; // lost or failed: counted above
      }
      if (wrong.length > 0) {
        report.wrongSideEffects++;
        note(
          `side effects of ${status} saga ${order.id} (order ${order.orderId}, card ${order.card}): ${wrong.join(', ')}`,
        );
      }
    }
    // Stock: every SKU used holds the seed minus what completed orders took (compensated ones gave it back).
    const skus = [...new Set(started.flatMap((x) => x.items.map((i) => i.sku)))];
    const stock = await sql<{ sku: string; available: number }[]>`
      SELECT sku, available FROM inventory WHERE sku = ANY(${skus}::text[])`;
    for (const { sku, available } of stock) {
      const expected = SEED_UNITS - (taken.get(sku) ?? 0);
      if (available !== expected) {
        report.wrongSideEffects++;
        note(
          `stock of ${sku} is ${available}, expected ${expected} (${SEED_UNITS} - ${taken.get(sku) ?? 0} taken by completed orders)`,
        );
      }
    }

    // What Redis still holds is not a result, but it helps reading a report with lost sagas.
    if (report.lost > 0) {
      const keys = await redis.keys(`${queuePrefix}:saga-units:*`).catch(() => [] as string[]);
      note(`redis holds ${keys.length} keys under ${queuePrefix}:saga-units: at the end`);
    }
    return report;
  }

  /** For a few lost or wrong sagas: the row, the units, the events and the due unit's job, into the problems. */
  private async explain(ids: string[], note: (line: string) => void): Promise<void> {
    const { sql } = this.options.environment;
    for (const id of ids) {
      const [row] = await sql`SELECT name, status, seq, parent_id, updated_at FROM sagas WHERE id = ${id}`;
      const units = await sql`
        SELECT key, name, status, seq, attempts, due_at FROM saga_units WHERE saga_id = ${id}
        ORDER BY step_index, kind DESC`;
      const events = await sql`
        SELECT type, step, attempt, at FROM saga_events WHERE saga_id = ${id} ORDER BY id`;
      const history = events
        .map(
          (e) =>
            `${e.type}${e.step ? `(${e.step}${e.attempt ? `#${e.attempt}` : ''})` : ''}@${new Date(e.at).toISOString().slice(11, 23)}`,
        )
        .join(' ');
      // The job of the unit that is due, if any.
      const due = units.find((u) => u.due_at !== null);
      const job = due ? `\n    ${await this.describeJob(`${id}-${due.key}-${due.seq}`)}` : '';
      note(
        `  saga ${id}: ${JSON.stringify(row)}\n    units ${JSON.stringify(units)}\n    events ${history}${job}`,
      );
    }
  }

  /** Where BullMQ holds a unit's job, if anywhere. */
  private async describeJob(jobId: string): Promise<string> {
    const { redis, queuePrefix } = this.options.environment;
    const queue = `${queuePrefix}:saga-units`;
    const jobKey = `${queue}:${jobId}`;
    const job = await redis.hgetall(jobKey).catch(() => ({}));
    const where = await Promise.all([
      redis.lpos(`${queue}:wait`, jobId).then((x) => (x === null ? '' : 'wait')),
      redis.lpos(`${queue}:active`, jobId).then((x) => (x === null ? '' : 'active')),
      redis.zscore(`${queue}:delayed`, jobId).then((x) => (x === null ? '' : 'delayed')),
      redis.zscore(`${queue}:prioritized`, jobId).then((x) => (x === null ? '' : 'prioritized')),
    ]).catch(() => ['?']);
    const lists = where.filter(Boolean).join(',') || 'no list';
    return `job ${jobKey} (in ${lists}): ${Object.keys(job).length ? JSON.stringify(job).slice(0, 200) : 'no hash'}`;
  }
}

function makeOrder(index: number, runId: string): StartedOrder {
  const lines = 1 + (index % 3);
  const items = Array.from({ length: lines }, (_, line) => ({
    sku: `sku-${1 + ((index * 7 + line * 31) % 100)}`,
    quantity: 1 + ((index + line) % 3),
  }));
  return { index, orderId: `chaos-${runId}-${index}`, card: CARDS[index % CARDS.length], items };
}

/** Both lists in one, each spread evenly over it (so trips start all along the window, between orders). */
function interleave<A, B>(a: A[], b: B[]): (A | B)[] {
  const at = (i: number, n: number) => (i + 0.5) / n;
  const merged: { at: number; item: A | B }[] = [
    ...a.map((item, i) => ({ at: at(i, a.length), item })),
    ...b.map((item, i) => ({ at: at(i, b.length), item })),
  ];
  return merged.sort((x, y) => x.at - y.at).map((x) => x.item);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

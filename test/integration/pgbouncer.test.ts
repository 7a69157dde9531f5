import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { dropDatabase } from '../../src/saga/store/database-lifecycle.js';
import { AppProcess, killAll } from '../support/app-process.js';
import { ChaosScenario, isClean, type ChaosReport } from '../support/chaos-scenario.js';
import { expectedTripStatuses } from '../support/chaos-trips.js';
import { PgBouncer } from '../support/pgbouncer.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-app.js';
import { runSagasToTheirEnds } from '../support/topology-sagas.js';

/**
 * Issue 13: with DATABASE_POOLING=transaction, every process reaches Postgres through a PgBouncer
 * in transaction mode, which hands each transaction whichever server connection is free (four
 * here, for all the processes' pools): no statement prepared on one connection, no setting made on
 * it and no session lock may be counted on by the next transaction.
 */
describe('PgBouncer in transaction mode (DATABASE_POOLING=transaction)', () => {
  let t: TestEnvironment;
  let bouncer: PgBouncer;
  let env: Record<string, string>;
  const processes: AppProcess[] = [];

  before(async () => {
    t = await createTestEnvironment();
    bouncer = await PgBouncer.start({ poolSize: 4 });
    env = { ...t.env, DATABASE_URL: bouncer.urlFor(t.databaseUrl), DATABASE_POOLING: 'transaction' };
  });

  after(async () => {
    await killAll(processes);
    await bouncer?.stop();
    await t?.destroy();
  });

  async function start(role: 'api' | 'worker', extra: Record<string, string> = {}): Promise<AppProcess> {
    const p = await AppProcess.start({ role, env: { ...env, ...extra } });
    processes.push(p);
    return p;
  }

  it('processes starting together create and migrate a new database through it', async () => {
    const fresh = new URL(t.databaseUrl);
    fresh.pathname = `${fresh.pathname}_fresh`;
    try {
      const url = bouncer.urlFor(fresh.toString());
      const [a, b] = await Promise.all([
        start('worker', { DATABASE_URL: url }),
        start('worker', { DATABASE_URL: url }),
      ]);
      const direct = postgres(fresh.toString(), { max: 1, onnotice: () => undefined });
      try {
        const [engine] = await direct`SELECT count(*)::int AS n FROM saga.__drizzle_migrations`;
        const [app] = await direct`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`;
        assert.ok(engine.n > 0 && app.n > 0, 'both sets of migrations are recorded');
        // Each applied once, though both processes migrated at once.
        const [dupes] = await direct`
          SELECT (SELECT count(*) - count(DISTINCT hash) FROM saga.__drizzle_migrations)
               + (SELECT count(*) - count(DISTINCT hash) FROM drizzle.__drizzle_migrations) AS n`;
        assert.equal(Number(dupes.n), 0);
      } finally {
        await direct.end();
      }
      await Promise.all([a.stop(), b.stop()]);
    } finally {
      await dropDatabase(fresh.toString());
    }
  });

  it('an API and two worker processes run linear, parallel, signalled and child sagas to their ends', async () => {
    const api = await start('api');
    await start('worker');
    await start('worker');
    await runSagasToTheirEnds(api.http);
  });
});

/** The chaos scenario (killed workers, a worker stopped, wiped Redis), shorter, through PgBouncer. */
describe('chaos through PgBouncer in transaction mode', () => {
  const ORDERS = 90;
  const TRIPS = 40;
  let t: TestEnvironment;
  let bouncer: PgBouncer;
  let scenario: ChaosScenario;
  const log: string[] = [];

  before(async () => {
    t = await createTestEnvironment();
    bouncer = await PgBouncer.start({ poolSize: 8 });
    scenario = new ChaosScenario({
      // The processes go through PgBouncer; the scenario's own checks read Postgres directly.
      environment: {
        ...t,
        env: { ...t.env, DATABASE_URL: bouncer.urlFor(t.databaseUrl), DATABASE_POOLING: 'transaction' },
      },
      sagas: ORDERS,
      trips: TRIPS,
      workers: 2,
      startOverMs: 5_000,
      workerConcurrency: 20,
      lockDurationMs: 2000,
      workerKills: 2,
      workerStops: 1,
      redisWipes: 1,
      settleTimeoutMs: 60_000,
      log: (line) => log.push(`${new Date().toISOString().slice(11, 23)} ${line}`),
    });
  });

  after(async () => {
    await scenario?.dispose();
    await bouncer?.stop();
    await t?.destroy();
  });

  it('ends every order and trip as its input and the scenario imply, each transition and side effect once', async () => {
    let report: ChaosReport | undefined;
    try {
      report = await scenario.run();
      assert.ok(isClean(report), 'the run lost, duplicated or got something wrong');
      // Every third order has the declined card.
      assert.deepEqual(report.orders, { started: ORDERS, completed: 60, compensated: 30, failed: 0 });
      assert.deepEqual(report.trips, { started: TRIPS, ...expectedTripStatuses(TRIPS), failed: 0 });
      assert.equal(report.workersKilled, 2);
      assert.equal(report.workersStopped, 1);
      assert.equal(report.redisWipes, 1);
    } catch (error) {
      console.error(log.join('\n'));
      if (report) console.error(JSON.stringify(report, null, 2));
      console.error(scenario.describeProcesses());
      console.error(bouncer.logs);
      throw error;
    }
  });
});

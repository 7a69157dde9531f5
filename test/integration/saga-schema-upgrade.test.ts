import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { createDatabaseIfMissing } from '../../src/saga/store/database-lifecycle.js';
import { migrateSagaSchema } from '../../src/saga/index.js';
import { uuidV7 } from '../../src/saga/store/uuid-v7.js';
import { AppProcess } from '../support/app-process.js';
import { eventsOf, orderInput, waitForSaga } from '../support/sagas.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-app.js';

/** The engine's migration journal, as the package ships it. */
const ENGINE_MIGRATIONS = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../../drizzle/saga/meta/_journal.json', import.meta.url)), 'utf8'),
) as { entries: unknown[] };

/** drizzle/ as it was at commit 47a4015: the engine's tables and the order saga's, all in public. */
const MIGRATIONS_AT_47A4015 = fileURLToPath(
  new URL('../../../test/support/fixtures/drizzle-47a4015', import.meta.url),
);

/** What `npm start` did to a database before the engine had a schema of its own. */
async function migrateAsAt47a4015(databaseUrl: string): Promise<void> {
  await createDatabaseIfMissing(databaseUrl);
  const client = postgres(databaseUrl, { max: 1, onnotice: () => undefined });
  try {
    await migrate(drizzle({ client }), { migrationsFolder: MIGRATIONS_AT_47A4015 });
  } finally {
    await client.end();
  }
}

const STEPS = ['reserveInventory', 'chargePayment', 'sendConfirmation'];

/**
 * Three order sagas as the old engine left them when its process stopped: one finished, one whose
 * start was accepted but never claimed, and one in flight (reserveInventory done, the attempt at
 * chargePayment claimed by the commit that recorded it, its worker gone).
 */
async function recordSagasTheOldWay(
  sql: postgres.Sql,
): Promise<{ done: string; pending: string; inFlight: string }> {
  const ago = (seconds: number) => new Date(Date.now() - seconds * 1000);
  const [done, pending, inFlight] = [uuidV7(Date.now() - 60_000), uuidV7(Date.now() - 50_000), uuidV7()];
  const reservation = {
    reservationId: `${inFlight}:reserveInventory`,
    items: [{ sku: 'sku-1', quantity: 2 }],
  };
  await sql.begin(async (tx) => {
    await tx`
      INSERT INTO public.sagas (id, name, version, status, input, output, seq, phase, step_index, due_at,
        running_since, created_at, updated_at, completed_at)
      VALUES
        (${done}, 'order', 1, 'completed', ${tx.json(orderInput())}, ${tx.json({ sendConfirmation: { recipient: 'c@x' } })},
          4, 'step', 2, NULL, NULL, ${ago(60)}, ${ago(59)}, ${ago(59)}),
        (${pending}, 'order', 1, 'pending', ${tx.json(orderInput())}, NULL, 1, 'step', 0, ${ago(50)}, NULL,
          ${ago(50)}, ${ago(50)}, NULL),
        (${inFlight}, 'order', 1, 'running', ${tx.json(orderInput())}, NULL, 2, 'step', 1, ${ago(30)}, ${ago(30)},
          ${ago(31)}, ${ago(30)}, NULL)`;
    for (const [index, name] of STEPS.entries()) {
      await tx`
        INSERT INTO public.saga_steps (saga_id, step_index, name, status, attempts, started_at, finished_at, output)
        VALUES
          (${done}, ${index}, ${name}, 'completed', 1, ${ago(60)}, ${ago(59)}, ${tx.json({ step: name })}),
          (${pending}, ${index}, ${name}, 'pending', 0, NULL, NULL, NULL)`;
    }
    await tx`
      INSERT INTO public.saga_steps (saga_id, step_index, name, status, attempts, started_at, finished_at, output)
      VALUES
        (${inFlight}, 0, 'reserveInventory', 'completed', 1, ${ago(31)}, ${ago(30)}, ${tx.json(reservation)}),
        (${inFlight}, 1, 'chargePayment', 'running', 1, ${ago(30)}, NULL, NULL),
        (${inFlight}, 2, 'sendConfirmation', 'pending', 0, NULL, NULL, NULL)`;
    await tx`
      INSERT INTO public.saga_events (saga_id, type, step, attempt, at)
      VALUES
        (${done}, 'saga_started', NULL, NULL, ${ago(60)}),
        (${done}, 'saga_completed', NULL, NULL, ${ago(59)}),
        (${pending}, 'saga_started', NULL, NULL, ${ago(50)}),
        (${inFlight}, 'saga_started', NULL, NULL, ${ago(31)}),
        (${inFlight}, 'step_started', 'reserveInventory', 1, ${ago(31)}),
        (${inFlight}, 'step_completed', 'reserveInventory', 1, ${ago(30)}),
        (${inFlight}, 'step_started', 'chargePayment', 1, ${ago(30)})`;
  });
  return { done, pending, inFlight };
}

/** Columns, constraints, indexes and storage options of every table in `schema`, comparable across databases. */
async function describeSchema(sql: postgres.Sql, schema: string): Promise<unknown> {
  const [{ tables }] = await sql<{ tables: unknown }[]>`
    SELECT json_object_agg(c.relname, json_build_object(
      'options', c.reloptions,
      'columns', (SELECT json_agg(json_build_array(a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
          pg_get_expr(d.adbin, d.adrelid)) ORDER BY a.attnum)
        FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
      'constraints', (SELECT json_agg(json_build_array(k.conname, pg_get_constraintdef(k.oid)) ORDER BY k.conname)
        FROM pg_constraint k WHERE k.conrelid = c.oid),
      'indexes', (SELECT json_agg(pg_get_indexdef(i.indexrelid) ORDER BY i.indexrelid::regclass::text)
        FROM pg_index i WHERE i.indrelid = c.oid)
    ) ORDER BY c.relname) AS tables
    FROM pg_class c WHERE c.relnamespace = ${schema}::regnamespace AND c.relkind = 'r'`;
  return tables;
}

describe('a database from before the engine had a schema of its own', () => {
  let t: TestEnvironment | undefined;
  let fresh: TestEnvironment | undefined;
  let app: AppProcess | undefined;
  after(async () => {
    await app?.stop('SIGKILL');
    await t?.destroy();
    await fresh?.destroy();
  });

  it('moves the engine tables into schema saga with their rows, and the sagas in flight finish', async () => {
    t = await createTestEnvironment({ prepare: migrateAsAt47a4015 });
    const { done, pending, inFlight } = await recordSagasTheOldWay(t.sql);

    // The new application, as `npm start` runs it: the application's migrations, then the engine's.
    try {
      app = await AppProcess.start({ env: t.env });
      for (const id of [pending, inFlight]) {
        assert.equal(
          (await waitForSaga(app.http, id, ['completed', 'compensated', 'failed'])).status,
          'completed',
        );
      }
    } catch (error) {
      if (app) console.error(app.describe());
      throw error;
    }

    const tables = await t.sql<{ schema: string; table: string }[]>`
      SELECT table_schema AS schema, table_name AS table FROM information_schema.tables
      WHERE table_name IN ('sagas', 'saga_steps', 'saga_units', 'saga_events') ORDER BY 1, 2`;
    assert.deepEqual(
      tables.map((r) => `${r.schema}.${r.table}`),
      ['saga.saga_events', 'saga.saga_units', 'saga.sagas'],
    );

    // The saga in flight went on from where it was: its finished step was not run again, and the
    // attempt its dead worker had claimed was the one that ran.
    const finished = await waitForSaga(app.http, inFlight);
    assert.deepEqual(
      finished.steps!.map((s) => [s.name, s.status, s.attempts]),
      STEPS.map((name) => [name, 'completed', 1]),
    );
    assert.deepEqual(
      (await eventsOf(app.http, inFlight)).map((e) => `${e.type}${e.step ? `:${e.step}` : ''}`),
      [
        'saga_started',
        'step_started:reserveInventory',
        'step_completed:reserveInventory',
        'step_started:chargePayment',
        'step_completed:chargePayment',
        'step_started:sendConfirmation',
        'step_completed:sendConfirmation',
        'saga_completed',
      ],
    );
    // History is kept: the saga that had finished reads as before.
    const old = await waitForSaga(app.http, done);
    assert.deepEqual(old.output, { sendConfirmation: { recipient: 'c@x' } });
    assert.deepEqual(
      (await eventsOf(app.http, done)).map((e) => e.type),
      ['saga_started', 'saga_completed'],
    );

    // Each set of migrations has its ledger: the application's where drizzle keeps it, the engine's in its schema.
    const [ledgers] = await t.sql<{ app: number; engine: number }[]>`
      SELECT (SELECT count(*)::int FROM drizzle.__drizzle_migrations) AS app,
             (SELECT count(*)::int FROM saga.__drizzle_migrations) AS engine`;
    // The application's: 47a4015's four, then drizzle/'s (the order saga's tables; the trip and payment
    // sagas'). The engine's: every one it ships.
    assert.deepEqual(ledgers, { app: 4 + 3, engine: ENGINE_MIGRATIONS.entries.length });

    // The moved tables are what a new database gets, so the engine's next migrations fit both.
    fresh = await createTestEnvironment();
    await migrateSagaSchema({ databaseUrl: fresh.databaseUrl });
    const upgraded = await describeSchema(t.sql, 'saga');
    assert.deepEqual(Object.keys(upgraded as object), [
      '__drizzle_migrations',
      'saga_events',
      'saga_key_holders',
      'saga_schedules',
      'saga_signals',
      'saga_units',
      'sagas',
    ]);
    assert.deepEqual(upgraded, await describeSchema(fresh.sql, 'saga'));
  });
});

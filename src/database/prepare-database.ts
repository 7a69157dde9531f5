import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { createDatabaseIfMissing } from '../saga/store/database-lifecycle.js';

const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../../drizzle', import.meta.url));

/**
 * Creates the database if it is missing and applies the application's migrations in `drizzle/`
 * (the example sagas' tables; the engine migrates its own schema, `SagaModule`'s `migrate`).
 * Several processes may start at once, so migrations run under an advisory lock on a
 * one-connection client.
 */
export async function prepareDatabase(databaseUrl: string): Promise<void> {
  await createDatabaseIfMissing(databaseUrl);
  const client = postgres(databaseUrl, { max: 1, onnotice: () => undefined });
  try {
    await client`SELECT pg_advisory_lock(hashtext('nest-saga:migrations'))`;
    await migrate(drizzle({ client }), { migrationsFolder: MIGRATIONS_FOLDER });
  } finally {
    await client.end();
  }
}

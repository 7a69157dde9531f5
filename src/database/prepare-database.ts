import { fileURLToPath } from 'node:url';
import { applyMigrations } from '../saga/store/apply-migrations.js';
import { createDatabaseIfMissing } from '../saga/store/database-lifecycle.js';

const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../../drizzle', import.meta.url));

/**
 * Creates the database if it is missing and applies the application's migrations in `drizzle/`
 * (the example sagas' tables; the engine migrates its own schema, `SagaModule`'s `migrate`).
 */
export async function prepareDatabase(databaseUrl: string): Promise<void> {
  await createDatabaseIfMissing(databaseUrl);
  await applyMigrations(databaseUrl, {
    folder: MIGRATIONS_FOLDER,
    ledgerSchema: 'drizzle',
    lockName: 'nest-saga:migrations',
  });
}

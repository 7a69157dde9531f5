import { fileURLToPath } from 'node:url';
import { applyMigrations } from './apply-migrations.js';
import { resolveSagaSchemaName } from './saga-schema-name.js';

/** drizzle/saga, from dist/src/saga/store in this repository and in the installed package alike. */
const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../../../drizzle/saga', import.meta.url));

/**
 * Applies the engine's migrations to its schema (`saga` unless `schema` names another), creating
 * the schema if it is missing; `SagaModule.forRoot({ migrate: true })` calls it at start. The
 * database must exist. Several processes may start at once, and through PgBouncer too: see
 * applyMigrations.
 */
export async function migrateSagaSchema(options: { databaseUrl: string; schema?: string }): Promise<void> {
  const schema = resolveSagaSchemaName(options.schema);
  await applyMigrations(options.databaseUrl, {
    folder: MIGRATIONS_FOLDER,
    // A ledger of their own, in the engine's schema: the application's migrations keep drizzle's
    // default one (drizzle.__drizzle_migrations), and each set is applied after its own last entry.
    ledgerSchema: schema,
    // The migrations name no schema (one set of files serves any schema name).
    searchPath: schema,
    lockName: 'nest-saga:saga-schema-migrations',
  });
}

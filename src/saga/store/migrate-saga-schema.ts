import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { resolveSagaSchemaName } from './saga-schema-name.js';

/** drizzle/saga, from dist/src/saga/store in this repository and in the installed package alike. */
const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../../../drizzle/saga', import.meta.url));

/**
 * Applies the engine's migrations to its schema (`saga` unless `schema` names another), creating
 * the schema if it is missing; `SagaModule.forRoot({ migrate: true })` calls it at start. The
 * database must exist. Several processes may start at once, so migrations run under an advisory
 * lock, on a one-connection client of their own.
 */
export async function migrateSagaSchema(options: { databaseUrl: string; schema?: string }): Promise<void> {
  const schema = resolveSagaSchemaName(options.schema);
  // The migrations name no schema (one set of files serves any schema name): they act in the
  // first schema of this search_path, which the migrator creates for its ledger before them.
  const client = postgres(options.databaseUrl, {
    max: 1,
    onnotice: () => undefined,
    connection: { search_path: schema },
  });
  try {
    await client`SELECT pg_advisory_lock(hashtext('nest-saga:saga-schema-migrations'))`;
    // A ledger of their own, in the engine's schema: the application's migrations keep drizzle's
    // default one (drizzle.__drizzle_migrations), and each set is applied after its own last entry.
    await migrate(drizzle({ client }), {
      migrationsFolder: MIGRATIONS_FOLDER,
      migrationsSchema: schema,
      migrationsTable: '__drizzle_migrations',
    });
  } finally {
    await client.end();
  }
}

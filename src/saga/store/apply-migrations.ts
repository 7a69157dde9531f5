import { readMigrationFiles } from 'drizzle-orm/migrator';
import postgres from 'postgres';

export interface MigrationSet {
  /** A drizzle-kit migrations folder (its SQL files and meta/_journal.json). */
  folder: string;
  /** Schema of the set's ledger, `__drizzle_migrations` (drizzle's table, so drizzle-kit reads it too). */
  ledgerSchema: string;
  /** When set, the migrations run with this search_path, so that their unqualified names land there. */
  searchPath?: string;
  /** Names the advisory lock that serialises processes applying this set at once. */
  lockName: string;
}

/**
 * Applies the migrations of `set` that its ledger lacks, as drizzle's migrator would, but all in one
 * transaction that first takes a transaction-scoped advisory lock. A session lock would not hold
 * through a transaction pooler (PgBouncer gives each transaction any server connection, and the lock
 * would stay with one the client no longer has); a transaction lock and the statements it guards
 * always share a connection, and it is released with the commit, whoever the pooler hands it to next.
 */
export async function applyMigrations(databaseUrl: string, set: MigrationSet): Promise<void> {
  const migrations = readMigrationFiles({ migrationsFolder: set.folder });
  // Unnamed statements: a one-off client has no use for prepared ones, and a pooler none for any.
  const client = postgres(databaseUrl, { max: 1, prepare: false, onnotice: () => undefined });
  const ledger = client(`${set.ledgerSchema}.__drizzle_migrations`);
  try {
    await client.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(hashtext(${set.lockName}))`;
      await tx`CREATE SCHEMA IF NOT EXISTS ${tx(set.ledgerSchema)}`;
      if (set.searchPath) await tx`SELECT set_config('search_path', ${set.searchPath}, true)`;
      await tx`CREATE TABLE IF NOT EXISTS ${ledger} (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)`;
      const [last] = await tx<{ created_at: string }[]>`
        SELECT created_at FROM ${ledger} ORDER BY created_at DESC LIMIT 1`;
      for (const migration of migrations) {
        if (last && Number(last.created_at) >= migration.folderMillis) continue;
        for (const statement of migration.sql) await tx.unsafe(statement);
        await tx`INSERT INTO ${ledger} (hash, created_at) VALUES (${migration.hash}, ${migration.folderMillis})`;
      }
    });
  } finally {
    await client.end();
  }
}

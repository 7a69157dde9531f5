import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { createDatabaseIfMissing, dropDatabase } from '../store/database-lifecycle.js';
import { migrateSagaSchema } from '../store/migrate-saga-schema.js';
import { deleteRedisKeys } from './redis-keys.js';

const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/sagas';
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
/** The application's migrations keep a ledger apart from the engine's, so the two never mix. */
const APP_MIGRATIONS_TABLE = '__app_migrations';

export interface SagaTestEnvironmentOptions {
  /** A Postgres URL whose server hosts the test database (its database name is replaced). @defaultValue DATABASE_URL, or postgres://postgres@127.0.0.1:5432/sagas */
  databaseUrl?: string;
  /** @defaultValue REDIS_URL, or redis://127.0.0.1:6379 */
  redisUrl?: string;
  /** A folder of drizzle migrations of the application's own tables, applied after the engine's. @defaultValue none */
  migrationsFolder?: string;
  /** Runs once the database is migrated: anything else the application needs (tables, seed data). */
  prepare?: (database: { databaseUrl: string; sql: postgres.Sql }) => unknown;
  /**
   * Applies the engine's migrations to its schema before the rest. Off, the database is created
   * empty and left to `prepare` (to build an older layout, say). @defaultValue true
   */
  migrateEngine?: boolean;
}

/** A database and a BullMQ prefix of their own, so that test runs and files never collide. */
export interface SagaTestEnvironment {
  /** The random part of both names. */
  id: string;
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  /** Drops the database and deletes every Redis key under the prefix. */
  destroy(): Promise<void>;
}

/** Creates a database with a random name, migrated for the engine (and the application), and a random BullMQ prefix. */
export async function createSagaTestEnvironment(
  options: SagaTestEnvironmentOptions = {},
): Promise<SagaTestEnvironment> {
  const id = `${process.pid}_${randomBytes(4).toString('hex')}`;
  const url = new URL(options.databaseUrl || process.env.DATABASE_URL || DEFAULT_DATABASE_URL);
  url.pathname = `/saga_test_${id}`;
  const databaseUrl = url.toString();
  const redisUrl = options.redisUrl || process.env.REDIS_URL || DEFAULT_REDIS_URL;
  const queuePrefix = `saga-test-${id}`;
  const destroy = async () => {
    await deleteRedisKeys(redisUrl, queuePrefix);
    await dropDatabase(databaseUrl);
  };
  try {
    await createDatabaseIfMissing(databaseUrl);
    if (options.migrateEngine !== false) await migrateSagaSchema({ databaseUrl });
    if (options.migrationsFolder || options.prepare) await prepareApplication(databaseUrl, options);
  } catch (error) {
    await dropDatabase(databaseUrl).catch(() => undefined);
    throw error;
  }
  return { id, databaseUrl, redisUrl, queuePrefix, destroy };
}

async function prepareApplication(databaseUrl: string, options: SagaTestEnvironmentOptions): Promise<void> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => undefined });
  try {
    if (options.migrationsFolder) {
      await migrate(drizzle({ client: sql }), {
        migrationsFolder: options.migrationsFolder,
        migrationsTable: APP_MIGRATIONS_TABLE,
      });
    }
    await options.prepare?.({ databaseUrl, sql });
  } finally {
    await sql.end();
  }
}

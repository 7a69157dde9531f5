import postgres from 'postgres';
import { randomBytes } from 'node:crypto';
import { prepareDatabase } from '../../src/database/prepare-database.js';
import { dropDatabase } from '../../src/saga/store/database-lifecycle.js';
import { deleteRedisKeys } from '../../src/saga/testing/redis-keys.js';
import { cleanUpOnInterrupt, once } from './cleanup.js';

const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/sagas';

/** Redis the demo and the bench use, from REDIS_URL like the app. */
export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

/** A database and a BullMQ prefix of their own, so a run never touches anybody else's data. */
export interface IsolatedEnvironment {
  databaseName: string;
  databaseUrl: string;
  queuePrefix: string;
  redisUrl: string;
  /** Drops the database and deletes every Redis key under the prefix. */
  destroy(): Promise<void>;
}

/** A short random suffix, so that concurrent runs get different names. */
export function uniqueSuffix(): string {
  return `${process.pid}_${randomBytes(3).toString('hex')}`;
}

/** The server of DATABASE_URL (or the app's default) with another database name. */
export function databaseUrlFor(databaseName: string): string {
  const url = new URL(process.env.DATABASE_URL || DEFAULT_DATABASE_URL);
  url.pathname = `/${encodeURIComponent(databaseName)}`;
  return url.toString();
}

/**
 * Creates the database fresh (dropping what an earlier run with the same name left behind, which
 * the demo's fixed names make possible), migrates it, and empties the BullMQ prefix.
 */
export async function createIsolatedEnvironment(
  names: { databaseName: string; queuePrefix: string },
  { keepOnInterrupt = false } = {},
): Promise<IsolatedEnvironment> {
  const databaseUrl = databaseUrlFor(names.databaseName);
  await dropDatabase(databaseUrl);
  await deleteRedisKeys(REDIS_URL, names.queuePrefix);
  const destroy = once(async () => {
    await deleteRedisKeys(REDIS_URL, names.queuePrefix);
    await withRetries(() => dropDatabase(databaseUrl));
  });
  const unregister = keepOnInterrupt ? () => undefined : cleanUpOnInterrupt(destroy);
  await prepareDatabase(databaseUrl);
  return {
    ...names,
    databaseUrl,
    redisUrl: REDIS_URL,
    async destroy() {
      unregister();
      await destroy();
    },
  };
}

export { deleteRedisKeys };

/** ALTER DATABASE … SET: the default of every session opened on the database afterwards. */
export async function setDatabaseOption(databaseName: string, name: string, value: string): Promise<void> {
  const admin = postgres(databaseUrlFor('postgres'), { max: 1, onnotice: () => undefined });
  try {
    await admin.unsafe(
      `ALTER DATABASE "${databaseName.replace(/"/g, '""')}" SET ${name} = '${value.replace(/'/g, "''")}'`,
    );
  } finally {
    await admin.end();
  }
}

/** Postgres may be restarting (other people's chaos tests share it): cleaning up waits for it a while. */
async function withRetries<T>(action: () => Promise<T>, attempts = 15, delayMs = 1000): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await action();
    } catch (error) {
      if (attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

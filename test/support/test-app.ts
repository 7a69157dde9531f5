import 'reflect-metadata';
import type { DynamicModule, INestApplication, Type } from '@nestjs/common';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { AppModule } from '../../src/app.module.js';
import { createApp } from '../../src/bootstrap.js';
import { loadConfig, type AppConfig } from '../../src/config/app-config.js';
import { prepareDatabase } from '../../src/database/prepare-database.js';
import { DEFAULT_SAGA_SCHEMA } from '../../src/saga/store/schema.js';
import { createSagaTestEnvironment } from '../../src/saga/testing/test-environment.js';
import { HttpClient } from './http-client.js';

/** A database name and BullMQ prefix of their own, so that test runs and files never collide. */
export interface TestEnvironment {
  id: string;
  env: Record<string, string>;
  databaseUrl: string;
  queuePrefix: string;
  /** A client on the test's database, for asserting what is stored. */
  sql: postgres.Sql;
  redis: Redis;
  /** Drops the database and deletes every Redis key under the prefix. */
  destroy(): Promise<void>;
}

export async function createTestEnvironment(
  options: {
    /** Builds the database instead of the engine's and the application's migrations (an older layout, say). */
    prepare?: (databaseUrl: string) => Promise<void>;
  } = {},
): Promise<TestEnvironment> {
  const environment = await createSagaTestEnvironment({
    databaseUrl: 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: 'redis://127.0.0.1:6379',
    migrateEngine: !options.prepare,
    prepare: ({ databaseUrl }) => (options.prepare ?? prepareDatabase)(databaseUrl),
  });
  const { id, databaseUrl, queuePrefix } = environment;
  // Tests read the engine's tables (in its schema, once the app has migrated it) and the order saga's.
  const sql = postgres(databaseUrl, {
    max: 4,
    onnotice: () => undefined,
    connection: { search_path: `${DEFAULT_SAGA_SCHEMA}, public` },
  });
  const redis = new Redis(environment.redisUrl, { maxRetriesPerRequest: 3 });
  return {
    id,
    env: { DATABASE_URL: databaseUrl, QUEUE_PREFIX: queuePrefix, LOG_LEVEL: 'error' },
    databaseUrl,
    queuePrefix,
    sql,
    redis,
    async destroy() {
      await sql.end({ timeout: 5 });
      redis.disconnect();
      await environment.destroy();
    },
  };
}

export interface TestApp extends TestEnvironment {
  app: INestApplication;
  config: AppConfig;
  http: HttpClient;
  /** Stops the app, then destroys the environment. */
  close(): Promise<void>;
}

/** The real application (HTTP, engine, workers) in this process, against real Postgres and Redis. */
export async function startTestApp(
  options: {
    /** The saga modules to serve. @defaultValue SAGA_MODULES (src/app.module.ts) */
    sagaModules?: (Type | DynamicModule)[];
    /** Extra environment, or a function of the test environment (to point the app at a proxy, say). */
    env?: Record<string, string> | ((environment: TestEnvironment) => Record<string, string>);
  } = {},
): Promise<TestApp> {
  const environment = await createTestEnvironment();
  const extra = typeof options.env === 'function' ? options.env(environment) : options.env;
  const config = loadConfig({ ...environment.env, PORT: '0', ...extra });
  const app = await createApp(AppModule.forRoot(config, options.sagaModules), config);
  await app.listen(0, '127.0.0.1');
  const http = new HttpClient((await app.getUrl()).replace('[::1]', '127.0.0.1'));
  return {
    ...environment,
    app,
    config,
    http,
    async close() {
      await app.close();
      await environment.destroy();
    },
  };
}

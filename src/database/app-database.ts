import { type OnApplicationShutdown } from '@nestjs/common';
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { DatabasePooling } from '../saga/index.js';

/** The application's own Postgres pool, for the services its sagas call. */
export class AppDatabase implements OnApplicationShutdown {
  readonly sql: postgres.Sql;
  readonly db: PostgresJsDatabase;

  constructor(databaseUrl: string, pooling: DatabasePooling = 'session', poolSize = 5) {
    this.sql = postgres(databaseUrl, {
      max: poolSize,
      // A transaction pooler knows no statement prepared in an earlier transaction (SagaDatabase).
      prepare: pooling === 'session',
      onnotice: () => undefined,
      connect_timeout: 5,
    });
    this.db = drizzle({ client: this.sql });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.sql.end({ timeout: 5 });
  }
}

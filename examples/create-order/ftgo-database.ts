import type { OnApplicationShutdown } from '@nestjs/common';
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './create-order.schema.js';

/** The FTGO services' Postgres pool, with drizzle over it; closed with the application. */
export class FtgoDatabase implements OnApplicationShutdown {
  readonly db: PostgresJsDatabase<typeof schema>;
  private readonly client: postgres.Sql;

  constructor(databaseUrl: string) {
    this.client = postgres(databaseUrl, { max: 5, onnotice: () => undefined });
    this.db = drizzle({ client: this.client, schema });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client.end({ timeout: 5 });
  }
}

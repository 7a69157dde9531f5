import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { SAGA_MODULE_OPTIONS, type ResolvedSagaModuleOptions } from '../saga-module-options.js';
import * as schema from './schema.js';

/** The engine's own Postgres pool; the module that opens it closes it. */
@Injectable()
export class SagaDatabase implements OnApplicationShutdown {
  readonly sql: postgres.Sql;
  readonly db: PostgresJsDatabase<typeof schema>;

  constructor(@Inject(SAGA_MODULE_OPTIONS) options: ResolvedSagaModuleOptions) {
    this.sql = postgres(options.databaseUrl, {
      max: options.databasePoolSize,
      onnotice: () => undefined,
      // Fail fast while Postgres is unreachable instead of queueing requests behind a dead socket.
      connect_timeout: 5,
    });
    this.db = drizzle({ client: this.sql, schema });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.sql.end({ timeout: 5 });
  }
}

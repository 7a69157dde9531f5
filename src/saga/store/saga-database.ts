import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { SAGA_MODULE_OPTIONS, type ResolvedSagaModuleOptions } from '../saga-module-options.js';
import * as schema from './schema.js';

/** The engine's own Postgres pools; the module that opens them closes them. */
@Injectable()
export class SagaDatabase implements OnApplicationShutdown {
  readonly sql: postgres.Sql;
  /**
   * For claims only: their commits do not wait for the WAL flush. A claim only counts an attempt
   * and marks it running; the transition that follows is committed durably, and WAL is written in
   * order, so it makes the claim durable too. A crash in between loses at most that count, and the
   * job is redelivered and claimed again.
   */
  readonly claimSql: postgres.Sql;
  readonly db: PostgresJsDatabase<typeof schema>;

  constructor(@Inject(SAGA_MODULE_OPTIONS) options: ResolvedSagaModuleOptions) {
    const claimPoolSize = Math.max(1, Math.floor(options.databasePoolSize / 3));
    const common = {
      onnotice: () => undefined,
      // Fail fast while Postgres is unreachable instead of queueing requests behind a dead socket.
      connect_timeout: 5,
    };
    this.sql = postgres(options.databaseUrl, {
      ...common,
      max: Math.max(1, options.databasePoolSize - claimPoolSize),
    });
    this.claimSql = postgres(options.databaseUrl, {
      ...common,
      max: claimPoolSize,
      connection: { synchronous_commit: 'off' },
    });
    this.db = drizzle({ client: this.sql, schema });
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.sql.end({ timeout: 5 }), this.claimSql.end({ timeout: 5 })]);
  }
}

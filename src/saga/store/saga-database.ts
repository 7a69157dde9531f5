import { type OnApplicationShutdown } from '@nestjs/common';
import { pgSchema } from 'drizzle-orm/pg-core';
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { ResolvedSagaModuleOptions } from '../saga-module-options.js';
import { migrateSagaSchema } from './migrate-saga-schema.js';
import { sagaTables } from './schema.js';

/** The engine's own Postgres pools; the module that opens them closes them. */
export class SagaDatabase implements OnApplicationShutdown {
  readonly sql: postgres.Sql;
  /**
   * For claims only: their commits do not wait for the WAL flush. A claim only counts an attempt
   * and marks it running; the transition that follows is committed durably, and WAL is written in
   * order, so it makes the claim durable too. A crash in between loses at most that count, and the
   * job is redelivered and claimed again.
   */
  readonly claimSql: postgres.Sql;
  readonly db: PostgresJsDatabase;
  /** The engine's tables in the configured schema, for the query builder. */
  readonly tables: ReturnType<typeof sagaTables>;

  /** Migrates the engine's schema first when the options ask for it, so that no statement meets an older one. */
  static async open(options: ResolvedSagaModuleOptions): Promise<SagaDatabase> {
    if (options.migrate) await migrateSagaSchema(options);
    return new SagaDatabase(options);
  }

  constructor(options: ResolvedSagaModuleOptions) {
    const claimPoolSize = Math.max(1, Math.floor(options.databasePoolSize / 3));
    const common = {
      onnotice: () => undefined,
      // Every statement of the engine reads rows by key. Its prepared statements keep the plan made
      // for the first few calls, often on a nearly empty table, where a sequential scan is cheapest;
      // as the table grows that plan would cost a scan of every saga per batch. Without sequential
      // scans the cached plan is an index lookup at any size.
      //
      // The store's statements name the engine's tables without a schema, and these connections
      // see only the engine's schema (and pg_catalog). One setting serves every hand-written
      // statement, where qualifying them would put the schema into some twenty table references,
      // and one forgotten would quietly resolve in the default search_path, in the application's
      // public schema, perhaps to a table of the same name. (The query builder qualifies anyway.)
      connection: { enable_seqscan: 'off', search_path: options.schema },
      // The engine uses no custom or array types, so it skips the catalog query on each connect
      // (which, without sequential scans, is slow).
      fetch_types: false,
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
      connection: { ...common.connection, synchronous_commit: 'off' },
    });
    this.db = drizzle({ client: this.sql });
    this.tables = sagaTables(pgSchema(options.schema));
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.sql.end({ timeout: 5 }), this.claimSql.end({ timeout: 5 })]);
  }
}

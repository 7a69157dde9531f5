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
  /** The same tables' schema-qualified names, for hand-written statements: `FROM ${table.sagas} s`. */
  readonly table: Record<
    'sagas' | 'units' | 'events' | 'signals' | 'schedules' | 'keyHolders',
    postgres.Fragment
  >;

  /** Migrates the engine's schema first when the options ask for it, so that no statement meets an older one. */
  static async open(options: ResolvedSagaModuleOptions): Promise<SagaDatabase> {
    if (options.migrate) await migrateSagaSchema(options);
    return new SagaDatabase(options);
  }

  constructor(options: ResolvedSagaModuleOptions) {
    const claimPoolSize = Math.max(1, Math.floor(options.databasePoolSize / 3));
    const pooled = options.pooling === 'transaction';
    const common = {
      onnotice: () => undefined,
      // A transaction pooler (PgBouncer, pool_mode=transaction) hands each transaction whichever server
      // connection is free: a statement prepared on one is unknown on the next, and settings made at
      // connect time are refused or lost. So no named statements there, and no connection settings.
      prepare: !pooled,
      // Session pooling: every statement of the engine reads rows by key. Its prepared statements keep
      // the plan made for the first few calls, often on a nearly empty table, where a sequential scan
      // is cheapest; as the table grows that plan would cost a scan of every saga per batch. Without
      // sequential scans the cached plan is an index lookup at any size. (Unprepared statements are
      // planned for each call, with the table's current size.)
      //
      // The engine names its tables with their schema (see `table`): the search_path holds only
      // pg_catalog, so that a statement naming a table without its schema fails in every test instead
      // of resolving, through a pooler, in the application's public schema.
      connection: pooled ? {} : { enable_seqscan: 'off', search_path: 'pg_catalog' },
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
      // Through a transaction pooler claims commit durably: a session setting would not stay with them.
      connection: pooled ? {} : { ...common.connection, synchronous_commit: 'off' },
    });
    this.db = drizzle({ client: this.sql });
    this.tables = sagaTables(pgSchema(options.schema));
    // Quoted once, here: as `sql(name)` helpers, postgres.js would escape them again, and search the
    // text before each for its context, every time a statement is built.
    const qualified = (name: string) =>
      this.sql.unsafe(`${escapeIdentifier(options.schema)}.${escapeIdentifier(name)}`);
    this.table = {
      sagas: qualified('sagas'),
      units: qualified('saga_units'),
      events: qualified('saga_events'),
      signals: qualified('saga_signals'),
      schedules: qualified('saga_schedules'),
      keyHolders: qualified('saga_key_holders'),
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.sql.end({ timeout: 5 }), this.claimSql.end({ timeout: 5 })]);
  }
}

/** A Postgres identifier, quoted. */
const escapeIdentifier = (name: string): string => `"${name.replaceAll('"', '""')}"`;

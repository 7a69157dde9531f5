import { Redis } from 'ioredis';
import postgres from 'postgres';
import { databaseUrlFor } from './isolated-environment.js';

export interface PostgresCounters {
  xactCommit: number;
  xactRollback: number;
  /** Transactions Postgres aborted to break a deadlock (each after deadlock_timeout of waiting). */
  deadlocks: number;
  /** Milliseconds backends spent executing statements in the database (pg_stat_database.active_time). */
  activeMs: number;
  /** Statements executed in the database, when pg_stat_statements is loaded; otherwise undefined. */
  statements?: number;
}

/**
 * Server-side counters of Postgres (per database, so other people's databases do not count) and
 * Redis (INFO commandstats: server-wide, and including the commands Lua scripts run).
 */
export class ServerCounters {
  /** On the `postgres` database, so that reading the counters adds nothing to the measured one. */
  private readonly admin = postgres(databaseUrlFor('postgres'), { max: 1, onnotice: () => undefined });
  private readonly redis: Redis;
  private statementsAvailable?: boolean;

  constructor(redisUrl: string) {
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  }

  /**
   * A backend reports its counters when it goes idle, at most once a second, and at the latest
   * when it exits; reading after every connection to the database has closed makes them exact.
   */
  async waitForConnectionsToClose(databaseName: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [{ open }] = await this.admin<{ open: number }[]>`
        SELECT count(*)::int AS open FROM pg_stat_activity WHERE datname = ${databaseName}`;
      if (open === 0 || Date.now() > deadline) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async postgres(databaseName: string): Promise<PostgresCounters> {
    const [row] = await this.admin<
      { xact_commit: string; xact_rollback: string; deadlocks: string; active_time: number }[]
    >`
      SELECT xact_commit, xact_rollback, deadlocks, active_time FROM pg_stat_database WHERE datname = ${databaseName}`;
    return {
      xactCommit: Number(row?.xact_commit ?? 0),
      xactRollback: Number(row?.xact_rollback ?? 0),
      deadlocks: Number(row?.deadlocks ?? 0),
      activeMs: Number(row?.active_time ?? 0),
      statements: await this.statementCount(databaseName),
    };
  }

  /** pg_stat_statements only counts when preloaded; it is used if it is, never required. */
  async pgStatStatementsAvailable(): Promise<boolean> {
    if (this.statementsAvailable === undefined) {
      const [{ libraries }] = await this.admin<{ libraries: string }[]>`
        SELECT current_setting('shared_preload_libraries') AS libraries`;
      this.statementsAvailable = libraries.split(',').some((l) => l.trim() === 'pg_stat_statements');
    }
    return this.statementsAvailable;
  }

  private async statementCount(databaseName: string): Promise<number | undefined> {
    if (!(await this.pgStatStatementsAvailable())) return undefined;
    // The view exists only where the extension is created; reading it needs a connection there.
    const client = postgres(databaseUrlFor(databaseName), { max: 1, onnotice: () => undefined });
    try {
      await client`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`;
      const [{ calls }] = await client<{ calls: string | null }[]>`
        SELECT sum(calls) AS calls FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = ${databaseName})`;
      return Number(calls ?? 0);
    } finally {
      await client.end();
    }
  }

  /** Calls per command since the Redis server started (or since CONFIG RESETSTAT). */
  async redisCommandStats(): Promise<Map<string, number>> {
    const info = await this.redis.info('commandstats');
    const calls = new Map<string, number>();
    for (const [, command, count] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
      calls.set(command, Number(count));
    return calls;
  }

  async close(): Promise<void> {
    await this.admin.end();
    this.redis.disconnect();
  }
}

/** What changed between two commandstats readings, largest first. */
export function commandStatsDelta(
  before: Map<string, number>,
  after: Map<string, number>,
): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [command, calls] of after) {
    const change = calls - (before.get(command) ?? 0);
    if (change > 0) delta.set(command, change);
  }
  return new Map([...delta].sort(([, a], [, b]) => b - a));
}

export function total(counts: Map<string, number>): number {
  let sum = 0;
  for (const value of counts.values()) sum += value;
  return sum;
}

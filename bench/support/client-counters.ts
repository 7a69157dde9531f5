import { Redis } from 'ioredis';
import type postgres from 'postgres';

/**
 * Counts, inside one process, the Redis commands and Postgres statements it sends: exact and
 * ours alone, unlike the server-wide counters, which other clients of a shared server also move.
 */
export class ClientCounters {
  redisCommands = 0;
  readonly redisByCommand = new Map<string, number>();
  postgresStatements = 0;
  /** Statements by what they do (see statementKind), to tell which ones a saga's shape adds. */
  readonly postgresByStatement = new Map<string, number>();

  /** Every ioredis client of the process (BullMQ's included) sends each command through sendCommand. */
  countRedis(): this {
    const prototype = Redis.prototype as unknown as {
      sendCommand(command: { name: string }, ...rest: unknown[]): unknown;
    };
    const original = prototype.sendCommand;
    const count = (name: string) => {
      this.redisCommands++;
      this.redisByCommand.set(name, (this.redisByCommand.get(name) ?? 0) + 1);
    };
    prototype.sendCommand = function (command, ...rest) {
      count(command.name);
      return original.call(this, command, ...rest);
    };
    return this;
  }

  /** postgres.js calls `options.debug` for every statement it sends, and reads it at that moment. */
  countPostgres(...pools: postgres.Sql[]): this {
    const kinds = new Map<string, string>();
    for (const pool of pools) {
      (pool.options as { debug?: unknown }).debug = (_connection: unknown, query: string) => {
        this.postgresStatements++;
        let kind = kinds.get(query);
        if (kind === undefined) kinds.set(query, (kind = statementKind(query)));
        this.postgresByStatement.set(kind, (this.postgresByStatement.get(kind) ?? 0) + 1);
      };
    }
    return this;
  }

  reset(): void {
    this.redisCommands = 0;
    this.redisByCommand.clear();
    this.postgresStatements = 0;
    this.postgresByStatement.clear();
  }

  snapshot(): {
    redisCommands: number;
    redisByCommand: Record<string, number>;
    postgresStatements: number;
    postgresByStatement: Record<string, number>;
  } {
    const largestFirst = (counts: Map<string, number>) =>
      Object.fromEntries([...counts].sort(([, a], [, b]) => b - a));
    return {
      redisCommands: this.redisCommands,
      redisByCommand: largestFirst(this.redisByCommand),
      postgresStatements: this.postgresStatements,
      postgresByStatement: largestFirst(this.postgresByStatement),
    };
  }
}

/**
 * A short name for a statement: its verbs and the tables it writes (or reads), e.g.
 * "update sagas, saga_units; insert saga_events" for the engine's commit. Enough to tell the
 * engine's statements apart, computed once per distinct text.
 */
export function statementKind(query: string): string {
  const text = query.replace(/\s+/g, ' ').trim();
  const verb = /^(begin|commit|rollback|select 1)\b/i.exec(text)?.[1];
  if (verb) return verb.toLowerCase();
  const writes = new Map<string, Set<string>>();
  for (const [, op, table] of text.matchAll(
    /\b(UPDATE|INSERT INTO|DELETE FROM)\s+((?:"?\w+"?\.)?"?\w+"?)/gi,
  )) {
    const name = op.toLowerCase().split(' ')[0];
    const tables = writes.get(name) ?? new Set<string>();
    tables.add(table.replaceAll('"', '').replace(/^.*\./, ''));
    writes.set(name, tables);
  }
  if (writes.size > 0) return [...writes].map(([op, tables]) => `${op} ${[...tables].join(', ')}`).join('; ');
  const reads = new Set([...text.matchAll(/\bFROM\s+((?:"?\w+"?\.)?"?\w+"?)/gi)].map(([, table]) => table));
  const tables = [...reads].map((table) => table.replaceAll('"', '').replace(/^.*\./, ''));
  return `select ${tables.length > 0 ? tables.join(', ') : text.slice(0, 40)}`;
}

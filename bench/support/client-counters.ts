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
    for (const pool of pools) {
      (pool.options as { debug?: unknown }).debug = () => this.postgresStatements++;
    }
    return this;
  }

  reset(): void {
    this.redisCommands = 0;
    this.redisByCommand.clear();
    this.postgresStatements = 0;
  }

  snapshot(): { redisCommands: number; redisByCommand: Record<string, number>; postgresStatements: number } {
    const byCommand = [...this.redisByCommand].sort(([, a], [, b]) => b - a);
    return {
      redisCommands: this.redisCommands,
      redisByCommand: Object.fromEntries(byCommand),
      postgresStatements: this.postgresStatements,
    };
  }
}

import { Redis } from 'ioredis';
import os from 'node:os';
import postgres from 'postgres';
import { databaseUrlFor } from './isolated-environment.js';

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGb: number;
  os: string;
  node: string;
  postgres: string;
  redis: string;
  pgStatStatements: boolean;
}

/** What the figures were measured on: they mean little without it. */
export async function describeMachine(redisUrl: string, pgStatStatements: boolean): Promise<Machine> {
  const sql = postgres(databaseUrlFor('postgres'), { max: 1, onnotice: () => undefined });
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  try {
    const [{ server_version }] = await sql<{ server_version: string }[]>`SHOW server_version`;
    const redisVersion = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown';
    return {
      cpus: os.availableParallelism(),
      cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
      memoryGb: Math.round(os.totalmem() / 2 ** 30),
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      node: process.version,
      postgres: server_version,
      redis: redisVersion,
      pgStatStatements,
    };
  } finally {
    await sql.end();
    redis.disconnect();
  }
}

/** Starts a clock of the machine's CPU: it returns how busy all its cores were since, in percent. */
export function machineBusyClock(): () => number {
  const idleAndTotal = () =>
    os
      .cpus()
      .reduce(
        ([idle, total], { times }) => [
          idle + times.idle,
          total + times.user + times.nice + times.sys + times.idle + times.irq,
        ],
        [0, 0],
      );
  const [idleBefore, totalBefore] = idleAndTotal();
  return () => {
    const [idle, total] = idleAndTotal();
    return 100 * (1 - (idle - idleBefore) / Math.max(1, total - totalBefore));
  };
}

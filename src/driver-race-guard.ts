import type { Logger } from '@nestjs/common';

/**
 * postgres@3.4 can write to a socket its connection has already closed, from a setImmediate, so
 * a Postgres restart throws an uncatchable TypeError (porsager/postgres#1066, #1208) and would
 * kill the process. The query that write belonged to has already failed with CONNECTION_CLOSED
 * and the engine retries it, so this one error is survived. Any other uncaught error still stops
 * the process: its state is unknown, and another worker takes over its jobs.
 */
export function surviveDriverWriteRace(logger: Logger): void {
  process.on('uncaughtException', (error) => {
    if (isDriverWriteRace(error)) {
      logger.warn('Postgres connection closed during a write; the query is retried');
      return;
    }
    console.error(error);
    process.exit(1);
  });
}

export function isDriverWriteRace(error: unknown): boolean {
  return (
    error instanceof TypeError &&
    /reading 'write'/.test(error.message) &&
    (error.stack ?? '').includes('/postgres/src/connection.js')
  );
}

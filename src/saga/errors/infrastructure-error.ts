/** Codes of Postgres and Redis failures that say "unreachable now", not "wrong request". */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  '53300', // too_many_connections
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000', // connection_exception
  '08003', // connection_does_not_exist
  '08006', // connection_failure
]);

/** A backing service is unavailable: wait and try again rather than blame the request or the step. */
export function isInfrastructureError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && UNAVAILABLE_CODES.has(code);
}

export class WorkerShutdownError extends Error {
  readonly retryable = true;

  constructor() {
    super('the worker shut down before the attempt finished');
    this.name = 'WorkerShutdownError';
  }
}

/** An attempt claimed by a worker that died before recording it; enough of them exhaust the retries. */
export const LOST_ATTEMPTS_ERROR = {
  name: 'AttemptsExhausted',
  message: 'every allowed attempt was claimed by a worker that stopped before recording an outcome',
  retryable: false,
};

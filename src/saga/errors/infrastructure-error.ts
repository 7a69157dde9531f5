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

/** Deep enough for every wrapper on the way (drizzle's query error around the driver's); bounds a cycle. */
const MAX_CAUSE_DEPTH = 5;

/**
 * A backing service is unavailable: wait and try again rather than blame the request or the step.
 * The code may sit on a `cause`: drizzle wraps every driver error in a DrizzleQueryError.
 */
export function isInfrastructureError(error: unknown): boolean {
  let current = error;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && typeof current === 'object' && current !== null; depth++) {
    const { code, cause } = current as { code?: unknown; cause?: unknown };
    if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
    current = cause;
  }
  return false;
}

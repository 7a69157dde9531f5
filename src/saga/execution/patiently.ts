import { isInfrastructureError } from '../errors/infrastructure-error.js';

export interface PatienceOptions {
  /** Give up (rethrow) once the outage has lasted this long. */
  giveUpAfterMs: number;
  onWait?: (error: Error, delayMs: number) => void;
}

/**
 * Runs `operation`, retrying with backoff while Postgres or Redis is unreachable: an outage
 * delays the work instead of failing it. Any other error is rethrown at once.
 */
export async function patiently<T>(operation: () => Promise<T>, options: PatienceOptions): Promise<T> {
  const giveUpAt = Date.now() + options.giveUpAfterMs;
  for (let delayMs = 100; ; delayMs = Math.min(delayMs * 2, 5000)) {
    try {
      return await operation();
    } catch (error) {
      if (!isInfrastructureError(error) || Date.now() + delayMs > giveUpAt) throw error;
      options.onWait?.(error as Error, delayMs);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

/** Rejects when `promise` has not settled within `ms`; the promise itself is left to settle quietly. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error(`${what} took over ${ms} ms`), { code: 'ETIMEDOUT' })),
      ms,
    );
  });
  promise.catch(() => undefined);
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

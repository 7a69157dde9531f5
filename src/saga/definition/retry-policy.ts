/** How long to wait before the next attempt of a step or compensation. */
export interface BackoffOptions {
  /**
   * `fixed` waits `delay` before every retry; `exponential` doubles it after each failed attempt.
   * @defaultValue 'exponential'
   */
  type?: 'fixed' | 'exponential';
  /** Base delay in milliseconds. @defaultValue 200 */
  delay?: number;
  /** Upper bound for a single delay in milliseconds. @defaultValue 60_000 */
  maxDelay?: number;
  /**
   * Fraction of each delay that is randomised (0 = none, 1 = anywhere between 0 and the full delay),
   * so that many sagas failing together do not retry in lock step. @defaultValue 0
   */
  jitter?: number;
}

export interface RetryOptions {
  /** Total attempts, the first one included (1 = never retry). @defaultValue 3 */
  attempts?: number;
  backoff?: BackoffOptions;
}

/** A retry policy with every default applied, as the engine uses it. */
export interface RetryPolicy {
  attempts: number;
  backoff: Required<BackoffOptions>;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 200, maxDelay: 60_000, jitter: 0 },
};

export function resolveRetryPolicy(options: RetryOptions | undefined, base: RetryPolicy): RetryPolicy {
  return {
    attempts: options?.attempts ?? base.attempts,
    backoff: { ...base.backoff, ...stripUndefined(options?.backoff ?? {}) },
  };
}

/** Delay before the attempt that follows failed attempt number `failedAttempt` (1-based). */
export function backoffDelay(
  backoff: Required<BackoffOptions>,
  failedAttempt: number,
  random: () => number = Math.random,
): number {
  const base = backoff.type === 'fixed' ? backoff.delay : backoff.delay * 2 ** (failedAttempt - 1);
  const capped = Math.min(base, backoff.maxDelay);
  return Math.round(capped * (1 - backoff.jitter * random()));
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

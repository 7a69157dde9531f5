import { toStorableText } from '../store/storable-json.js';

/** The serialized form of an error, as stored in Postgres and shown over HTTP (never a stack). */
export interface SagaError {
  name: string;
  message: string;
  retryable: boolean;
}

/**
 * Classifies by `name` and `retryable`, not by class, so that an error from another copy of this
 * package, another realm, or rebuilt from JSON is classified the same way. Never throws.
 */
export function toSagaError(error: unknown): SagaError {
  const { name, message, retryable } = (typeof error === 'object' && error !== null ? error : {}) as Record<
    string,
    unknown
  >;
  if (typeof name !== 'string' && typeof message !== 'string') {
    return { name: 'Error', message: toStorableText(describe(error)), retryable: true };
  }
  const errorName = typeof name === 'string' ? toStorableText(name) : 'Error';
  return {
    name: errorName,
    message: typeof message === 'string' ? toStorableText(message) : '',
    retryable: errorName !== 'NonRetryableError' && retryable !== false,
  };
}

function describe(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

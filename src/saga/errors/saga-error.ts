/** The serialized form of an error, as stored in Postgres and shown over HTTP (never a stack). */
export interface SagaError {
  name: string;
  message: string;
  retryable: boolean;
}

export function toSagaError(error: unknown): SagaError {
  if (error instanceof Error) {
    const retryable =
      error.name !== 'NonRetryableError' && (error as { retryable?: unknown }).retryable !== false;
    return { name: error.name, message: error.message, retryable };
  }
  return { name: 'Error', message: String(error), retryable: true };
}

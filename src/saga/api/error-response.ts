import { HttpException } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import { isInfrastructureError } from '../errors/infrastructure-error.js';
import type { InputIssue } from '../errors/invalid-input.error.js';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  issues?: InputIssue[];
}

const STATUS_BY_ERROR_NAME = new Map([
  ['InvalidInputError', 400],
  ['UnknownSagaError', 404],
  ['UnknownSignalError', 404],
  ['UnknownStepError', 404],
  ['SagaNotFoundError', 404],
  ['SagaConflictError', 409],
  ['SagaVersionUnavailableError', 503],
]);

/**
 * The HTTP response for anything thrown while serving a request. Errors are classified by name and
 * code, not by class, and only messages meant for clients are shown: never a stack.
 */
export function toErrorResponse(exception: unknown): ErrorBody {
  const error = exception as Partial<Error> & {
    code?: string;
    type?: string;
    status?: number;
    expose?: boolean;
    issues?: InputIssue[];
  };
  if (exception instanceof HttpException) {
    const response = exception.getResponse();
    const message = typeof response === 'string' ? response : (response as { message?: unknown }).message;
    return body(
      exception.getStatus(),
      Array.isArray(message) ? message.join('; ') : String(message ?? exception.message),
    );
  }
  const known = typeof error?.name === 'string' ? STATUS_BY_ERROR_NAME.get(error.name) : undefined;
  if (known)
    return { ...body(known, error.message ?? ''), ...(error.issues ? { issues: error.issues } : {}) };
  // Errors raised by the JSON body parser before the route runs.
  if (error?.type === 'entity.too.large') return body(413, 'Request body is larger than the 1 MiB limit');
  if (error?.type === 'entity.parse.failed') return body(400, 'Request body is not valid JSON');
  if (error?.expose && typeof error.status === 'number' && error.status >= 400 && error.status < 500) {
    return body(error.status, error.message ?? '');
  }
  if (isInfrastructureError(error)) {
    return body(503, 'A backing service (Postgres or Redis) is unavailable; retry later');
  }
  return body(500, 'Internal server error');
}

function body(statusCode: number, message: string): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { toErrorResponse } from './error-response.js';

interface JsonResponse {
  setHeader(name: string, value: string): void;
  status(code: number): JsonResponse;
  json(body: unknown): void;
}

/** Every error leaves as `{ statusCode, error, message }`; 503s are logged briefly, 500s with their stack. */
@Catch()
export class SagaExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    const body = toErrorResponse(bodyParserError(exception) ?? exception);
    if (body.statusCode === 503) this.logger.warn(`503: ${(exception as Error)?.message}`);
    else if (body.statusCode >= 500) this.logger.error((exception as Error)?.stack ?? String(exception));
    const response = host.switchToHttp().getResponse<JsonResponse>();
    // A route's own content type (`@Header`, set before it runs: /metrics' text) does not describe its errors.
    response.setHeader('Content-Type', 'application/json; charset=utf-8');
    response.status(body.statusCode).json(body);
  }
}

/**
 * Nest's Express adapter wraps the body parser's errors (invalid JSON, body too large, unsupported
 * charset) in an HttpException carrying the parser's raw message; the original error, kept as its
 * `cause`, has the `type` that toErrorResponse turns into a clear message.
 */
function bodyParserError(exception: unknown): unknown {
  if (!(exception instanceof HttpException)) return undefined;
  const cause = exception.cause as { type?: unknown } | undefined;
  return typeof cause?.type === 'string' ? cause : undefined;
}

import {
  Catch,
  HttpException,
  Logger,
  MethodNotAllowedException,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { allowedMethods } from './allowed-methods.js';
import { toErrorResponse, type ErrorBody } from './error-response.js';

interface JsonResponse {
  setHeader(name: string, value: string): void;
  status(code: number): JsonResponse;
  json(body: unknown): void;
}

interface Request {
  method: string;
  path: string;
}

/**
 * Every error leaves as `{ statusCode, error, message }`; 503s are logged briefly, 500s with their
 * stack. A 404 for a path that routes serve with other methods becomes a 405 with an `Allow` header.
 */
@Catch()
export class SagaExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const response = http.getResponse<JsonResponse>();
    let body = toErrorResponse(bodyParserError(exception) ?? exception);
    if (body.statusCode === 404) body = this.methodNotAllowed(http.getRequest<Request>(), response) ?? body;
    if (body.statusCode === 503)
      this.logger.warn(`503: ${rootCause(exception)?.message ?? String(exception)}`);
    else if (body.statusCode >= 500) this.logger.error(describeWithCauses(exception));
    // A route's own content type (`@Header`, set before it runs: /metrics' text) does not describe its errors.
    response.setHeader('Content-Type', 'application/json; charset=utf-8');
    response.status(body.statusCode).json(body);
  }

  /**
   * Only on the 404 path, so that served requests pay nothing. A 404 from a route that serves this
   * method (an unknown saga id) keeps its 404: the method is among the allowed ones.
   */
  private methodNotAllowed(request: Request, response: JsonResponse): ErrorBody | undefined {
    const allowed = allowedMethods(this.adapterHost.httpAdapter.getInstance(), request.path);
    if (allowed.length === 0 || allowed.includes(request.method)) return undefined;
    response.setHeader('Allow', allowed.join(', '));
    return toErrorResponse(
      new MethodNotAllowedException(
        `${request.method} is not allowed here; this path serves ${allowed.join(', ')}`,
      ),
    );
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

/** The innermost `cause` (a driver's error that drizzle wrapped with its SQL, say). */
function rootCause(exception: unknown): Error | undefined {
  let current = exception as Error | undefined;
  for (let depth = 0; depth < 5 && (current?.cause as Error | undefined); depth++)
    current = current!.cause as Error;
  return current;
}

/** The stack, and each cause with its code: what an operator needs to tell a bug from an outage. */
function describeWithCauses(exception: unknown): string {
  const lines: string[] = [];
  let current = exception as (Error & { code?: unknown }) | undefined;
  for (let depth = 0; depth < 5 && current; depth++) {
    const code = current.code === undefined ? '' : ` (code ${String(current.code)})`;
    lines.push(`${depth === 0 ? '' : 'caused by: '}${current.stack ?? String(current)}${code}`);
    current = current.cause as typeof current;
  }
  return lines.join('\n');
}

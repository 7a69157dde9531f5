import { Catch, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { toErrorResponse } from './error-response.js';

interface JsonResponse {
  status(code: number): JsonResponse;
  json(body: unknown): void;
}

/** Every error leaves as `{ statusCode, error, message }`; only 5xx are logged, with their stack. */
@Catch()
export class SagaExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    const body = toErrorResponse(exception);
    if (body.statusCode >= 500) this.logger.error((exception as Error)?.stack ?? String(exception));
    host.switchToHttp().getResponse<JsonResponse>().status(body.statusCode).json(body);
  }
}

import { Logger, type LoggerService } from '@nestjs/common';
import { SagaLogLine } from './saga-log-line.js';

/**
 * The logger a handler gets (`ctx.logger`): Nest's logger named after the saga and handler, whose
 * text lines carry the attempt's saga, step and attempt as fields, like the saga log's.
 */
export class AttemptLogger implements LoggerService {
  private readonly logger: Logger;

  constructor(
    context: string,
    private readonly attempt: { sagaId: string; saga: string; step: string; attempt: number },
  ) {
    this.logger = new Logger(context);
  }

  log(message: unknown, ...params: unknown[]): void {
    this.logger.log(this.line(message), ...params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.logger.error(this.line(message), ...params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.logger.warn(this.line(message), ...params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.logger.debug(this.line(message), ...params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.logger.verbose(this.line(message), ...params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.logger.fatal(this.line(message), ...params);
  }

  private line(message: unknown): unknown {
    if (typeof message !== 'string') return message;
    const { sagaId, saga, step, attempt } = this.attempt;
    return new SagaLogLine(message, sagaId, saga, step, attempt);
  }
}

import { inspect } from 'node:util';

/**
 * A log line about a saga: its text, and the fields that a structured logger (PinoLogger, or
 * nestjs-pino) writes beside it, so that its lines can be filtered by saga, step or attempt.
 * Nest's ConsoleLogger prints it as its text.
 */
export class SagaLogLine {
  constructor(
    readonly msg: string,
    readonly sagaId: string,
    readonly saga: string,
    readonly step?: string,
    readonly attempt?: number,
  ) {}

  toString(): string {
    return this.msg;
  }

  [inspect.custom](): string {
    return this.msg;
  }
}

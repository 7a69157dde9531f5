import type { LoggerService, LogLevel } from '@nestjs/common';
import { pino, type Level, type Logger } from 'pino';
import pretty from 'pino-pretty';

/** `json`: one JSON object a line, for log collectors. `pretty`: coloured lines for people. */
export type LogFormat = 'json' | 'pretty';

/** Nest's levels, most verbose first, and pino's name for each. */
const PINO_LEVELS: [LogLevel, Level][] = [
  ['verbose', 'trace'],
  ['debug', 'debug'],
  ['log', 'info'],
  ['warn', 'warn'],
  ['error', 'error'],
  ['fatal', 'fatal'],
];

/** Fields a saga's lines carry, shown in JSON; the pretty line says them in its text already. */
const SAGA_FIELDS = 'sagaId,saga,step,attempt';

/**
 * Nest's logger, written by pino. A message that is an object (a SagaLogLine) gives its fields to
 * the line; so does an object followed by a text (the nestjs-pino convention). A line whose level
 * is off costs one comparison.
 */
export class PinoLogger implements LoggerService {
  private readonly pino: Logger;

  constructor(format: LogFormat) {
    this.pino =
      format === 'json'
        ? pino({ timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (level) => ({ level }) } })
        : pino(
            {},
            pretty({
              sync: true,
              translateTime: 'SYS:HH:MM:ss.l',
              ignore: `pid,hostname,context,${SAGA_FIELDS}`,
              messageFormat: '{if context}[{context}] {end}{msg}',
            }),
          );
  }

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  /** Nest's levels are a set; pino's a threshold: the most verbose level of the set. */
  setLogLevels(levels: LogLevel[]): void {
    this.pino.level = PINO_LEVELS.find(([nest]) => levels.includes(nest))?.[1] ?? 'silent';
  }

  private write(level: Level, message: unknown, params: unknown[]): void {
    if (!this.pino.isLevelEnabled(level)) return;
    // Nest's Logger passes its context last; `error` passes a stack before it.
    const context = typeof params.at(-1) === 'string' ? (params.pop() as string) : undefined;
    const fields: Record<string, unknown> = { context };
    let text: string | undefined;
    if (message instanceof Error) {
      fields.err = message;
      text = message.message;
    } else if (typeof message === 'object' && message !== null) {
      Object.assign(fields, message);
      if (typeof params[0] === 'string') text = params.shift() as string;
    } else {
      text = String(message);
    }
    if (typeof params[0] === 'string' && level === 'error') fields.stack = params.shift();
    if (params.length > 0) fields.details = params;
    this.pino[level](fields, text);
  }
}

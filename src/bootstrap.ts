import {
  Logger,
  UnsupportedMediaTypeException,
  type DynamicModule,
  type INestApplication,
  type LogLevel,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AppConfig } from './config/app-config.js';
import { PinoLogger } from './saga/observability/pino-logger.js';
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/** Body size limit of every route (DESIGN.md: 413 above it). */
export const BODY_LIMIT = '1mb';

/** Builds the HTTP application around `module`; the same path serves `npm start`, the tests and the demo. */
export async function createApp(
  module: DynamicModule,
  config: Pick<AppConfig, 'LOG_LEVEL' | 'LOG_FORMAT'>,
): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(module, {
    bodyParser: false,
    logger: useLogger(config),
  });
  // Not `strict`: a body of `null`, `42` or `"text"` is JSON, and the route says what it wanted instead.
  app.useBodyParser('json', { limit: BODY_LIMIT, strict: false });
  app.use(rejectUnreadBodies);
  answerMalformedRequests(app.getHttpServer() as Server);
  return app;
}

/**
 * Makes every Nest logger of the process write through pino in LOG_FORMAT, at LOG_LEVEL and the
 * levels above it. Nest asks a logger of its own kind which levels are on, but any other for the
 * levels set with `Logger.overrideLogger`: set, so that `Logger.isLevelEnabled` answers for pino.
 */
export function useLogger(config: Pick<AppConfig, 'LOG_LEVEL' | 'LOG_FORMAT'>): PinoLogger {
  const logger = new PinoLogger(config.LOG_FORMAT);
  Logger.overrideLogger(logger);
  Logger.overrideLogger(LEVELS.slice(0, LEVELS.indexOf(config.LOG_LEVEL) + 1));
  return logger;
}

/**
 * A body the JSON parser left unread (sent as text/plain, as a form, or with no content type) would
 * reach the route as no body at all, and the input's validation errors would blame its fields
 * instead. The parser leaves `body` undefined exactly when it did not read one. A request without a
 * body (a POST to cancel or retry, sent with content-length 0) is served as before.
 */
function rejectUnreadBodies(
  request: IncomingMessage & { body?: unknown },
  _response: ServerResponse,
  next: (error?: unknown) => void,
): void {
  const hasBody =
    request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length']) > 0;
  if (hasBody && request.body === undefined) {
    next(
      new UnsupportedMediaTypeException(
        'Request body must be JSON, sent with "Content-Type: application/json"',
      ),
    );
  } else {
    next();
  }
}

/**
 * Requests Node rejects before any route runs (headers or URL over its 16 KiB limit, broken HTTP)
 * get the same error body as every other error, instead of an empty one.
 */
function answerMalformedRequests(server: Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) return socket.destroy();
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const body = JSON.stringify({
      statusCode: status,
      error: STATUS_CODES[status],
      message: status === 431 ? 'Request URL or headers are larger than 16 KiB' : 'Malformed HTTP request',
    });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}

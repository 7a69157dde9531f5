import type { DynamicModule, INestApplication, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AppConfig } from './config/app-config.js';
import { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/** Body size limit of every route (DESIGN.md: 413 above it). */
export const BODY_LIMIT = '1mb';

/** Builds the HTTP application around `module`; the same path serves `npm start`, the tests and the demo. */
export async function createApp(
  module: DynamicModule,
  config: Pick<AppConfig, 'LOG_LEVEL'>,
): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(module, {
    bodyParser: false,
    logger: LEVELS.slice(0, LEVELS.indexOf(config.LOG_LEVEL) + 1),
  });
  // Not `strict`: a body of `null`, `42` or `"text"` is JSON, and the route says what it wanted instead.
  app.useBodyParser('json', { limit: BODY_LIMIT, strict: false });
  answerMalformedRequests(app.getHttpServer() as Server);
  return app;
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

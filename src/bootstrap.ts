import type { DynamicModule, INestApplication, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AppConfig } from './config/app-config.js';

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
  app.useBodyParser('json', { limit: BODY_LIMIT });
  return app;
}

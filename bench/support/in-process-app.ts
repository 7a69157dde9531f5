import 'reflect-metadata';
import type { DynamicModule, INestApplication, Type } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { AppModule } from '../../src/app.module.js';
import { createApp } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config/app-config.js';
import type { IsolatedEnvironment } from './isolated-environment.js';

export interface InProcessApp {
  app: INestApplication;
  /** Set when the app listens on HTTP. */
  url?: string;
  close(): Promise<void>;
}

/**
 * The real application (engine, workers and, with `listen`, the HTTP API) in this process,
 * configured the way `npm start` configures it, through the environment schema.
 */
export async function startInProcessApp(
  environment: Pick<IsolatedEnvironment, 'databaseUrl' | 'redisUrl' | 'queuePrefix'>,
  options: {
    sagaModules?: (Type | DynamicModule)[];
    settings?: Record<string, string>;
    listen?: boolean;
  } = {},
): Promise<InProcessApp> {
  const config = loadConfig({
    DATABASE_URL: environment.databaseUrl,
    REDIS_URL: environment.redisUrl,
    QUEUE_PREFIX: environment.queuePrefix,
    // The app logs every failed attempt at warn: the demo's and the bench's sagas fail on purpose,
    // and their lines would bury the progress bar. Errors (a dead letter, a 500) still show.
    LOG_LEVEL: 'error',
    PORT: '0',
    ...options.settings,
  });
  const app = await createApp(AppModule.forRoot(config, options.sagaModules), config);
  let url: string | undefined;
  if (options.listen) {
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  } else {
    await app.init();
  }
  return { app, url, close: () => app.close() };
}

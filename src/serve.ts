import 'reflect-metadata';
import { Logger, type DynamicModule, type Type } from '@nestjs/common';
import { AppModule } from './app.module.js';
import { createApp, useLogger } from './bootstrap.js';
import type { AppConfig } from './config/app-config.js';
import { prepareDatabase } from './database/prepare-database.js';
import { surviveDriverWriteRace } from './driver-race-guard.js';

/** Time allowed after the grace period for aborting attempts and closing connections. */
const SHUTDOWN_MARGIN_MS = 15_000;

/**
 * Runs a process of the application: prepares the database, serves HTTP, and on SIGTERM or
 * SIGINT stops taking work, lets in-flight attempts finish (or releases them) and exits 0.
 * Serves the sagas of SAGA_MODULES (src/app.module.ts) unless given others.
 */
export async function serve(
  config: AppConfig,
  sagaModules?: readonly (Type | DynamicModule)[],
): Promise<void> {
  useLogger(config);
  const logger = new Logger('Main');
  surviveDriverWriteRace(logger);
  await prepareDatabase(config.DATABASE_URL);
  const app = await createApp(AppModule.forRoot(config, sagaModules), config);
  // Handled here rather than by Nest's shutdown hooks, which re-raise the signal: a clean stop exits 0.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.log(`${signal}: finishing in-flight work, then exiting`);
      // Every step of the shutdown is bounded, but a client library waiting on a dead connection
      // must not keep the process alive: past the grace period and a margin, exit anyway.
      const deadline = setTimeout(() => {
        logger.error('shutdown did not finish in time; exiting');
        process.exit(1);
      }, config.SHUTDOWN_GRACE_MS + SHUTDOWN_MARGIN_MS);
      deadline.unref();
      app.close().then(
        () => process.exit(0),
        (error: unknown) => {
          console.error(error);
          process.exit(1);
        },
      );
    });
  }
  await app.listen(config.PORT);
  logger.log(`${config.SAGA_ROLE} process (pid ${process.pid}) listening on http://localhost:${config.PORT}`);
}

import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { OrderModule } from '../sagas/order/order.module.js';
import { PaymentModule } from '../sagas/payment/payment.module.js';
import { TripModule } from '../sagas/trip/trip.module.js';
import type { AppConfig } from './config/app-config.js';
import { DatabaseModule } from './database/database.module.js';
import { SagaModule } from './saga/index.js';

/**
 * The application's saga modules: add yours here. `npm start` serves exactly these (through
 * `serve()`), and so do the demo and the tests that do not name their own.
 */
export const SAGA_MODULES: readonly (Type | DynamicModule)[] = [OrderModule, PaymentModule, TripModule];

/** The application: the saga engine configured from the environment, plus its saga modules. */
@Module({})
export class AppModule {
  /** `sagaModules` replaces SAGA_MODULES, for tests and benchmarks that bring fixture sagas. */
  static forRoot(
    config: AppConfig,
    sagaModules: readonly (Type | DynamicModule)[] = SAGA_MODULES,
  ): DynamicModule {
    return {
      module: AppModule,
      imports: [
        DatabaseModule.forRoot(config.DATABASE_URL, config.DATABASE_POOLING),
        SagaModule.forRoot({
          databaseUrl: config.DATABASE_URL,
          pooling: config.DATABASE_POOLING,
          // The engine's tables, in schema `saga`, are migrated here; the application's by prepareDatabase().
          migrate: true,
          redisUrl: config.REDIS_URL,
          queuePrefix: config.QUEUE_PREFIX,
          role: config.SAGA_ROLE,
          concurrency: config.WORKER_CONCURRENCY,
          databasePoolSize: config.DATABASE_POOL_SIZE,
          lockDurationMs: config.LOCK_DURATION_MS,
          shutdownGraceMs: config.SHUTDOWN_GRACE_MS,
          apiKey: config.API_KEY,
          retentionMs: config.SAGA_RETENTION,
          tracing: config.OTEL_EXPORTER_OTLP_ENDPOINT
            ? { otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: config.OTEL_SERVICE_NAME }
            : undefined,
        }),
        ...sagaModules,
      ],
    };
  }
}

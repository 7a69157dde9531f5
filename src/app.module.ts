import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { OrderModule } from '../sagas/order/order.module.js';
import type { AppConfig } from './config/app-config.js';
import { DatabaseModule } from './database/database.module.js';
import { SagaModule } from './saga/index.js';

/** The application: the saga engine configured from the environment, plus the sagas in ../sagas. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig, sagaModules: (Type | DynamicModule)[] = [OrderModule]): DynamicModule {
    return {
      module: AppModule,
      imports: [
        DatabaseModule.forRoot(config.DATABASE_URL),
        SagaModule.forRoot({
          databaseUrl: config.DATABASE_URL,
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
        }),
        ...sagaModules,
      ],
    };
  }
}

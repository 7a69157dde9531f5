import { BullModule } from '@nestjs/bullmq';
import {
  Module,
  RequestMethod,
  type DynamicModule,
  type MiddlewareConsumer,
  type ModuleMetadata,
  type NestModule,
} from '@nestjs/common';
import { APP_FILTER, DiscoveryModule } from '@nestjs/core';
import { HealthController } from './api/health.controller.js';
import { MetricsController } from './api/metrics.controller.js';
import { SagaExceptionFilter } from './api/saga-exception.filter.js';
import { SagasController } from './api/sagas.controller.js';
import { SagaExplorer } from './definition/saga-explorer.js';
import { SagaMetadataAccessor } from './definition/saga-metadata.accessor.js';
import { SagaRegistry } from './definition/saga-registry.js';
import { CancellationBus } from './execution/cancellation-bus.js';
import { SagaDispatcher } from './execution/saga-dispatcher.js';
import { SAGA_QUEUE } from './execution/saga-queue.js';
import { SagaReconciler } from './execution/saga-reconciler.js';
import { SagaService } from './execution/saga.service.js';
import { StepInvoker } from './execution/step-invoker.js';
import { SagaVersionGate } from './execution/saga-version-gate.js';
import { StepWorker } from './execution/step.worker.js';
import { SagaEventLog } from './observability/saga-event-log.js';
import { SagaMetrics } from './observability/saga-metrics.js';
import { SagaTracing } from './observability/saga-tracing.js';
import {
  resolveSagaModuleOptions,
  SAGA_MODULE_OPTIONS,
  type ResolvedSagaModuleOptions,
  type SagaModuleOptions,
} from './saga-module-options.js';
import { SagaDatabase } from './store/saga-database.js';
import { SagaQueries } from './store/saga-queries.js';
import { SagaStore } from './store/saga.store.js';

export interface SagaModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Nest injects factory arguments by token
  useFactory: (...args: any[]) => SagaModuleOptions | Promise<SagaModuleOptions>;
  inject?: (string | symbol | (abstract new (...args: never[]) => unknown))[];
}

/** Holds the resolved options, so that both the engine and its BullMQ connection can inject them. */
@Module({})
class SagaOptionsModule {}

/**
 * The saga engine: finds `@Saga` providers, runs their steps on BullMQ with Postgres as the
 * source of truth, and serves the saga HTTP API, `/health` and `/metrics`.
 */
@Module({})
export class SagaModule implements NestModule {
  constructor(private readonly tracing: SagaTracing) {}

  configure(consumer: MiddlewareConsumer): void {
    if (!this.tracing.enabled) return;
    consumer
      .apply(this.tracing.serveStart.bind(this.tracing))
      .forRoutes({ path: 'sagas/:name', method: RequestMethod.POST });
  }

  static forRoot(options: SagaModuleOptions): DynamicModule {
    return SagaModule.forRootAsync({ useFactory: () => options });
  }

  static forRootAsync(options: SagaModuleAsyncOptions): DynamicModule {
    const optionsModule: DynamicModule = {
      module: SagaOptionsModule,
      imports: options.imports ?? [],
      providers: [
        {
          provide: SAGA_MODULE_OPTIONS,
          inject: options.inject ?? [],
          useFactory: async (...args: unknown[]) =>
            resolveSagaModuleOptions(await options.useFactory(...args)),
        },
      ],
      exports: [SAGA_MODULE_OPTIONS],
    };
    return {
      module: SagaModule,
      imports: [
        DiscoveryModule,
        optionsModule,
        BullModule.forRootAsync({
          imports: [optionsModule],
          inject: [SAGA_MODULE_OPTIONS],
          useFactory: (resolved: ResolvedSagaModuleOptions) => ({
            connection: { url: resolved.redisUrl },
            prefix: resolved.queuePrefix,
          }),
        }),
        BullModule.registerQueue({ name: SAGA_QUEUE }),
      ],
      controllers: [SagasController, HealthController, MetricsController],
      providers: [
        { provide: SagaDatabase, inject: [SAGA_MODULE_OPTIONS], useFactory: SagaDatabase.open },
        SagaStore,
        SagaQueries,
        SagaMetadataAccessor,
        SagaRegistry,
        SagaExplorer,
        SagaDispatcher,
        StepInvoker,
        StepWorker,
        SagaVersionGate,
        SagaReconciler,
        SagaService,
        CancellationBus,
        SagaMetrics,
        SagaEventLog,
        { provide: SagaTracing, inject: [SAGA_MODULE_OPTIONS], useFactory: SagaTracing.create },
        { provide: APP_FILTER, useClass: SagaExceptionFilter },
      ],
      exports: [SagaService, SagaQueries, SagaRegistry],
    };
  }
}

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
import { DocumentedRoutes } from './api/openapi/documented-routes.js';
import { OpenApiDocumentFactory } from './api/openapi/openapi-document.factory.js';
import { DocsController } from './api/openapi/docs.controller.js';
import { SagaActionsController } from './api/saga-actions.controller.js';
import { SagaExceptionFilter } from './api/saga-exception.filter.js';
import { SagasController } from './api/sagas.controller.js';
import { SchedulesController } from './api/schedules.controller.js';
import { DefinitionsController } from './api/definitions.controller.js';
import { SagaCountsController } from './api/saga-counts.controller.js';
import { SagaStreamController } from './api/saga-stream.controller.js';
import { DashboardController } from './dashboard/dashboard.controller.js';
import { SagaExplorer } from './definition/saga-explorer.js';
import { SagaMetadataAccessor } from './definition/saga-metadata.accessor.js';
import { SagaRegistry } from './definition/saga-registry.js';
import { CancellationBus } from './execution/cancellation-bus.js';
import { SagaDispatcher } from './execution/saga-dispatcher.js';
import { SAGA_QUEUE } from './execution/saga-queue.js';
import { LimitedQueues } from './execution/limited-queues.js';
import { SagaReconciler } from './execution/saga-reconciler.js';
import { SagaRetention } from './execution/saga-retention.js';
import { SagaService } from './execution/saga.service.js';
import { SagaBulkActions } from './execution/saga-bulk-actions.js';
import { StepInvoker } from './execution/step-invoker.js';
import { SagaVersionGate } from './execution/saga-version-gate.js';
import { StepWorker } from './execution/step.worker.js';
import { SagaEventLog } from './observability/saga-event-log.js';
import { SagaMetrics } from './observability/saga-metrics.js';
import { SagaTracing } from './observability/saga-tracing.js';
import {
  resolveSagaModuleOptions,
  SAGA_MODULE_OPTIONS,
  type SagaModuleOptions,
} from './saga-module-options.js';
import { RedisConnections } from './redis/redis-connections.js';
import { SagaDatabase } from './store/saga-database.js';
import { SagaQueries } from './store/saga-queries.js';
import { SagaStore } from './store/saga.store.js';
import { SagaRetentionStore } from './store/saga-retention.store.js';
import { SagaScheduler } from './schedules/saga-scheduler.js';
import { ScheduleMetrics } from './schedules/schedule-metrics.js';
import { ScheduleStore } from './schedules/schedule.store.js';
import { UnitProgressStore } from './store/unit-progress.store.js';
import { SagaStreamBus } from './streams/saga-stream-bus.js';
import { SagaStreams } from './streams/saga-streams.js';

export interface SagaModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Nest injects factory arguments by token
  useFactory: (...args: any[]) => SagaModuleOptions | Promise<SagaModuleOptions>;
  inject?: (string | symbol | (abstract new (...args: never[]) => unknown))[];
}

/** Holds the resolved options and the Redis connections, so that both the engine and BullMQ can inject them. */
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
        RedisConnections,
      ],
      exports: [SAGA_MODULE_OPTIONS, RedisConnections],
    };
    return {
      module: SagaModule,
      imports: [
        DiscoveryModule,
        optionsModule,
        BullModule.forRootAsync({
          imports: [optionsModule],
          inject: [RedisConnections],
          useFactory: (redis: RedisConnections) => redis.bullOptions(),
        }),
        BullModule.registerQueue({ name: SAGA_QUEUE }),
      ],
      // Actions first: their `actions/...` paths would match SagasController's `:id/...` routes.
      controllers: [
        SagaActionsController,
        SagasController,
        SagaStreamController,
        SagaCountsController,
        DefinitionsController,
        SchedulesController,
        DashboardController,
        HealthController,
        MetricsController,
        DocsController,
      ],
      providers: [
        { provide: SagaDatabase, inject: [SAGA_MODULE_OPTIONS], useFactory: SagaDatabase.open },
        SagaStore,
        UnitProgressStore,
        SagaQueries,
        SagaMetadataAccessor,
        SagaRegistry,
        SagaExplorer,
        SagaDispatcher,
        LimitedQueues,
        StepInvoker,
        StepWorker,
        SagaVersionGate,
        SagaReconciler,
        SagaRetentionStore,
        SagaRetention,
        SagaService,
        SagaBulkActions,
        CancellationBus,
        SagaStreamBus,
        SagaStreams,
        SagaMetrics,
        SagaEventLog,
        DocumentedRoutes,
        OpenApiDocumentFactory,
        ScheduleStore,
        SagaScheduler,
        ScheduleMetrics,
        { provide: SagaTracing, inject: [SAGA_MODULE_OPTIONS], useFactory: SagaTracing.create },
        { provide: APP_FILTER, useClass: SagaExceptionFilter },
      ],
      exports: [SagaService, SagaBulkActions, SagaQueries, SagaRegistry],
    };
  }
}

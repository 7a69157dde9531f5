import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { SAGA_MODULE_OPTIONS, type ResolvedSagaModuleOptions } from '../saga-module-options.js';
import { buildSagaDefinition } from './build-saga-definition.js';
import { SagaMetadataAccessor } from './saga-metadata.accessor.js';
import { SagaRegistry } from './saga-registry.js';

/** Finds every `@Saga` provider once, at module init, and registers its validated definition. */
@Injectable()
export class SagaExplorer implements OnModuleInit {
  private readonly logger = new Logger('SagaExplorer');

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly metadata: SagaMetadataAccessor,
    private readonly registry: SagaRegistry,
    @Inject(SAGA_MODULE_OPTIONS) private readonly options: ResolvedSagaModuleOptions,
  ) {}

  onModuleInit(): void {
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as object | undefined;
      // Resolve the class from the instance so that factory and value providers are found too.
      const sagaOptions = instance && this.metadata.sagaOptions(instance.constructor);
      if (!instance || !sagaOptions) continue;
      const definition = buildSagaDefinition(
        instance.constructor.name,
        instance,
        sagaOptions,
        this.metadata.decoratedMethods(instance),
        this.options.defaults,
      );
      this.registry.register(definition);
      this.logger.log(
        `Saga "${definition.name}" v${definition.version}: ${definition.steps.map((s) => s.name).join(' → ')}`,
      );
    }
  }
}

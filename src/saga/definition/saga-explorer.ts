import { SagaDefinitionError } from '../errors/saga-definition.error.js';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { SAGA_MODULE_OPTIONS, type ResolvedSagaModuleOptions } from '../saga-module-options.js';
import { buildSagaDefinition } from './build-saga-definition.js';
import type { SagaDefinition } from './saga-definition.interface.js';
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
    }
    this.checkChildren(this.registry.all());
    this.checkSchedules();
    this.reportFound(this.registry.all());
  }

  /** A schedule id names one schedule in the whole application (its fires' idempotency keys are built from it). */
  private checkSchedules(): void {
    const owners = new Map<string, string>();
    for (const { saga, schedule } of this.registry.schedules()) {
      const owner = owners.get(schedule.id);
      if (owner) {
        throw new SagaDefinitionError(
          this.registry.find(saga)!.className,
          `schedule id "${schedule.id}" is also used by saga "${owner}"`,
        );
      }
      owners.set(schedule.id, saga);
    }
  }

  /** A child step names a saga that this process runs too, found once every saga is registered. */
  private checkChildren(definitions: SagaDefinition[]): void {
    for (const def of definitions) {
      for (const step of def.steps) {
        if (step.child && !this.registry.find(step.child)) {
          throw new SagaDefinitionError(
            def.className,
            `step ${step.name} runs child saga "${step.child}", which is not registered`,
          );
        }
      }
    }
  }

  /**
   * One line that says what this process serves (every version of every saga), so a saga that was
   * never registered shows at boot, not as a 404.
   */
  private reportFound(definitions: SagaDefinition[]): void {
    if (definitions.length === 0) {
      this.logger.warn(
        'Found no saga: every POST /sagas/{name} will answer 404. Register each @Saga class as a provider ' +
          'of a module imported next to SagaModule (in this application: SAGA_MODULES in src/app.module.ts).',
      );
      return;
    }
    // Every version is listed: the older ones are what this process can still finish.
    const described = definitions.map(
      (d) => `${d.name}@${d.version} (${d.steps.map((step) => step.name).join(' → ')})`,
    );
    const sagas = new Set(definitions.map((d) => d.name)).size;
    this.logger.log(`Found ${sagas} saga${sagas === 1 ? '' : 's'}: ${described.join(', ')}`);
  }
}

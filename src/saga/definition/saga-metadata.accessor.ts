import { Injectable } from '@nestjs/common';
import { MetadataScanner, Reflector } from '@nestjs/core';
import type { CompensateMetadata } from '../decorators/compensate.decorator.js';
import { COMPENSATE_METADATA, SAGA_METADATA, STEP_METADATA } from '../decorators/metadata-keys.js';
import type { DecoratedMethod } from './build-saga-definition.js';
import type { SagaOptions, StepOptions } from './saga-options.interface.js';

/** The one place that reads the decorators' metadata. */
@Injectable()
export class SagaMetadataAccessor {
  constructor(
    private readonly reflector: Reflector,
    private readonly scanner: MetadataScanner,
  ) {}

  sagaOptions(target: object): SagaOptions | undefined {
    return this.reflector.get<SagaOptions | undefined>(SAGA_METADATA, target as new () => unknown);
  }

  /** The class's methods in declaration order, each with its `@Step` or `@Compensate` metadata. */
  decoratedMethods(instance: object): DecoratedMethod[] {
    const prototype = Object.getPrototypeOf(instance) as Record<string, (...args: unknown[]) => unknown>;
    return this.scanner.getAllMethodNames(prototype).map((name) => ({
      name,
      step: this.reflector.get<StepOptions | undefined>(STEP_METADATA, prototype[name]),
      compensate: this.reflector.get<CompensateMetadata | undefined>(COMPENSATE_METADATA, prototype[name]),
    }));
  }
}

import { Injectable } from '@nestjs/common';
import { SagaDefinitionError } from '../errors/saga-definition.error.js';
import type { SagaDefinition } from './saga-definition.interface.js';

/** The saga definitions of this application, filled once at module init by the explorer. */
@Injectable()
export class SagaRegistry {
  private readonly definitions = new Map<string, SagaDefinition>();

  register(definition: SagaDefinition): void {
    const existing = this.definitions.get(definition.name);
    if (existing && existing.instance !== definition.instance) {
      throw new SagaDefinitionError(
        definition.className,
        `the name "${definition.name}" is already used by ${existing.className}`,
      );
    }
    this.definitions.set(definition.name, definition);
  }

  find(name: string): SagaDefinition | undefined {
    return this.definitions.get(name);
  }

  names(): string[] {
    return [...this.definitions.keys()];
  }

  all(): SagaDefinition[] {
    return [...this.definitions.values()];
  }
}

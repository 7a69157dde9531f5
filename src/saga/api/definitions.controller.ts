import { Controller, Get, UseGuards } from '@nestjs/common';
import { toSagaDefinitionView, type SagaDefinitionView } from '../definition/saga-definition-view.js';
import { SagaRegistry } from '../definition/saga-registry.js';
import { SagaRoutesGuard } from './saga-routes.guard.js';

@Controller('definitions')
@UseGuards(SagaRoutesGuard)
export class DefinitionsController {
  constructor(private readonly registry: SagaRegistry) {}

  /** Every version of every saga this process has, each saga's versions in ascending order. */
  @Get()
  list(): { items: SagaDefinitionView[] } {
    return {
      items: this.registry
        .all()
        .map((def) => toSagaDefinitionView(def, this.registry.find(def.name) === def)),
    };
  }
}

import { Controller, Get, UseGuards } from '@nestjs/common';
import { toSagaDefinitionView, type SagaDefinitionView } from '../definition/saga-definition-view.js';
import { SagaRegistry } from '../definition/saga-registry.js';
import { OpenApiOperation } from './openapi/openapi-operation.decorator.js';
import { sagaDefinitionsSchema } from './openapi/response-schemas.js';
import { SagaRoutesGuard } from './saga-routes.guard.js';

@Controller('definitions')
@UseGuards(SagaRoutesGuard)
export class DefinitionsController {
  constructor(private readonly registry: SagaRegistry) {}

  /** Every version of every saga this process has, each saga's versions in ascending order. */
  @Get()
  @OpenApiOperation({
    summary: 'Every version of every saga this process runs, with its steps, signals and limits',
    responses: { 200: { description: 'The definitions', schema: sagaDefinitionsSchema } },
    usesBackingServices: false,
  })
  list(): { items: SagaDefinitionView[] } {
    return {
      items: this.registry
        .all()
        .map((def) => toSagaDefinitionView(def, this.registry.find(def.name) === def)),
    };
  }
}

import { Controller, Get, UseGuards } from '@nestjs/common';
import { SagaQueries } from '../store/saga-queries.js';
import { OpenApiOperation } from './openapi/openapi-operation.decorator.js';
import { sagaCountsSchema } from './openapi/response-schemas.js';
import { SagaRoutesGuard } from './saga-routes.guard.js';

@Controller('saga-counts')
@UseGuards(SagaRoutesGuard)
export class SagaCountsController {
  constructor(private readonly queries: SagaQueries) {}

  /** How many sagas there are of each name in each status (what the dashboard's totals show). */
  @Get()
  @OpenApiOperation({
    summary: 'How many sagas there are of each name in each status',
    responses: { 200: { description: 'The counts', schema: sagaCountsSchema } },
  })
  async counts(): Promise<{ items: { name: string; status: string; count: number }[] }> {
    return { items: await this.queries.countsByNameAndStatus() };
  }
}

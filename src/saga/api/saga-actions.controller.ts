import { Body, Controller, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { BULK_CANCELLABLE, BULK_RETRYABLE, SagaBulkActions } from '../execution/saga-bulk-actions.js';
import { SagaService, type SagaSummary } from '../execution/saga.service.js';
import { bulkFilterSchema, skipBodySchema, stepNameSchema } from './action-schemas.js';
import { assertJsonObjectBody, parseRequest, sagaIdSchema } from './request-schemas.js';
import { SagaRoutesGuard } from './saga-routes.guard.js';

const cancelFilter = bulkFilterSchema(BULK_CANCELLABLE);
const retryFilter = bulkFilterSchema(BULK_RETRYABLE);

/**
 * An operator's actions beyond a saga's cancel and retry: on one step, and on every saga that
 * matches a filter. Registered before SagasController, whose `POST :id/cancel` would otherwise
 * take `POST actions/cancel`.
 */
@Controller('sagas')
@UseGuards(SagaRoutesGuard)
export class SagaActionsController {
  constructor(
    private readonly sagas: SagaService,
    private readonly bulk: SagaBulkActions,
  ) {}

  @Post('actions/cancel')
  @HttpCode(202)
  async cancelMatching(@Body() body: unknown): Promise<{ matched: number }> {
    assertJsonObjectBody(body);
    return { matched: await this.bulk.cancel(parseRequest(cancelFilter, body, 'filter')) };
  }

  @Post('actions/retry')
  @HttpCode(202)
  async retryMatching(@Body() body: unknown): Promise<{ matched: number }> {
    assertJsonObjectBody(body);
    return { matched: await this.bulk.retry(parseRequest(retryFilter, body, 'filter')) };
  }

  @Post(':id/steps/:step/retry')
  @HttpCode(202)
  async retryStep(@Param('id') id: string, @Param('step') step: string): Promise<SagaSummary> {
    return this.sagas.retryStep(
      parseRequest(sagaIdSchema, id, 'saga id'),
      parseRequest(stepNameSchema, step, 'step name'),
    );
  }

  /** The body is optional: without one, the step completes with a null output. */
  @Post(':id/steps/:step/skip')
  @HttpCode(202)
  async skipStep(
    @Param('id') id: string,
    @Param('step') step: string,
    @Body() body: unknown,
  ): Promise<SagaSummary> {
    const sagaId = parseRequest(sagaIdSchema, id, 'saga id');
    const name = parseRequest(stepNameSchema, step, 'step name');
    if (body !== undefined) assertJsonObjectBody(body);
    return this.sagas.skipStep(sagaId, name, parseRequest(skipBodySchema, body ?? {}, 'body'));
  }
}

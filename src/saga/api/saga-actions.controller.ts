import { Body, Controller, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { BULK_CANCELLABLE, BULK_RETRYABLE, SagaBulkActions } from '../execution/saga-bulk-actions.js';
import { SagaService, type SagaSummary } from '../execution/saga.service.js';
import { bulkFilterSchema, skipBodySchema, stepNameSchema } from './action-schemas.js';
import { assertJsonObjectBody, parseRequest, sagaIdSchema } from './request-schemas.js';
import { OpenApiOperation } from './openapi/openapi-operation.decorator.js';
import { bulkResultSchema, sagaSummarySchema } from './openapi/response-schemas.js';
import { SagaRoutesGuard } from './saga-routes.guard.js';

const STEP_PARAMS = { id: sagaIdSchema, step: stepNameSchema };

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
  @OpenApiOperation({
    summary: 'Cancel every active saga that matches a filter',
    description: 'Each matching `pending` or `running` saga is cancelled as by its own cancel route.',
    body: cancelFilter,
    responses: {
      202: { description: 'How many sagas were cancelled', schema: bulkResultSchema },
      400: 'No filter, an unknown field, a bad value, or a status the action does not apply to',
    },
  })
  async cancelMatching(@Body() body: unknown): Promise<{ matched: number }> {
    assertJsonObjectBody(body);
    return { matched: await this.bulk.cancel(parseRequest(cancelFilter, body, 'filter')) };
  }

  @Post('actions/retry')
  @HttpCode(202)
  @OpenApiOperation({
    summary: 'Retry every failed saga that matches a filter',
    description: 'Each matching `failed` saga is retried as by its own retry route.',
    body: retryFilter,
    responses: {
      202: { description: 'How many sagas were retried', schema: bulkResultSchema },
      400: 'No filter, an unknown field, a bad value, or a status the action does not apply to',
    },
  })
  async retryMatching(@Body() body: unknown): Promise<{ matched: number }> {
    assertJsonObjectBody(body);
    return { matched: await this.bulk.retry(parseRequest(retryFilter, body, 'filter')) };
  }

  @Post(':id/steps/:step/retry')
  @HttpCode(202)
  @OpenApiOperation({
    summary: 'Retry a step now',
    description:
      'A step waiting out a retry backoff runs its next attempt now; in a `failed` saga, the ' +
      "step's failed compensation runs again with a fresh attempt budget.",
    params: STEP_PARAMS,
    responses: {
      202: { description: 'Retried', schema: sagaSummarySchema },
      400: 'Malformed saga id',
      404: 'Unknown saga or step',
      409: 'Nothing to retry',
    },
  })
  async retryStep(@Param('id') id: string, @Param('step') step: string): Promise<SagaSummary> {
    return this.sagas.retryStep(
      parseRequest(sagaIdSchema, id, 'saga id'),
      parseRequest(stepNameSchema, step, 'step name'),
    );
  }

  /** The body is optional: without one, the step completes with a null output. */
  @Post(':id/steps/:step/skip')
  @HttpCode(202)
  @OpenApiOperation({
    summary: 'Skip a step with an output',
    description:
      'A step of a running saga that has not completed ends `skipped` with `output` (default null) ' +
      'in place of running, and the saga goes on. The body is optional.',
    params: STEP_PARAMS,
    body: skipBodySchema,
    responses: {
      202: { description: 'Skipped', schema: sagaSummarySchema },
      400: 'Malformed saga id or body',
      404: 'Unknown saga or step',
      409: 'The saga is not running, the step completed or was skipped, or an attempt of it is running',
    },
  })
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

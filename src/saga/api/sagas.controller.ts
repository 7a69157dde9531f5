import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Res, UseGuards } from '@nestjs/common';
import { SagaNotFoundError } from '../errors/saga-not-found.error.js';
import { SagaService, type SagaSummary, type SignalReceipt } from '../execution/saga.service.js';
import { SagaQueries } from '../store/saga-queries.js';
import type { SagaEventView, SagaView } from '../store/saga-views.js';
import {
  assertJsonObjectBody,
  idempotencyKeySchema,
  listQuerySchema,
  parseRequest,
  sagaIdSchema,
  signalNameSchema,
  startQuerySchema,
} from './request-schemas.js';
import { OpenApiOperation } from './openapi/openapi-operation.decorator.js';
import {
  sagaEventsSchema,
  sagaListSchema,
  sagaSummarySchema,
  sagaViewSchema,
  signalReceiptSchema,
} from './openapi/response-schemas.js';
import { SagaRoutesGuard } from './saga-routes.guard.js';

const MALFORMED_ID = 'Malformed saga id';
const UNKNOWN_ID = 'No saga has this id';

@Controller('sagas')
@UseGuards(SagaRoutesGuard)
export class SagasController {
  constructor(
    private readonly sagas: SagaService,
    private readonly queries: SagaQueries,
  ) {}

  /** 202 for a new saga; 200 with the same body when the Idempotency-Key was already used for this saga. */
  @Post(':name')
  @OpenApiOperation({
    summary: 'Start a saga',
    description:
      '`delayMs` (0 .. 1 year) or `startAt` (at most a year ahead; not both) schedules the start: the saga ' +
      "is `pending` until then. `deadlineMs` (>= 100) overrides the saga's deadline. A repeated " +
      '`Idempotency-Key` with the same input answers the saga it started.',
    query: startQuerySchema,
    headers: { 'Idempotency-Key': idempotencyKeySchema },
    body: 'saga-input',
    responses: {
      202: { description: 'Started (or scheduled)', schema: sagaSummarySchema },
      200: {
        description: 'This Idempotency-Key already started this saga with this input',
        schema: sagaSummarySchema,
      },
      400: 'Invalid JSON, input (see `issues`) or option',
      404: 'No saga has this name',
      409: 'This Idempotency-Key was used with a different input',
    },
  })
  async start(
    @Param('name') name: string,
    @Body() input: unknown,
    @Query() query: unknown,
    @Headers('idempotency-key') idempotencyKey: unknown,
    @Res({ passthrough: true }) response: { status(code: number): void },
  ): Promise<SagaSummary> {
    const key = parseRequest(idempotencyKeySchema, idempotencyKey, 'Idempotency-Key header');
    const timing = parseRequest(startQuerySchema, query, 'query');
    assertJsonObjectBody(input);
    const saga = await this.sagas.start(name, input, { idempotencyKey: key, ...timing });
    response.status(saga.created ? 202 : 200);
    return { id: saga.id, name: saga.name, status: saga.status };
  }

  @Get()
  @OpenApiOperation({
    summary: 'List sagas, newest first',
    query: listQuerySchema,
    responses: { 200: { description: 'A page of sagas', schema: sagaListSchema }, 400: 'Bad filter' },
  })
  async list(@Query() query: unknown): Promise<{ items: SagaView[]; nextCursor: string | null }> {
    return this.queries.list(parseRequest(listQuerySchema, query, 'query'));
  }

  @Get(':id')
  @OpenApiOperation({
    summary: 'A saga with its steps',
    params: { id: sagaIdSchema },
    responses: {
      200: { description: 'The saga', schema: sagaViewSchema },
      400: MALFORMED_ID,
      404: UNKNOWN_ID,
    },
  })
  async get(@Param('id') id: string): Promise<SagaView> {
    const saga = await this.queries.get(parseRequest(sagaIdSchema, id, 'saga id'));
    if (!saga) throw new SagaNotFoundError(id);
    return saga;
  }

  @Get(':id/events')
  @OpenApiOperation({
    summary: "A saga's recorded events, oldest first",
    params: { id: sagaIdSchema },
    responses: {
      200: { description: 'Its events', schema: sagaEventsSchema },
      400: MALFORMED_ID,
      404: UNKNOWN_ID,
    },
  })
  async events(@Param('id') id: string): Promise<{ items: SagaEventView[] }> {
    const items = await this.queries.events(parseRequest(sagaIdSchema, id, 'saga id'));
    if (!items) throw new SagaNotFoundError(id);
    return { items };
  }

  /** 202 for a signal delivered; 200 with the same body when its Idempotency-Key was delivered to this saga already. */
  @Post(':id/signals/:signal')
  @OpenApiOperation({
    summary: 'Send a signal to a saga',
    description: 'Kept until a step of the saga waits for it: it may arrive before the step waits.',
    params: { id: sagaIdSchema },
    headers: { 'Idempotency-Key': idempotencyKeySchema },
    body: 'signal-payload',
    responses: {
      202: { description: 'Accepted', schema: signalReceiptSchema },
      200: {
        description: 'This Idempotency-Key was already delivered to this saga',
        schema: signalReceiptSchema,
      },
      400: "Malformed saga id, or the payload fails the signal's schema (see `issues`)",
      404: 'No saga has this id, or its definition declares no such signal',
      409: 'The saga is terminal',
    },
  })
  async signal(
    @Param('id') id: string,
    @Param('signal') signal: string,
    @Body() payload: unknown,
    @Headers('idempotency-key') idempotencyKey: unknown,
    @Res({ passthrough: true }) response: { status(code: number): void },
  ): Promise<Omit<SignalReceipt, 'delivered'>> {
    const sagaId = parseRequest(sagaIdSchema, id, 'saga id');
    const name = parseRequest(signalNameSchema, signal, 'signal name');
    const key = parseRequest(idempotencyKeySchema, idempotencyKey, 'Idempotency-Key header');
    assertJsonObjectBody(payload);
    const { delivered, ...receipt } = await this.sagas.signal(sagaId, name, payload, { idempotencyKey: key });
    response.status(delivered ? 202 : 200);
    return receipt;
  }

  @Post(':id/cancel')
  @HttpCode(202)
  @OpenApiOperation({
    summary: 'Cancel a saga',
    description: 'It stops before its next step and compensates the completed ones.',
    params: { id: sagaIdSchema },
    responses: {
      202: { description: 'Cancelling', schema: sagaSummarySchema },
      400: MALFORMED_ID,
      404: UNKNOWN_ID,
      409: 'The saga is already terminal',
    },
  })
  async cancel(@Param('id') id: string): Promise<SagaSummary> {
    return this.sagas.cancel(parseRequest(sagaIdSchema, id, 'saga id'));
  }

  @Post(':id/retry')
  @HttpCode(202)
  @OpenApiOperation({
    summary: 'Retry a failed saga',
    description: 'Resumes the compensation that exhausted its retries, with a fresh attempt budget.',
    params: { id: sagaIdSchema },
    responses: {
      202: { description: 'Compensating again', schema: sagaSummarySchema },
      400: MALFORMED_ID,
      404: UNKNOWN_ID,
      409: 'The saga is not `failed`',
    },
  })
  async retry(@Param('id') id: string): Promise<SagaSummary> {
    return this.sagas.retry(parseRequest(sagaIdSchema, id, 'saga id'));
  }
}

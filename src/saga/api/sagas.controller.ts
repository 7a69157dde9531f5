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
import { SagaRoutesGuard } from './saga-routes.guard.js';

@Controller('sagas')
@UseGuards(SagaRoutesGuard)
export class SagasController {
  constructor(
    private readonly sagas: SagaService,
    private readonly queries: SagaQueries,
  ) {}

  /** 202 for a new saga; 200 with the same body when the Idempotency-Key was already used for this saga. */
  @Post(':name')
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
  async list(@Query() query: unknown): Promise<{ items: SagaView[]; nextCursor: string | null }> {
    return this.queries.list(parseRequest(listQuerySchema, query, 'query'));
  }

  @Get(':id')
  async get(@Param('id') id: string): Promise<SagaView> {
    const saga = await this.queries.get(parseRequest(sagaIdSchema, id, 'saga id'));
    if (!saga) throw new SagaNotFoundError(id);
    return saga;
  }

  @Get(':id/events')
  async events(@Param('id') id: string): Promise<{ items: SagaEventView[] }> {
    const items = await this.queries.events(parseRequest(sagaIdSchema, id, 'saga id'));
    if (!items) throw new SagaNotFoundError(id);
    return { items };
  }

  /** 202 for a signal delivered; 200 with the same body when its Idempotency-Key was delivered to this saga already. */
  @Post(':id/signals/:signal')
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
  async cancel(@Param('id') id: string): Promise<SagaSummary> {
    return this.sagas.cancel(parseRequest(sagaIdSchema, id, 'saga id'));
  }

  @Post(':id/retry')
  @HttpCode(202)
  async retry(@Param('id') id: string): Promise<SagaSummary> {
    return this.sagas.retry(parseRequest(sagaIdSchema, id, 'saga id'));
  }
}

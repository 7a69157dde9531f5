import { z } from 'zod';
import { Controller, Get, Param, Res, UseGuards } from '@nestjs/common';
import type { StreamResponse } from '../streams/saga-event-stream.js';
import { SagaStreams } from '../streams/saga-streams.js';
import { parseRequest, sagaIdSchema } from './request-schemas.js';
import { OpenApiOperation } from './openapi/openapi-operation.decorator.js';
import { SagaRoutesGuard } from './saga-routes.guard.js';

@Controller('sagas')
@UseGuards(SagaRoutesGuard)
export class SagaStreamController {
  constructor(private readonly streams: SagaStreams) {}

  /**
   * Server-sent events: a `snapshot` (the saga view), then a `saga-event` per event recorded after
   * it (the `/events` item shape); ends after the saga's terminal event.
   */
  @Get(':id/stream')
  @OpenApiOperation({
    summary: "A saga's live stream (server-sent events)",
    description:
      'First a `snapshot` event (the saga view), then one `saga-event` per recorded event (the `/events` ' +
      "item shape, its `seq` as the event's id) within a second of its commit; a comment every 15 s; " +
      'closes after the terminal event.',
    params: { id: sagaIdSchema },
    responses: {
      200: { description: 'The event stream', contentType: 'text/event-stream', schema: z.string() },
      400: 'Malformed saga id',
      404: 'No saga has this id',
    },
  })
  async stream(@Param('id') id: string, @Res() response: StreamResponse): Promise<void> {
    await this.streams.serve(parseRequest(sagaIdSchema, id, 'saga id'), response);
  }
}

import { Controller, Get, Param, Res, UseGuards } from '@nestjs/common';
import type { StreamResponse } from '../streams/saga-event-stream.js';
import { SagaStreams } from '../streams/saga-streams.js';
import { parseRequest, sagaIdSchema } from './request-schemas.js';
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
  async stream(@Param('id') id: string, @Res() response: StreamResponse): Promise<void> {
    await this.streams.serve(parseRequest(sagaIdSchema, id, 'saga id'), response);
  }
}

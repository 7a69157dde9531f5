import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { SagaNotFoundError } from '../errors/saga-not-found.error.js';
import { SagaQueries } from '../store/saga-queries.js';
import { SagaEventStream, type StreamResponse } from './saga-event-stream.js';
import { SagaStreamBus } from './saga-stream-bus.js';

/** The open `GET /sagas/{id}/stream` responses of this process, ended before the HTTP server closes. */
@Injectable()
export class SagaStreams implements BeforeApplicationShutdown {
  private readonly logger = new Logger('SagaStreams');
  private readonly open = new Map<SagaEventStream, StreamResponse>();

  constructor(
    private readonly queries: SagaQueries,
    private readonly bus: SagaStreamBus,
  ) {}

  /** Streams the saga to `response`; throws SagaNotFoundError, with nothing written, for an unknown saga. */
  async serve(sagaId: string, response: StreamResponse): Promise<void> {
    const stream = new SagaEventStream(sagaId, this.queries, this.bus, this.logger);
    this.open.set(stream, response);
    let found = false;
    try {
      found = await stream.open(response, () => this.open.delete(stream));
    } finally {
      if (!found) this.open.delete(stream);
    }
    if (!found) throw new SagaNotFoundError(sagaId);
  }

  /** A server closing waits for its open responses: a stream would keep it waiting for good. */
  beforeApplicationShutdown(): void {
    for (const [stream, response] of this.open) stream.close(response);
    this.open.clear();
  }
}

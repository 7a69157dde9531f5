import type { Logger } from '@nestjs/common';
import { SagaEventType } from '../machine/saga-events.js';
import { TERMINAL_SAGA_STATUSES } from '../saga-status.js';
import type { EventCursor, SagaQueries } from '../store/saga-queries.js';
import type { SagaEventView, SagaView } from '../store/saga-views.js';
import type { SagaStreamBus } from './saga-stream-bus.js';

/** How often a stream reads the events it was not told of (a missed message, Redis down). */
const CATCH_UP_MS = 1000;
/** An SSE comment this often keeps proxies and clients from taking a quiet stream for a dead one. */
const HEARTBEAT_MS = 15_000;

const TERMINAL_EVENTS: readonly string[] = [
  SagaEventType.SagaCompleted,
  SagaEventType.SagaCompensated,
  SagaEventType.SagaFailed,
];

/** The part of a Node/Express response a stream writes to. */
export interface StreamResponse {
  writeHead(status: number, headers: Record<string, string>): unknown;
  write(chunk: string): boolean;
  end(): unknown;
  on(event: 'close', listener: () => void): unknown;
  readonly writableEnded: boolean;
}

/**
 * One `GET /sagas/{id}/stream`: the saga view, then each event recorded after it, once and in
 * order, until the saga ends or the client goes away. Reads from Postgres only, after the cursor
 * that came with the view; the bus and a timer only say when to read.
 */
export class SagaEventStream {
  private cursor?: EventCursor;
  private reading = false;
  private again = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private stopListening?: () => void;
  private closed = false;

  constructor(
    private readonly sagaId: string,
    private readonly queries: SagaQueries,
    private readonly bus: SagaStreamBus,
    private readonly logger: Logger,
  ) {}

  /**
   * Writes the snapshot and goes on streaming; false, with nothing written, when there is no such
   * saga. Listens before reading the snapshot, so that a commit right after it is not missed.
   */
  async open(response: StreamResponse, onClose: () => void): Promise<boolean> {
    // Listened to first: a client may leave while the snapshot is read.
    response.on('close', () => {
      this.close(response);
      onClose();
    });
    this.stopListening = this.bus.listen(this.sagaId, () => this.catchUp(response));
    let first: { view: SagaView; cursor: EventCursor } | undefined;
    try {
      first = await this.queries.viewWithCursor(this.sagaId);
    } finally {
      if (!first) this.stopListening();
    }
    if (!first) return false;
    if (this.closed) return true;
    response.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      // Tells nginx-like proxies not to buffer the stream.
      'X-Accel-Buffering': 'no',
    });
    response.write(`event: snapshot\ndata: ${JSON.stringify(first.view)}\n\n`);
    if (TERMINAL_SAGA_STATUSES.includes(first.view.status)) {
      this.close(response);
      return true;
    }
    this.cursor = first.cursor;
    this.timers.push(
      setInterval(() => this.catchUp(response), CATCH_UP_MS),
      setInterval(() => response.write(': heartbeat\n\n'), HEARTBEAT_MS),
    );
    this.catchUp(response);
    return true;
  }

  /** Ends the stream (the saga ended, the client left, the app stops). */
  close(response: StreamResponse): void {
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
    this.stopListening?.();
    if (!response.writableEnded) response.end();
  }

  /** Reads and sends what was recorded since the cursor; one read at a time, another after it if asked meanwhile. */
  private catchUp(response: StreamResponse): void {
    if (!this.cursor || this.closed) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    this.again = false;
    this.queries
      .eventsAfter(this.sagaId, this.cursor)
      .then(({ events, cursor }) => {
        this.cursor = cursor;
        this.send(response, events);
      })
      .catch((error: Error) =>
        this.logger.warn(`stream of saga ${this.sagaId}: events not read, retrying (${error.message})`),
      )
      .finally(() => {
        this.reading = false;
        if (this.again) this.catchUp(response);
      });
  }

  private send(response: StreamResponse, events: SagaEventView[]): void {
    for (const event of events) {
      if (this.closed) return;
      response.write(`event: saga-event\nid: ${event.seq}\ndata: ${JSON.stringify(event)}\n\n`);
      if (TERMINAL_EVENTS.includes(event.type)) return this.close(response);
    }
  }
}

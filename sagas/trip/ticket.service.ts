import { Injectable } from '@nestjs/common';
import { AppDatabase } from '../../src/database/app-database.js';

export interface Ticket {
  kind: 'flight' | 'hotel' | 'car';
  /** The booking or rental it is for. */
  reference: string;
  description: string;
}

/** Records the tickets of trips in `trip_tickets`, once per key however often it is called. */
@Injectable()
export class TicketService {
  constructor(private readonly database: AppDatabase) {}

  /**
   * The insert honours `signal`: a trip cancelled while its tickets wait for the database (a lock,
   * a slow disk) issues none, instead of issuing them for a trip that is being undone.
   */
  async issue(
    request: { key: string; tripId: string; sagaId: string; travelerId: string; tickets: Ticket[] },
    signal: AbortSignal,
  ): Promise<{ tickets: Ticket[] }> {
    const { key, tripId, sagaId, travelerId, tickets } = request;
    signal.throwIfAborted();
    const insert = this.database.sql`
      INSERT INTO trip_tickets (key, trip_id, saga_id, traveler_id, tickets)
      VALUES (${key}, ${tripId}, ${sagaId}, ${travelerId}, ${JSON.stringify(tickets)}::text::jsonb)
      ON CONFLICT (key) DO NOTHING`;
    const cancel = () => insert.cancel();
    signal.addEventListener('abort', cancel, { once: true });
    try {
      await insert;
    } finally {
      signal.removeEventListener('abort', cancel);
    }
    return { tickets };
  }
}

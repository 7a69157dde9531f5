import { Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppDatabase } from '../../src/database/app-database.js';
import { NonRetryableError } from '../../src/saga/index.js';

/** No airline flies there: a non-retryable failure. */
export const NO_FLIGHTS_DESTINATION = 'ZZZ';
/** The airline takes `SLOW_ANSWER_MS` to answer for this destination. */
export const SLOW_DESTINATION = 'SLO';
export const SLOW_ANSWER_MS = 2_000;

export interface FlightBooking {
  bookingId: string;
  from: string;
  to: string;
}

/** A demo airline whose bookings are kept in Postgres, one per idempotency key. */
@Injectable()
export class FlightService {
  constructor(private readonly database: AppDatabase) {}

  /**
   * Books once under `key`. A slow answer is awaited with `signal`: an abort (a cancel, a timeout,
   * a sibling booking that failed) ends the wait at once, and nothing is booked.
   */
  async book(
    request: { key: string; tripId: string; from: string; to: string },
    signal: AbortSignal,
  ): Promise<FlightBooking> {
    const { key, tripId, from, to } = request;
    if (to === NO_FLIGHTS_DESTINATION) throw new NonRetryableError('no flights');
    if (to === SLOW_DESTINATION) await sleep(SLOW_ANSWER_MS, undefined, { signal });
    await this.database.sql`
      INSERT INTO flight_bookings (key, trip_id, origin, destination) VALUES (${key}, ${tripId}, ${from}, ${to})
      ON CONFLICT (key) DO NOTHING`;
    return { bookingId: key, from, to };
  }

  /** Cancels a booking once; cancelling again, or what was never booked, changes nothing. */
  async cancel(key: string): Promise<{ cancelled: boolean }> {
    const rows = await this.database.sql`
      UPDATE flight_bookings SET cancelled_at = now() WHERE key = ${key} AND cancelled_at IS NULL RETURNING key`;
    return { cancelled: rows.length === 1 };
  }
}

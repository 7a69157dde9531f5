import { Injectable } from '@nestjs/common';
import { AppDatabase } from '../../src/database/app-database.js';
import { NonRetryableError } from '../../src/saga/index.js';

/** No hotel there: a non-retryable failure. */
export const NO_HOTELS_CITY = 'Atlantis';

export interface HotelBooking {
  bookingId: string;
  city: string;
  nights: number;
}

/** A demo hotel chain whose bookings are kept in Postgres, one per idempotency key. */
@Injectable()
export class HotelService {
  constructor(private readonly database: AppDatabase) {}

  async book(request: { key: string; tripId: string; city: string; nights: number }): Promise<HotelBooking> {
    const { key, tripId, city, nights } = request;
    if (city === NO_HOTELS_CITY) throw new NonRetryableError(`no hotel in ${city}`);
    await this.database.sql`
      INSERT INTO hotel_bookings (key, trip_id, city, nights) VALUES (${key}, ${tripId}, ${city}, ${nights})
      ON CONFLICT (key) DO NOTHING`;
    return { bookingId: key, city, nights };
  }

  /** Cancels a booking once; cancelling again, or what was never booked, changes nothing. */
  async cancel(key: string): Promise<{ cancelled: boolean }> {
    const rows = await this.database.sql`
      UPDATE hotel_bookings SET cancelled_at = now() WHERE key = ${key} AND cancelled_at IS NULL RETURNING key`;
    return { cancelled: rows.length === 1 };
  }
}

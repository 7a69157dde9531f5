import { Injectable } from '@nestjs/common';
import { AppDatabase } from '../../src/database/app-database.js';
import { DeskUnavailableError } from './desk-unavailable.error.js';
import type { CarClass } from './trip.input.js';

/** The desk is "unavailable" for the first two calls of each rental of this class, then it answers. */
export const BUSY_CAR_CLASS: CarClass = 'suv';
const BUSY_CALLS = 2;

export type CarRental = { rented: true; rentalId: string; class: CarClass } | { rented: false };

/** A demo car rental desk whose rentals are kept in Postgres, one per idempotency key. */
@Injectable()
export class CarRentalService {
  constructor(private readonly database: AppDatabase) {}

  /** Rents once under `key`; the call is counted and answered in one statement. A trip without a car rents nothing. */
  async rent(request: { key: string; tripId: string; car?: { class: CarClass } }): Promise<CarRental> {
    const { key, tripId, car } = request;
    if (!car) return { rented: false };
    const busyCalls = car.class === BUSY_CAR_CLASS ? BUSY_CALLS : 0;
    const [{ rented }] = await this.database.sql<{ rented: boolean }[]>`
      INSERT INTO car_rentals AS r (key, trip_id, car_class, calls, rented_at)
      VALUES (${key}, ${tripId}, ${car.class}, 1, CASE WHEN 1 > ${busyCalls} THEN now() END)
      ON CONFLICT (key) DO UPDATE SET
        calls = r.calls + 1,
        rented_at = coalesce(r.rented_at, CASE WHEN r.calls + 1 > ${busyCalls} THEN now() END)
      RETURNING rented_at IS NOT NULL AS rented`;
    if (!rented) throw new DeskUnavailableError();
    return { rented: true, rentalId: key, class: car.class };
  }

  /** Returns a rented car once; returning again, or what was never rented, changes nothing. */
  async return(key: string): Promise<{ returned: boolean }> {
    const rows = await this.database.sql`
      UPDATE car_rentals SET returned_at = now()
      WHERE key = ${key} AND rented_at IS NOT NULL AND returned_at IS NULL
      RETURNING key`;
    return { returned: rows.length === 1 };
  }
}

import { integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

// Each booking is keyed by the idempotency key of the step that made it, so booking twice under one
// key books once; its compensation sets `cancelled_at` (or `returned_at`) once.

export const flightBookings = pgTable('flight_bookings', {
  key: text('key').primaryKey(),
  tripId: text('trip_id').notNull(),
  origin: text('origin').notNull(),
  destination: text('destination').notNull(),
  bookedAt: timestamptz('booked_at').notNull().defaultNow(),
  cancelledAt: timestamptz('cancelled_at'),
});

export const hotelBookings = pgTable('hotel_bookings', {
  key: text('key').primaryKey(),
  tripId: text('trip_id').notNull(),
  city: text('city').notNull(),
  nights: integer('nights').notNull(),
  bookedAt: timestamptz('booked_at').notNull().defaultNow(),
  cancelledAt: timestamptz('cancelled_at'),
});

/** A rental is asked for until the desk answers: `rented_at` stays null while it is unavailable. */
export const carRentals = pgTable('car_rentals', {
  key: text('key').primaryKey(),
  tripId: text('trip_id').notNull(),
  carClass: text('car_class').notNull(),
  /** Calls the desk received for this key, retries included. */
  calls: integer('calls').notNull().default(0),
  rentedAt: timestamptz('rented_at'),
  returnedAt: timestamptz('returned_at'),
});

/** The tickets of a trip, recorded once by its `issueTickets` step. */
export const tripTickets = pgTable('trip_tickets', {
  key: text('key').primaryKey(),
  tripId: text('trip_id').notNull(),
  sagaId: text('saga_id').notNull(),
  travelerId: text('traveler_id').notNull(),
  tickets: jsonb('tickets').notNull(),
  issuedAt: timestamptz('issued_at').notNull().defaultNow(),
});

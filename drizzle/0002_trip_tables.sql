-- The trip saga's bookings, rentals and tickets, each keyed by the idempotency key of the step
-- that writes it.
CREATE TABLE "car_rentals" (
	"key" text PRIMARY KEY NOT NULL,
	"trip_id" text NOT NULL,
	"car_class" text NOT NULL,
	"calls" integer DEFAULT 0 NOT NULL,
	"rented_at" timestamp with time zone,
	"returned_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "flight_bookings" (
	"key" text PRIMARY KEY NOT NULL,
	"trip_id" text NOT NULL,
	"origin" text NOT NULL,
	"destination" text NOT NULL,
	"booked_at" timestamp with time zone DEFAULT now() NOT NULL,
	"cancelled_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "hotel_bookings" (
	"key" text PRIMARY KEY NOT NULL,
	"trip_id" text NOT NULL,
	"city" text NOT NULL,
	"nights" integer NOT NULL,
	"booked_at" timestamp with time zone DEFAULT now() NOT NULL,
	"cancelled_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "trip_tickets" (
	"key" text PRIMARY KEY NOT NULL,
	"trip_id" text NOT NULL,
	"saga_id" text NOT NULL,
	"traveler_id" text NOT NULL,
	"tickets" jsonb NOT NULL,
	"issued_at" timestamp with time zone DEFAULT now() NOT NULL
);

-- Cron schedules (the state of each schedule declared in code: its one due time and its last fire)
-- and the progress a running handler reports, kept with its unit.
CREATE TABLE "saga_schedules" (
	"id" text PRIMARY KEY NOT NULL,
	"saga_name" text NOT NULL,
	"cron" text NOT NULL,
	"timezone" text NOT NULL,
	"next_fire_at" timestamp with time zone NOT NULL,
	"last_fire_at" timestamp with time zone,
	"last_saga_id" uuid,
	"fires" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
ALTER TABLE "saga_units" ADD COLUMN "progress" jsonb;
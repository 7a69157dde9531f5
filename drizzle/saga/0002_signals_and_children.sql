-- Signals and child sagas. A wait step's unit keeps the payload it took (a signal may arrive before
-- the step waits), the inbox keeps every signal delivered (and its Idempotency-Key), and a child
-- saga knows its parent and the step that started it.
CREATE TABLE "saga_signals" (
	"id" bigserial NOT NULL,
	"saga_id" uuid NOT NULL,
	"name" text NOT NULL,
	"idempotency_key" text,
	"payload" jsonb,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "saga_signals_saga_id_id_pk" PRIMARY KEY("saga_id","id")
);
--> statement-breakpoint
ALTER TABLE "saga_units" ADD COLUMN "step_kind" text DEFAULT 'task' NOT NULL;--> statement-breakpoint
ALTER TABLE "saga_units" ADD COLUMN "signal" text;--> statement-breakpoint
ALTER TABLE "saga_units" ADD COLUMN "payload" jsonb;--> statement-breakpoint
ALTER TABLE "saga_units" ADD COLUMN "child_id" uuid;--> statement-breakpoint
ALTER TABLE "sagas" ADD COLUMN "parent_id" uuid;--> statement-breakpoint
ALTER TABLE "sagas" ADD COLUMN "parent_step" integer;--> statement-breakpoint
CREATE UNIQUE INDEX "saga_signals_key_idx" ON "saga_signals" USING btree ("saga_id","idempotency_key");--> statement-breakpoint
CREATE INDEX "sagas_parent_id_idx" ON "sagas" USING btree ("parent_id","id") WHERE "sagas"."parent_id" IS NOT NULL;
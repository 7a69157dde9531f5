-- The engine's tables. Every statement names them without a schema, so they go to the schema the
-- migrations run in: the first of the migrating connection's search_path, which migrateSagaSchema()
-- sets to the module's `schema` option, and which drizzle's migrator has created for its ledger.
--
-- A database migrated before the engine had a schema of its own holds these tables in public,
-- maybe with sagas in flight. They move here with their rows, indexes, constraints and sequence
-- (ALTER TABLE ... SET SCHEMA), and the CREATE statements below then leave them as they are. They
-- are recognised by all three being there with the engine's foreign key between two of them, so an
-- application table that only happens to be called "sagas" stays where it is.
DO $$
BEGIN
  IF to_regclass('public.saga_events') IS NOT NULL AND EXISTS (
    SELECT 1 FROM pg_constraint
    WHERE conname = 'saga_steps_saga_id_sagas_id_fk'
      AND conrelid = to_regclass('public.saga_steps') AND confrelid = to_regclass('public.sagas')
  ) THEN
    EXECUTE format('ALTER TABLE public.sagas SET SCHEMA %I', current_schema());
    EXECUTE format('ALTER TABLE public.saga_steps SET SCHEMA %I', current_schema());
    EXECUTE format('ALTER TABLE public.saga_events SET SCHEMA %I', current_schema());
  END IF;
END $$;
--> statement-breakpoint
-- Every transition updates a saga row and a step row: the room left on each page (fillfactor) lets
-- Postgres update them in place (HOT), without new index entries, whenever no indexed column changes.
CREATE TABLE IF NOT EXISTS "sagas" (
	"id" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"version" integer NOT NULL,
	"status" text NOT NULL,
	"input" jsonb NOT NULL,
	"output" jsonb,
	"error" jsonb,
	"idempotency_key" text,
	"seq" integer DEFAULT 1 NOT NULL,
	"phase" text DEFAULT 'step' NOT NULL,
	"step_index" integer DEFAULT 0 NOT NULL,
	"due_at" timestamp with time zone,
	"running_since" timestamp with time zone,
	"cancel_requested" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone
) WITH (fillfactor = 70);
--> statement-breakpoint
CREATE TABLE IF NOT EXISTS "saga_steps" (
	"saga_id" uuid NOT NULL,
	"step_index" integer NOT NULL,
	"name" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"output" jsonb,
	"error" jsonb,
	"compensation_status" text,
	"compensation_attempts" integer DEFAULT 0 NOT NULL,
	"compensation_started_at" timestamp with time zone,
	"compensation_finished_at" timestamp with time zone,
	"compensation_error" jsonb,
	CONSTRAINT "saga_steps_saga_id_step_index_pk" PRIMARY KEY("saga_id","step_index"),
	CONSTRAINT "saga_steps_saga_id_sagas_id_fk" FOREIGN KEY ("saga_id") REFERENCES "sagas"("id") ON DELETE cascade ON UPDATE no action
) WITH (fillfactor = 70);
--> statement-breakpoint
CREATE TABLE IF NOT EXISTS "saga_events" (
	"id" bigserial NOT NULL,
	"saga_id" uuid NOT NULL,
	"type" text NOT NULL,
	"step" text,
	"attempt" integer,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"data" jsonb,
	CONSTRAINT "saga_events_saga_id_id_pk" PRIMARY KEY("saga_id","id")
);
--> statement-breakpoint
CREATE UNIQUE INDEX IF NOT EXISTS "sagas_name_idempotency_key_idx" ON "sagas" USING btree ("name","idempotency_key");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "sagas_name_id_idx" ON "sagas" USING btree ("name","id");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "sagas_status_id_idx" ON "sagas" USING btree ("status","id");

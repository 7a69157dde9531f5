CREATE TABLE "saga_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"saga_id" uuid NOT NULL,
	"type" text NOT NULL,
	"step" text,
	"attempt" integer,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"data" jsonb
);
--> statement-breakpoint
CREATE TABLE "saga_steps" (
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
	CONSTRAINT "saga_steps_saga_id_step_index_pk" PRIMARY KEY("saga_id","step_index")
);
--> statement-breakpoint
CREATE TABLE "sagas" (
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
);
--> statement-breakpoint
CREATE TABLE "inventory" (
	"sku" text PRIMARY KEY NOT NULL,
	"available" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "inventory_reservations" (
	"key" text PRIMARY KEY NOT NULL,
	"order_id" text NOT NULL,
	"items" jsonb NOT NULL,
	"reserved_at" timestamp with time zone DEFAULT now() NOT NULL,
	"released_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "payments" (
	"key" text PRIMARY KEY NOT NULL,
	"order_id" text NOT NULL,
	"amount" numeric(12, 2) NOT NULL,
	"status" text NOT NULL,
	"calls" integer DEFAULT 0 NOT NULL,
	"charged_at" timestamp with time zone,
	"refunded_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "sent_emails" (
	"order_id" text PRIMARY KEY NOT NULL,
	"saga_id" text NOT NULL,
	"recipient" text NOT NULL,
	"subject" text NOT NULL,
	"sent_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "saga_events" ADD CONSTRAINT "saga_events_saga_id_sagas_id_fk" FOREIGN KEY ("saga_id") REFERENCES "public"."sagas"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "saga_steps" ADD CONSTRAINT "saga_steps_saga_id_sagas_id_fk" FOREIGN KEY ("saga_id") REFERENCES "public"."sagas"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "saga_events_saga_id_id_idx" ON "saga_events" USING btree ("saga_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "sagas_name_idempotency_key_idx" ON "sagas" USING btree ("name","idempotency_key");--> statement-breakpoint
CREATE INDEX "sagas_name_id_idx" ON "sagas" USING btree ("name","id");--> statement-breakpoint
CREATE INDEX "sagas_status_id_idx" ON "sagas" USING btree ("status","id");--> statement-breakpoint
CREATE INDEX "sagas_due_at_idx" ON "sagas" USING btree ("due_at") WHERE "sagas"."due_at" IS NOT NULL;
CREATE TABLE "accounts" (
	"consumer_id" text PRIMARY KEY NOT NULL,
	"available_cents" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "card_authorizations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"idempotency_key" text NOT NULL,
	"consumer_id" text NOT NULL,
	"order_id" text NOT NULL,
	"amount_cents" integer NOT NULL,
	"authorized_at" timestamp with time zone DEFAULT now() NOT NULL,
	"reversed_at" timestamp with time zone,
	CONSTRAINT "card_authorizations_idempotency_key_unique" UNIQUE("idempotency_key")
);
--> statement-breakpoint
CREATE TABLE "consumers" (
	"id" text PRIMARY KEY NOT NULL,
	"suspended" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "orders" (
	"id" text PRIMARY KEY NOT NULL,
	"saga_id" text NOT NULL,
	"consumer_id" text NOT NULL,
	"restaurant_id" text NOT NULL,
	"line_items" jsonb NOT NULL,
	"total_cents" integer NOT NULL,
	"state" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tickets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"idempotency_key" text NOT NULL,
	"order_id" text NOT NULL,
	"restaurant_id" text NOT NULL,
	"line_items" jsonb NOT NULL,
	"state" text NOT NULL,
	CONSTRAINT "tickets_idempotency_key_unique" UNIQUE("idempotency_key")
);

-- The payment saga's ledgers: authorizations and captures, each keyed by the idempotency key of
-- the step that writes it.
CREATE TABLE "card_authorizations" (
	"key" text PRIMARY KEY NOT NULL,
	"payment_id" text NOT NULL,
	"card_last4" text NOT NULL,
	"amount" numeric(12, 2) NOT NULL,
	"status" text NOT NULL,
	"calls" integer DEFAULT 0 NOT NULL,
	"authorized_at" timestamp with time zone,
	"voided_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "card_captures" (
	"key" text PRIMARY KEY NOT NULL,
	"payment_id" text NOT NULL,
	"authorization_key" text NOT NULL,
	"amount" numeric(12, 2) NOT NULL,
	"captured_at" timestamp with time zone DEFAULT now() NOT NULL,
	"refunded_at" timestamp with time zone
);

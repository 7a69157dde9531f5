-- Flow control. A saga's priority (1 first .. 10, default 5) and the value of its concurrency key;
-- the holder of each key, one row per key; and an index of the sagas queued behind a key.
CREATE TABLE "saga_key_holders" (
	"name" text NOT NULL,
	"key" text NOT NULL,
	"saga_id" uuid NOT NULL,
	CONSTRAINT "saga_key_holders_name_key_pk" PRIMARY KEY("name","key")
);
--> statement-breakpoint
ALTER TABLE "sagas" ADD COLUMN "priority" smallint DEFAULT 5 NOT NULL;--> statement-breakpoint
ALTER TABLE "sagas" ADD COLUMN "concurrency_key" text;--> statement-breakpoint
CREATE INDEX "sagas_queued_idx" ON "sagas" USING btree ("name","concurrency_key","id") WHERE "sagas"."concurrency_key" IS NOT NULL AND "sagas"."status" = 'pending';
ALTER TABLE "saga_events" DROP CONSTRAINT "saga_events_saga_id_sagas_id_fk";
--> statement-breakpoint
DROP INDEX "saga_events_saga_id_id_idx";
--> statement-breakpoint
ALTER TABLE "saga_events" DROP CONSTRAINT "saga_events_pkey";
--> statement-breakpoint
ALTER TABLE "saga_events" ADD CONSTRAINT "saga_events_saga_id_id_pk" PRIMARY KEY("saga_id","id");

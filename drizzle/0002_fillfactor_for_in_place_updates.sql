-- Every transition updates a saga row and a step row. Leaving room on each page lets Postgres
-- update them in place (HOT), without new index entries, whenever no indexed column changes.
ALTER TABLE "sagas" SET (fillfactor = 70);
--> statement-breakpoint
ALTER TABLE "saga_steps" SET (fillfactor = 70);

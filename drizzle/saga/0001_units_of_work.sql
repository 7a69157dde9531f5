-- The execution model of units of work: each step's forward run, its compensation and the saga's
-- control unit (its deadline) is a row of its own with its own due time, so that several can be in
-- flight at once. The saga row keeps only `seq`, which every transition checks and bumps.
-- Units are updated in place, like the step rows before them: hence the fillfactor.
CREATE TABLE "saga_units" (
	"saga_id" uuid NOT NULL,
	"key" text NOT NULL,
	"kind" text NOT NULL,
	"step_index" integer,
	"name" text NOT NULL,
	"step_group" text,
	"status" text NOT NULL,
	"seq" integer DEFAULT 0 NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"due_at" timestamp with time zone,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"output" jsonb,
	"error" jsonb,
	"ended_seq" integer,
	CONSTRAINT "saga_units_saga_id_key_pk" PRIMARY KEY("saga_id","key")
) WITH (fillfactor = 70);
--> statement-breakpoint
ALTER TABLE "sagas" ADD COLUMN "start_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "sagas" ADD COLUMN "deadline_at" timestamp with time zone;--> statement-breakpoint
-- Every saga's steps become its units, finished sagas' too (the view reads units). The forward run
-- of a step whose compensation began had completed, unless it failed (then it kept its error). The
-- unit a saga in flight was at is due when the saga's outbox columns said; its job gets a new id,
-- so the reconciler enqueues it, and the jobs of the old layout are acknowledged without effect.
-- Steps ran one after another, so their index is their order of completion.
INSERT INTO "saga_units" ("saga_id", "key", "kind", "step_index", "name", "status", "seq", "attempts",
	"due_at", "started_at", "finished_at", "output", "error", "ended_seq")
SELECT x.saga_id, 's' || x.step_index, 'step', x.step_index, x.name, u.status, (u.due_at IS NOT NULL)::int,
	x.attempts, u.due_at, x.started_at, x.finished_at, x.output, x.error,
	CASE WHEN u.status IN ('completed', 'failed') THEN x.step_index END
FROM "saga_steps" x
JOIN "sagas" s ON s.id = x.saga_id,
LATERAL (SELECT
	CASE
		WHEN x.compensation_status IS NOT NULL OR x.status IN ('compensating', 'compensated', 'compensation_failed')
			THEN CASE WHEN x.error IS NULL THEN 'completed' ELSE 'failed' END
		ELSE x.status
	END AS status,
	CASE WHEN s.status IN ('pending', 'running', 'compensating') AND s.phase = 'step' AND s.step_index = x.step_index
		THEN s.due_at END AS due_at
) u;
--> statement-breakpoint
INSERT INTO "saga_units" ("saga_id", "key", "kind", "step_index", "name", "status", "seq", "attempts",
	"due_at", "started_at", "finished_at", "error", "ended_seq")
SELECT x.saga_id, 'c' || x.step_index, 'compensation', x.step_index, x.name,
	coalesce(x.compensation_status, 'pending'), (current_unit AND s.due_at IS NOT NULL)::int, x.compensation_attempts,
	CASE WHEN current_unit THEN s.due_at END, x.compensation_started_at, x.compensation_finished_at,
	x.compensation_error, CASE WHEN x.compensation_status IN ('completed', 'failed') THEN x.step_index END
FROM "saga_steps" x
JOIN "sagas" s ON s.id = x.saga_id,
LATERAL (SELECT s.status IN ('pending', 'running', 'compensating') AND s.phase = 'compensation'
	AND s.step_index = x.step_index AS current_unit) c
WHERE x.compensation_status IS NOT NULL OR current_unit;
--> statement-breakpoint
DROP TABLE "saga_steps" CASCADE;--> statement-breakpoint
ALTER TABLE "sagas" DROP COLUMN "phase";--> statement-breakpoint
ALTER TABLE "sagas" DROP COLUMN "step_index";--> statement-breakpoint
ALTER TABLE "sagas" DROP COLUMN "due_at";--> statement-breakpoint
ALTER TABLE "sagas" DROP COLUMN "running_since";

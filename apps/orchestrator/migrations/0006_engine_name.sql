ALTER TABLE "orc_tasks" ADD COLUMN "engine_name" text;--> statement-breakpoint
-- engine_route held the engine's name until now; it becomes local | api | hybrid. Tasks recorded
-- before keep their engine's name and no route: the tier is not known here.
UPDATE "orc_tasks" SET "engine_name" = "engine_route", "engine_route" = NULL WHERE "engine_route" IS NOT NULL;

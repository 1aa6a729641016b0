ALTER TABLE "orc_tasks" ADD COLUMN "sovereignty" jsonb;--> statement-breakpoint
ALTER TABLE "orc_tasks" ADD COLUMN "receipt_json" text;--> statement-breakpoint
ALTER TABLE "orc_tasks" ADD COLUMN "receipt_jws" text;
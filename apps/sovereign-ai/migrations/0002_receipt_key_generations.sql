-- Keys made before generations existed are numbered in the order they were created.
ALTER TABLE "sov_receipt_keys" ADD COLUMN "generation" integer;--> statement-breakpoint
UPDATE "sov_receipt_keys" AS k SET "generation" = n."generation" FROM (SELECT "kid", row_number() OVER (ORDER BY "created_at", "kid") AS "generation" FROM "sov_receipt_keys") AS n WHERE k."kid" = n."kid";--> statement-breakpoint
ALTER TABLE "sov_receipt_keys" ALTER COLUMN "generation" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "sov_receipt_keys" ADD CONSTRAINT "sov_receipt_keys_generation_unique" UNIQUE("generation");

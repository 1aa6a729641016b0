CREATE TABLE "dpl_uploads" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"format" text NOT NULL,
	"file_name" text DEFAULT '' NOT NULL,
	"bytes" bigint NOT NULL,
	"sha256" text NOT NULL,
	"object_key" text NOT NULL,
	"idempotency_key" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "dpl_uploads_format_check" CHECK (format in ('csv','jsonl','parquet'))
);
--> statement-breakpoint
ALTER TABLE "dpl_uploads" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE UNIQUE INDEX "dpl_uploads_idempotency_idx" ON "dpl_uploads" USING btree ("tenant_id","idempotency_key") WHERE idempotency_key <> '';--> statement-breakpoint
CREATE POLICY "dpl_uploads_tenant_isolation" ON "dpl_uploads" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));
CREATE TABLE "orc_dead_letters" (
	"tenant_id" text NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"source" text NOT NULL,
	"ref" text NOT NULL,
	"subject" text NOT NULL,
	"error_code" text NOT NULL,
	"error_message" text NOT NULL,
	"retry_count" integer NOT NULL,
	"payload" jsonb NOT NULL,
	"message_key" text,
	"message_value" "bytea",
	"message_headers" jsonb,
	"failed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"resolved_at" timestamp with time zone,
	"resolved_by" text,
	"resolution" text,
	"note" text,
	"replay_ref" text,
	CONSTRAINT "orc_dead_letters_tenant_id_id_pk" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "orc_dead_letters_source_check" CHECK (source in ('task','message')),
	CONSTRAINT "orc_dead_letters_resolution_check" CHECK ((resolved_at is null and resolution is null) or (resolved_at is not null and resolution in ('resolved','replayed')))
);
--> statement-breakpoint
ALTER TABLE "orc_dead_letters" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE UNIQUE INDEX "orc_dead_letters_ref_idx" ON "orc_dead_letters" USING btree ("tenant_id","source","ref");--> statement-breakpoint
CREATE INDEX "orc_dead_letters_open_idx" ON "orc_dead_letters" USING btree ("tenant_id","resolved_at","failed_at");--> statement-breakpoint
CREATE POLICY "orc_dead_letters_tenant_isolation" ON "orc_dead_letters" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));
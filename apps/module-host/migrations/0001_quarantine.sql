CREATE TABLE "mod_quarantine" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"reference" text NOT NULL,
	"digest" text,
	"name" text,
	"version" text,
	"reason" text NOT NULL,
	"message" text NOT NULL,
	"config" jsonb,
	"sbom" jsonb,
	"quarantined_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "mod_quarantine" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE INDEX "mod_quarantine_tenant_idx" ON "mod_quarantine" USING btree ("tenant_id","quarantined_at");--> statement-breakpoint
CREATE POLICY "mod_quarantine_tenant_isolation" ON "mod_quarantine" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));
CREATE TABLE "obs_llm_tracing" (
	"tenant_id" text PRIMARY KEY NOT NULL,
	"enabled" boolean DEFAULT false NOT NULL,
	"langfuse_url" text DEFAULT '' NOT NULL,
	"langfuse_jurisdiction" text DEFAULT '' NOT NULL,
	"public_key" text DEFAULT '' NOT NULL,
	"secret_key" text DEFAULT '' NOT NULL,
	"masked_classifications" text[] NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "obs_llm_tracing" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY "obs_llm_tracing_tenant_isolation" ON "obs_llm_tracing" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));
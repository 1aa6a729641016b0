CREATE TABLE "obs_alerts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"fingerprint" text NOT NULL,
	"alertname" text NOT NULL,
	"slo_id" text DEFAULT '' NOT NULL,
	"severity" text DEFAULT '' NOT NULL,
	"state" text NOT NULL,
	"burn_rate" double precision DEFAULT 0 NOT NULL,
	"labels" jsonb NOT NULL,
	"annotations" jsonb NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"resolved_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "obs_alerts_state_check" CHECK (state in ('firing','resolved'))
);
--> statement-breakpoint
ALTER TABLE "obs_alerts" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE UNIQUE INDEX "obs_alerts_firing_idx" ON "obs_alerts" USING btree ("tenant_id","fingerprint","started_at");--> statement-breakpoint
CREATE INDEX "obs_alerts_state_idx" ON "obs_alerts" USING btree ("tenant_id","state");--> statement-breakpoint
CREATE POLICY "obs_alerts_tenant_isolation" ON "obs_alerts" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));
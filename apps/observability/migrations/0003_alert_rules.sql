CREATE TABLE "obs_alert_rules" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"name" text NOT NULL,
	"expression" text NOT NULL,
	"for_duration" text DEFAULT '' NOT NULL,
	"severity" text NOT NULL,
	"labels" jsonb NOT NULL,
	"annotations" jsonb NOT NULL,
	"sync_status" text DEFAULT 'pending' NOT NULL,
	"sync_error" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "obs_alert_rules_severity_check" CHECK (severity in ('info','warning','critical')),
	CONSTRAINT "obs_alert_rules_sync_check" CHECK (sync_status in ('pending','synced','failed'))
);
--> statement-breakpoint
ALTER TABLE "obs_alert_rules" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE UNIQUE INDEX "obs_alert_rules_name_idx" ON "obs_alert_rules" USING btree ("tenant_id","name");--> statement-breakpoint
CREATE POLICY "obs_alert_rules_tenant_isolation" ON "obs_alert_rules" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));
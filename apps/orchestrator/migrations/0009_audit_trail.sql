CREATE TABLE "orc_audit_log" (
	"tenant_id" text NOT NULL,
	"event_id" text NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"resource_type" text NOT NULL,
	"resource_id" text NOT NULL,
	"outcome" text NOT NULL,
	"details" jsonb NOT NULL,
	"source" text NOT NULL,
	"correlation_id" text NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "orc_audit_log_tenant_id_event_id_pk" PRIMARY KEY("tenant_id","event_id"),
	CONSTRAINT "orc_audit_log_outcome_check" CHECK (outcome in ('success','denied','failure'))
);
--> statement-breakpoint
ALTER TABLE "orc_audit_log" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "orc_usage_records" (
	"tenant_id" text NOT NULL,
	"event_id" text NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"task_id" text NOT NULL,
	"project_id" text NOT NULL,
	"engine" text NOT NULL,
	"input_tokens" bigint NOT NULL,
	"output_tokens" bigint NOT NULL,
	"cost_usd" numeric(18, 8) NOT NULL,
	"latency_ms" integer NOT NULL,
	CONSTRAINT "orc_usage_records_tenant_id_event_id_pk" PRIMARY KEY("tenant_id","event_id"),
	CONSTRAINT "orc_usage_records_amounts_check" CHECK (input_tokens >= 0 and output_tokens >= 0 and cost_usd >= 0 and latency_ms >= 0)
);
--> statement-breakpoint
ALTER TABLE "orc_usage_records" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE INDEX "orc_audit_log_time_idx" ON "orc_audit_log" USING btree ("tenant_id","occurred_at");--> statement-breakpoint
CREATE INDEX "orc_audit_log_actor_idx" ON "orc_audit_log" USING btree ("tenant_id","actor","occurred_at");--> statement-breakpoint
CREATE INDEX "orc_audit_log_action_idx" ON "orc_audit_log" USING btree ("tenant_id","action","occurred_at");--> statement-breakpoint
CREATE INDEX "orc_usage_records_time_idx" ON "orc_usage_records" USING btree ("tenant_id","occurred_at");--> statement-breakpoint
CREATE POLICY "orc_audit_log_tenant_isolation" ON "orc_audit_log" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));--> statement-breakpoint
CREATE POLICY "orc_usage_records_tenant_isolation" ON "orc_usage_records" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));
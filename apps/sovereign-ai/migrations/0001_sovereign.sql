CREATE TABLE "sov_compliance_maps" (
	"tenant_id" text NOT NULL,
	"jurisdiction" text NOT NULL,
	"data" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sov_compliance_maps_tenant_id_jurisdiction_pk" PRIMARY KEY("tenant_id","jurisdiction")
);
--> statement-breakpoint
ALTER TABLE "sov_compliance_maps" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "sov_receipt_keys" (
	"kid" text PRIMARY KEY NOT NULL,
	"public_jwk" jsonb NOT NULL,
	"encrypted_private_key" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sov_regional_deployments" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"jurisdiction" text NOT NULL,
	"region" text NOT NULL,
	"namespace" text NOT NULL,
	"model_id" text NOT NULL,
	"model_version" text DEFAULT '' NOT NULL,
	"image" text NOT NULL,
	"replicas" integer NOT NULL,
	"status" text NOT NULL,
	"status_reason" text DEFAULT '' NOT NULL,
	"endpoint" text DEFAULT '' NOT NULL,
	"mode" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sov_regional_deployments_status_check" CHECK (status in ('PENDING','DEPLOYING','ACTIVE','FAILED','DECOMMISSIONED'))
);
--> statement-breakpoint
ALTER TABLE "sov_regional_deployments" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "sov_residency_decisions" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"task_id" text DEFAULT '' NOT NULL,
	"data_jurisdiction" text NOT NULL,
	"classification" text NOT NULL,
	"attempted" text[] NOT NULL,
	"rule_id" text NOT NULL,
	"allowed" boolean NOT NULL,
	"reason" text NOT NULL,
	"event_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sov_residency_decisions_event_id_unique" UNIQUE("event_id")
);
--> statement-breakpoint
ALTER TABLE "sov_residency_decisions" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "sov_residency_rules" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"data_jurisdiction" text NOT NULL,
	"tier" text NOT NULL,
	"action" text NOT NULL,
	"target_jurisdictions" text[] NOT NULL,
	"priority" integer NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sov_residency_rules_tier_check" CHECK (tier in ('pii','financial','health','biometric','all')),
	CONSTRAINT "sov_residency_rules_action_check" CHECK (action in ('allow','deny','require_local'))
);
--> statement-breakpoint
ALTER TABLE "sov_residency_rules" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "sov_routing_policies" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"name" text NOT NULL,
	"strategy" text NOT NULL,
	"primary_jurisdiction" text NOT NULL,
	"secondary_jurisdictions" text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sov_routing_policies_strategy_check" CHECK (strategy in ('strict','preferred','fallback'))
);
--> statement-breakpoint
ALTER TABLE "sov_routing_policies" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "sov_sovereign_models" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"model_ref" text NOT NULL,
	"name" text NOT NULL,
	"version" text DEFAULT '' NOT NULL,
	"jurisdiction" text NOT NULL,
	"status" text NOT NULL,
	"decided_by" text DEFAULT '' NOT NULL,
	"decision_reason" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sov_sovereign_models_status_check" CHECK (status in ('PENDING','APPROVED','REJECTED','REVOKED'))
);
--> statement-breakpoint
ALTER TABLE "sov_sovereign_models" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE INDEX "sov_regional_deployments_tenant_idx" ON "sov_regional_deployments" USING btree ("tenant_id","jurisdiction","created_at");--> statement-breakpoint
CREATE INDEX "sov_residency_decisions_recent_idx" ON "sov_residency_decisions" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "sov_residency_rules_order_idx" ON "sov_residency_rules" USING btree ("tenant_id","priority","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "sov_routing_policies_name_idx" ON "sov_routing_policies" USING btree ("tenant_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "sov_sovereign_models_ref_idx" ON "sov_sovereign_models" USING btree ("tenant_id","model_ref","version","jurisdiction");--> statement-breakpoint
CREATE POLICY "sov_compliance_maps_tenant_isolation" ON "sov_compliance_maps" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));--> statement-breakpoint
CREATE POLICY "sov_regional_deployments_tenant_isolation" ON "sov_regional_deployments" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));--> statement-breakpoint
CREATE POLICY "sov_residency_decisions_tenant_isolation" ON "sov_residency_decisions" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));--> statement-breakpoint
CREATE POLICY "sov_residency_rules_tenant_isolation" ON "sov_residency_rules" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));--> statement-breakpoint
CREATE POLICY "sov_routing_policies_tenant_isolation" ON "sov_routing_policies" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));--> statement-breakpoint
CREATE POLICY "sov_sovereign_models_tenant_isolation" ON "sov_sovereign_models" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));
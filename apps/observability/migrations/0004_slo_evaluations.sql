CREATE TABLE "obs_slo_evaluations" (
	"tenant_id" text NOT NULL,
	"slo_id" uuid NOT NULL,
	"evaluated_at" timestamp with time zone NOT NULL,
	"error_ratios" jsonb NOT NULL,
	"alerts" jsonb NOT NULL,
	"budget_remaining" double precision,
	CONSTRAINT "obs_slo_evaluations_tenant_id_slo_id_evaluated_at_pk" PRIMARY KEY("tenant_id","slo_id","evaluated_at")
);
--> statement-breakpoint
ALTER TABLE "obs_slo_evaluations" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "obs_slo_evaluations" ADD CONSTRAINT "obs_slo_evaluations_slo_id_obs_slos_id_fk" FOREIGN KEY ("slo_id") REFERENCES "public"."obs_slos"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE POLICY "obs_slos_evaluator" ON "obs_slos" AS PERMISSIVE FOR SELECT TO public USING (current_setting('aion.slo_evaluator', true) = 'on');--> statement-breakpoint
CREATE POLICY "obs_slo_evaluations_tenant_isolation" ON "obs_slo_evaluations" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));
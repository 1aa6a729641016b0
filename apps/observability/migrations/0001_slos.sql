CREATE TABLE "obs_slos" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"name" text NOT NULL,
	"service" text NOT NULL,
	"sli" text NOT NULL,
	"metric" text NOT NULL,
	"matchers" jsonb NOT NULL,
	"latency_threshold_ms" integer DEFAULT 0 NOT NULL,
	"objective" double precision NOT NULL,
	"window_days" integer NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"good_selector" text NOT NULL,
	"total_selector" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "obs_slos_sli_check" CHECK (sli in ('availability','latency','error_rate')),
	CONSTRAINT "obs_slos_objective_check" CHECK (objective > 0 and objective < 1),
	CONSTRAINT "obs_slos_window_check" CHECK (window_days between 7 and 90)
);
--> statement-breakpoint
ALTER TABLE "obs_slos" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE UNIQUE INDEX "obs_slos_name_idx" ON "obs_slos" USING btree ("tenant_id","name");--> statement-breakpoint
CREATE POLICY "obs_slos_tenant_isolation" ON "obs_slos" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));
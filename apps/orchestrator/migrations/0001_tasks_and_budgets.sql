CREATE TABLE "orc_budgets" (
	"tenant_id" text NOT NULL,
	"project_id" text DEFAULT '' NOT NULL,
	"limit_usd" numeric(18, 8) NOT NULL,
	"reserved_usd" numeric(18, 8) DEFAULT 0 NOT NULL,
	"committed_usd" numeric(18, 8) DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "orc_budgets_tenant_id_project_id_pk" PRIMARY KEY("tenant_id","project_id"),
	CONSTRAINT "orc_budgets_amounts_check" CHECK (limit_usd >= 0 and reserved_usd >= 0 and committed_usd >= 0)
);
--> statement-breakpoint
ALTER TABLE "orc_budgets" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "orc_budget_reservations" (
	"tenant_id" text NOT NULL,
	"request_id" text NOT NULL,
	"project_id" text DEFAULT '' NOT NULL,
	"amount_usd" numeric(18, 8) NOT NULL,
	"committed_usd" numeric(18, 8),
	"status" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "orc_budget_reservations_tenant_id_request_id_pk" PRIMARY KEY("tenant_id","request_id"),
	CONSTRAINT "orc_budget_reservations_status_check" CHECK (status in ('RESERVED','COMMITTED','RELEASED'))
);
--> statement-breakpoint
ALTER TABLE "orc_budget_reservations" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "orc_task_events" (
	"tenant_id" text NOT NULL,
	"task_id" text NOT NULL,
	"sequence" bigint NOT NULL,
	"kind" text NOT NULL,
	"data" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "orc_task_events_tenant_id_task_id_sequence_pk" PRIMARY KEY("tenant_id","task_id","sequence")
);
--> statement-breakpoint
ALTER TABLE "orc_task_events" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "orc_tasks" (
	"tenant_id" text NOT NULL,
	"id" text NOT NULL,
	"project_id" text DEFAULT '' NOT NULL,
	"subject" text NOT NULL,
	"intent" text NOT NULL,
	"status" text NOT NULL,
	"request" jsonb NOT NULL,
	"request_hash" text NOT NULL,
	"engine_route" text,
	"chosen_by" text,
	"reason" text,
	"result" jsonb,
	"error" jsonb,
	"latency_ms" integer,
	"input_tokens" integer,
	"output_tokens" integer,
	"cost_usd" numeric(18, 8),
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "orc_tasks_tenant_id_id_pk" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "orc_tasks_status_check" CHECK (status in ('QUEUED','ROUTED','RUNNING','OK','ERROR','TIMEOUT','CANCELED'))
);
--> statement-breakpoint
ALTER TABLE "orc_tasks" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE INDEX "orc_tasks_tenant_created_idx" ON "orc_tasks" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE POLICY "orc_budgets_tenant_isolation" ON "orc_budgets" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));--> statement-breakpoint
CREATE POLICY "orc_budget_reservations_tenant_isolation" ON "orc_budget_reservations" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));--> statement-breakpoint
CREATE POLICY "orc_task_events_tenant_isolation" ON "orc_task_events" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));--> statement-breakpoint
CREATE POLICY "orc_tasks_tenant_isolation" ON "orc_tasks" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));
CREATE TABLE "orc_agent_roles" (
	"tenant_id" text NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"daily_update_limit" integer NOT NULL,
	"cooldown_seconds" integer NOT NULL,
	"requires_approval" boolean NOT NULL,
	"active_version" integer,
	"last_version" integer DEFAULT 0 NOT NULL,
	"usage_day" date,
	"updates_today" integer DEFAULT 0 NOT NULL,
	"last_automatic_update_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "orc_agent_roles_tenant_id_name_pk" PRIMARY KEY("tenant_id","name"),
	CONSTRAINT "orc_agent_roles_limits_check" CHECK (daily_update_limit between 0 and 10000 and cooldown_seconds between 0 and 2592000 and updates_today >= 0 and last_version >= 0)
);
--> statement-breakpoint
ALTER TABLE "orc_agent_roles" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "orc_prompt_versions" (
	"tenant_id" text NOT NULL,
	"role" text NOT NULL,
	"version" integer NOT NULL,
	"prompt" text NOT NULL,
	"source" text NOT NULL,
	"status" text NOT NULL,
	"reason" text DEFAULT '' NOT NULL,
	"proposed_by" text NOT NULL,
	"decided_by" text,
	"decided_at" timestamp with time zone,
	"decision_note" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "orc_prompt_versions_tenant_id_role_version_pk" PRIMARY KEY("tenant_id","role","version"),
	CONSTRAINT "orc_prompt_versions_source_check" CHECK (source in ('manual','automatic')),
	CONSTRAINT "orc_prompt_versions_status_check" CHECK (status in ('pending_approval','active','superseded','rejected'))
);
--> statement-breakpoint
ALTER TABLE "orc_prompt_versions" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE UNIQUE INDEX "orc_prompt_versions_one_active_idx" ON "orc_prompt_versions" USING btree ("tenant_id","role") WHERE status = 'active';--> statement-breakpoint
CREATE POLICY "orc_agent_roles_tenant_isolation" ON "orc_agent_roles" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));--> statement-breakpoint
CREATE POLICY "orc_prompt_versions_tenant_isolation" ON "orc_prompt_versions" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));
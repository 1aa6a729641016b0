CREATE TABLE "gw_refresh_tokens" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"user_id" uuid NOT NULL,
	"family_id" uuid NOT NULL,
	"token_hash" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "gw_refresh_tokens_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
ALTER TABLE "gw_refresh_tokens" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "gw_users" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"username" text NOT NULL,
	"password_hash" text NOT NULL,
	"role" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"disabled_at" timestamp with time zone,
	CONSTRAINT "gw_users_tenant_username" UNIQUE("tenant_id","username")
);
--> statement-breakpoint
ALTER TABLE "gw_users" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY "gw_refresh_tokens_tenant_isolation" ON "gw_refresh_tokens" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));--> statement-breakpoint
CREATE POLICY "gw_users_tenant_isolation" ON "gw_users" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));
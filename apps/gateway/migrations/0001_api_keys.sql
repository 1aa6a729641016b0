CREATE TABLE "gw_api_keys" (
	"id" uuid PRIMARY KEY NOT NULL,
	"prefix" text NOT NULL,
	"secret_hash" text NOT NULL,
	"tenant_id" text NOT NULL,
	"role" text NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"last_used_at" timestamp with time zone,
	CONSTRAINT "gw_api_keys_prefix_unique" UNIQUE("prefix")
);
--> statement-breakpoint
ALTER TABLE "gw_api_keys" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY "gw_api_keys_tenant_or_lookup" ON "gw_api_keys" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true) or current_setting('aion.key_lookup', true) = 'on') WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));
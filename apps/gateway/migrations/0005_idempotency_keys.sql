CREATE TABLE "gw_idempotency_keys" (
	"tenant_id" text NOT NULL,
	"key_hash" text NOT NULL,
	"request_hash" text NOT NULL,
	"task_id" text,
	"response_status" integer,
	"response" jsonb,
	"lease_until" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "gw_idempotency_keys_tenant_id_key_hash_pk" PRIMARY KEY("tenant_id","key_hash")
);
--> statement-breakpoint
ALTER TABLE "gw_idempotency_keys" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE INDEX "gw_idempotency_keys_expires_idx" ON "gw_idempotency_keys" USING btree ("expires_at");--> statement-breakpoint
CREATE POLICY "gw_idempotency_keys_tenant_or_purge" ON "gw_idempotency_keys" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true) or current_setting('aion.idempotency_purge', true) = 'on') WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));
CREATE TABLE "mod_outbox" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"event_id" uuid NOT NULL,
	"tenant_id" text NOT NULL,
	"topic" text NOT NULL,
	"key" text NOT NULL,
	"event_type" text NOT NULL,
	"value" "bytea" NOT NULL,
	"headers" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"published_at" timestamp with time zone,
	"attempts" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "mod_outbox_event_id_unique" UNIQUE("event_id")
);
--> statement-breakpoint
ALTER TABLE "mod_outbox" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "mod_package_files" (
	"package_id" uuid NOT NULL,
	"path" text NOT NULL,
	"content" "bytea" NOT NULL,
	CONSTRAINT "mod_package_files_package_id_path_pk" PRIMARY KEY("package_id","path")
);
--> statement-breakpoint
CREATE TABLE "mod_packages" (
	"id" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"version" text NOT NULL,
	"manifest" jsonb NOT NULL,
	"intents" text[] NOT NULL,
	"wasm" "bytea" NOT NULL,
	"digest_sha256" text NOT NULL,
	"installed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "mod_packages_name_version" UNIQUE("name","version")
);
--> statement-breakpoint
CREATE TABLE "mod_processed_events" (
	"consumer_group" text NOT NULL,
	"event_id" text NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "mod_processed_events_consumer_group_event_id_pk" PRIMARY KEY("consumer_group","event_id")
);
--> statement-breakpoint
ALTER TABLE "mod_package_files" ADD CONSTRAINT "mod_package_files_package_id_mod_packages_id_fk" FOREIGN KEY ("package_id") REFERENCES "public"."mod_packages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "mod_outbox_unpublished_idx" ON "mod_outbox" USING btree ("seq") WHERE published_at is null;--> statement-breakpoint
CREATE INDEX "mod_packages_intents_idx" ON "mod_packages" USING gin ("intents");--> statement-breakpoint
CREATE POLICY "mod_outbox_tenant_or_relay" ON "mod_outbox" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true) or current_setting('aion.outbox_relay', true) = 'on') WITH CHECK (tenant_id = current_setting('aion.tenant_id', true) or current_setting('aion.outbox_relay', true) = 'on');
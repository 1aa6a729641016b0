CREATE TABLE "orc_outbox" (
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
	CONSTRAINT "orc_outbox_event_id_unique" UNIQUE("event_id")
);
--> statement-breakpoint
ALTER TABLE "orc_outbox" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "orc_processed_events" (
	"consumer_group" text NOT NULL,
	"event_id" text NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "orc_processed_events_consumer_group_event_id_pk" PRIMARY KEY("consumer_group","event_id")
);
--> statement-breakpoint
CREATE INDEX "orc_outbox_unpublished_idx" ON "orc_outbox" USING btree ("seq") WHERE published_at is null;--> statement-breakpoint
CREATE POLICY "orc_outbox_tenant_or_relay" ON "orc_outbox" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true) or current_setting('aion.outbox_relay', true) = 'on') WITH CHECK (tenant_id = current_setting('aion.tenant_id', true) or current_setting('aion.outbox_relay', true) = 'on');
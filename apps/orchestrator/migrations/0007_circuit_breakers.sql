-- Platform-wide (one row per engine, shared by every tenant's tasks): no tenant_id, no row-level
-- security. The orchestrator's gRPC handlers restrict failure texts and resets to platform admins.
CREATE TABLE "orc_circuit_breakers" (
	"name" text PRIMARY KEY NOT NULL,
	"state" text DEFAULT 'closed' NOT NULL,
	"version" bigint DEFAULT 0 NOT NULL,
	"resets" bigint DEFAULT 0 NOT NULL,
	"trial_at" timestamp with time zone,
	"trial_by" text,
	"trial_until" timestamp with time zone,
	"opened" bigint DEFAULT 0 NOT NULL,
	"successes" bigint DEFAULT 0 NOT NULL,
	"failures" bigint DEFAULT 0 NOT NULL,
	"rejections" bigint DEFAULT 0 NOT NULL,
	"last_failure" text,
	"changed_by" text,
	"changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "orc_circuit_breakers_state_check" CHECK (state in ('closed','open','half_open')),
	CONSTRAINT "orc_circuit_breakers_counts_check" CHECK (version >= 0 and resets >= 0 and opened >= 0 and successes >= 0 and failures >= 0 and rejections >= 0)
);

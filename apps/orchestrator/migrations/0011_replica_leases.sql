CREATE TABLE "orc_replica_leases" (
	"replica_id" text PRIMARY KEY NOT NULL,
	"held_since" timestamp with time zone NOT NULL,
	"renewed_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "orc_tasks" ADD COLUMN "replica_id" text;
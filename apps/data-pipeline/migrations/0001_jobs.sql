CREATE TABLE "dpl_dataset_versions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"dataset_id" uuid NOT NULL,
	"number" integer NOT NULL,
	"content_sha256" text NOT NULL,
	"storage_uri" text NOT NULL,
	"manifest" jsonb NOT NULL,
	"row_count" bigint NOT NULL,
	"produced_by_job_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "dpl_dataset_versions" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "dpl_datasets" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "dpl_datasets" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "dpl_job_stages" (
	"job_id" uuid NOT NULL,
	"tenant_id" text NOT NULL,
	"stage" text NOT NULL,
	"status" text NOT NULL,
	"attempt" integer NOT NULL,
	"checkpoint" jsonb,
	"error" text DEFAULT '' NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "dpl_job_stages_job_id_stage_pk" PRIMARY KEY("job_id","stage"),
	CONSTRAINT "dpl_job_stages_status_check" CHECK (status in ('running','done','failed'))
);
--> statement-breakpoint
ALTER TABLE "dpl_job_stages" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "dpl_jobs" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"type" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"stage" text DEFAULT '' NOT NULL,
	"stages" jsonb NOT NULL,
	"source" jsonb NOT NULL,
	"spec" jsonb NOT NULL,
	"data_context" jsonb NOT NULL,
	"dataset_name" text NOT NULL,
	"idempotency_key" text DEFAULT '' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"max_attempts" integer NOT NULL,
	"run_after" timestamp with time zone DEFAULT now() NOT NULL,
	"lease_owner" text DEFAULT '' NOT NULL,
	"lease_expires_at" timestamp with time zone,
	"event_seq" integer DEFAULT 0 NOT NULL,
	"rows_processed" bigint DEFAULT 0 NOT NULL,
	"bytes_processed" bigint DEFAULT 0 NOT NULL,
	"quality_score" double precision,
	"data_version" text DEFAULT '' NOT NULL,
	"output_uri" text DEFAULT '' NOT NULL,
	"error_code" text DEFAULT '' NOT NULL,
	"error_message" text DEFAULT '' NOT NULL,
	"error_details" jsonb,
	"dead_lettered" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "dpl_jobs_status_check" CHECK (status in ('pending','running','succeeded','failed','canceled')),
	CONSTRAINT "dpl_jobs_type_check" CHECK (type in ('ingest','profile','clean','transform','orchestrate'))
);
--> statement-breakpoint
ALTER TABLE "dpl_jobs" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "dpl_profiles" (
	"job_id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"row_count" bigint NOT NULL,
	"duplicate_rows" bigint NOT NULL,
	"columns" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "dpl_profiles" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "dpl_quality_checks" (
	"job_id" uuid NOT NULL,
	"tenant_id" text NOT NULL,
	"position" integer NOT NULL,
	"expectation_type" text NOT NULL,
	"kwargs" jsonb NOT NULL,
	"severity" text NOT NULL,
	"success" boolean NOT NULL,
	"observed_value" jsonb,
	"element_count" bigint,
	"unexpected_count" bigint,
	"unexpected_percent" double precision,
	"unexpected_sample" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "dpl_quality_checks_job_id_position_pk" PRIMARY KEY("job_id","position"),
	CONSTRAINT "dpl_quality_checks_severity_check" CHECK (severity in ('critical','warning','info'))
);
--> statement-breakpoint
ALTER TABLE "dpl_quality_checks" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "dpl_dataset_versions" ADD CONSTRAINT "dpl_dataset_versions_dataset_id_dpl_datasets_id_fk" FOREIGN KEY ("dataset_id") REFERENCES "public"."dpl_datasets"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dpl_job_stages" ADD CONSTRAINT "dpl_job_stages_job_id_dpl_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."dpl_jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dpl_profiles" ADD CONSTRAINT "dpl_profiles_job_id_dpl_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."dpl_jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dpl_quality_checks" ADD CONSTRAINT "dpl_quality_checks_job_id_dpl_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."dpl_jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "dpl_dataset_versions_number_idx" ON "dpl_dataset_versions" USING btree ("dataset_id","number");--> statement-breakpoint
CREATE UNIQUE INDEX "dpl_dataset_versions_content_idx" ON "dpl_dataset_versions" USING btree ("dataset_id","content_sha256");--> statement-breakpoint
CREATE UNIQUE INDEX "dpl_datasets_name_idx" ON "dpl_datasets" USING btree ("tenant_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "dpl_jobs_idempotency_idx" ON "dpl_jobs" USING btree ("tenant_id","idempotency_key") WHERE idempotency_key <> '';--> statement-breakpoint
CREATE INDEX "dpl_jobs_list_idx" ON "dpl_jobs" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "dpl_jobs_queue_idx" ON "dpl_jobs" USING btree ("run_after") WHERE status in ('pending','running');--> statement-breakpoint
CREATE POLICY "dpl_dataset_versions_tenant_isolation" ON "dpl_dataset_versions" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));--> statement-breakpoint
CREATE POLICY "dpl_datasets_tenant_isolation" ON "dpl_datasets" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));--> statement-breakpoint
CREATE POLICY "dpl_job_stages_tenant_isolation" ON "dpl_job_stages" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));--> statement-breakpoint
CREATE POLICY "dpl_job_stages_worker" ON "dpl_job_stages" AS PERMISSIVE FOR ALL TO public USING (current_setting('aion.pipeline_worker', true) = 'on') WITH CHECK (current_setting('aion.pipeline_worker', true) = 'on');--> statement-breakpoint
CREATE POLICY "dpl_jobs_tenant_isolation" ON "dpl_jobs" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));--> statement-breakpoint
CREATE POLICY "dpl_jobs_worker" ON "dpl_jobs" AS PERMISSIVE FOR ALL TO public USING (current_setting('aion.pipeline_worker', true) = 'on') WITH CHECK (current_setting('aion.pipeline_worker', true) = 'on');--> statement-breakpoint
CREATE POLICY "dpl_profiles_tenant_isolation" ON "dpl_profiles" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));--> statement-breakpoint
CREATE POLICY "dpl_quality_checks_tenant_isolation" ON "dpl_quality_checks" AS PERMISSIVE FOR ALL TO public USING (tenant_id = current_setting('aion.tenant_id', true)) WITH CHECK (tenant_id = current_setting('aion.tenant_id', true));
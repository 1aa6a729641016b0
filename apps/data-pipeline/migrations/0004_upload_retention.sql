-- Uploads expire: those made before retention existed get the default 7 days from their creation.
ALTER TABLE "dpl_uploads" ADD COLUMN "expires_at" timestamp with time zone;--> statement-breakpoint
UPDATE "dpl_uploads" SET "expires_at" = "created_at" + interval '7 days';--> statement-breakpoint
ALTER TABLE "dpl_uploads" ALTER COLUMN "expires_at" SET NOT NULL;--> statement-breakpoint
CREATE INDEX "dpl_jobs_upload_idx" ON "dpl_jobs" USING btree (("source"->>'upload_id')) WHERE source->>'type' = 'upload';--> statement-breakpoint
CREATE INDEX "dpl_uploads_list_idx" ON "dpl_uploads" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "dpl_uploads_expiry_idx" ON "dpl_uploads" USING btree ("expires_at");--> statement-breakpoint
CREATE POLICY "dpl_uploads_sweeper" ON "dpl_uploads" AS PERMISSIVE FOR SELECT TO public USING (current_setting('aion.pipeline_worker', true) = 'on');

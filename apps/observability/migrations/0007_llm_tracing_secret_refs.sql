-- Langfuse secret keys are held by reference, never in the database: a settings row names the
-- key (the file <tenant_id>.<secret_key_ref> in the deployment's secrets, AION_OBSERVABILITY_SECRETS_DIR).
-- A tenant that had a key stored keeps its settings, now naming 'langfuse-secret-key': its
-- tracing resumes once the operator puts that key into the secrets as
-- <tenant_id>.langfuse-secret-key (docs/observability.md, "Upgrading"); until then nothing is sent.
-- The clear-text values are overwritten before the column goes (a dropped column's data stays
-- in the table's pages until rows are rewritten); VACUUM reclaims the old row versions.
ALTER TABLE "obs_llm_tracing" ADD COLUMN "secret_key_ref" text DEFAULT '' NOT NULL;--> statement-breakpoint
UPDATE "obs_llm_tracing" SET "secret_key_ref" = 'langfuse-secret-key', "secret_key" = '' WHERE "secret_key" <> '';--> statement-breakpoint
ALTER TABLE "obs_llm_tracing" DROP COLUMN "secret_key";

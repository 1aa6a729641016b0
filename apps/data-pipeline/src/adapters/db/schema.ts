// Tables owned by the data-pipeline service (prefix `dpl_`). drizzle-kit generates its migrations from here.
// Every tenant-scoped table carries tenant_id and the row-level-security policy in its migration.
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgPolicy,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import type { ErrorDetail } from '@aion/errors';
import { outboxTable, processedEventsTable } from '@aion/events';
import { tenantIsolationPolicy } from '@aion/tenancy';

export const outbox = outboxTable('dpl');
export const processedEvents = processedEventsTable('dpl');

/** The queue's workers claim jobs of every tenant: only inside a transaction that switched this on. */
const workerView = sql`current_setting('aion.pipeline_worker', true) = 'on'`;
const workerPolicy = (table: string) =>
  pgPolicy(`${table}_worker`, {
    as: 'permissive',
    for: 'all',
    using: workerView,
    withCheck: workerView,
  });

/**
 * Jobs and the durable queue in one table: pending jobs wait for run_after, a claimed job holds a
 * lease (lease_owner, lease_expires_at) that its worker renews; a job whose lease lapsed is claimed
 * again and resumes after its last checkpointed stage. event_seq numbers the job's events.
 */
export const jobs = pgTable(
  'dpl_jobs',
  {
    id: uuid('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    type: text('type').notNull(),
    status: text('status').notNull().default('pending'),
    stage: text('stage').notNull().default(''),
    stages: jsonb('stages').$type<string[]>().notNull(),
    source: jsonb('source').$type<Record<string, unknown>>().notNull(),
    spec: jsonb('spec').$type<Record<string, unknown>>().notNull(),
    dataContext: jsonb('data_context').$type<Record<string, unknown>>().notNull(),
    datasetName: text('dataset_name').notNull(),
    idempotencyKey: text('idempotency_key').notNull().default(''),
    attempts: integer('attempts').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull(),
    runAfter: timestamp('run_after', { withTimezone: true }).notNull().defaultNow(),
    leaseOwner: text('lease_owner').notNull().default(''),
    leaseExpiresAt: timestamp('lease_expires_at', { withTimezone: true }),
    eventSeq: integer('event_seq').notNull().default(0),
    rowsProcessed: bigint('rows_processed', { mode: 'number' }).notNull().default(0),
    bytesProcessed: bigint('bytes_processed', { mode: 'number' }).notNull().default(0),
    qualityScore: doublePrecision('quality_score'),
    dataVersion: text('data_version').notNull().default(''),
    outputUri: text('output_uri').notNull().default(''),
    errorCode: text('error_code').notNull().default(''),
    errorMessage: text('error_message').notNull().default(''),
    errorDetails: jsonb('error_details').$type<ErrorDetail[]>(),
    deadLettered: boolean('dead_lettered').notNull().default(false),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    /** How far the running stage is (0-100), as its worker last checkpointed it. */
    stagePercent: doublePrecision('stage_percent'),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('dpl_jobs_idempotency_idx')
      .on(t.tenantId, t.idempotencyKey)
      .where(sql`idempotency_key <> ''`),
    index('dpl_jobs_list_idx').on(t.tenantId, t.createdAt),
    index('dpl_jobs_queue_idx')
      .on(t.runAfter)
      .where(sql`status in ('pending','running')`),
    // The jobs that name an upload: what GetUpload shows, what deleting one checks first.
    index('dpl_jobs_upload_idx')
      .on(sql`(${t.source}->>'upload_id')`)
      .where(sql`source->>'type' = 'upload'`),
    check(
      'dpl_jobs_status_check',
      sql`status in ('pending','running','succeeded','failed','canceled')`,
    ),
    check(
      'dpl_jobs_type_check',
      sql`type in ('ingest','profile','clean','transform','orchestrate')`,
    ),
    tenantIsolationPolicy('dpl_jobs'),
    workerPolicy('dpl_jobs'),
  ],
).enableRLS();

/** One row per stage a job ran: its checkpoint is what the next stage (or a resumed job) starts from. */
export const jobStages = pgTable(
  'dpl_job_stages',
  {
    jobId: uuid('job_id')
      .notNull()
      .references(() => jobs.id, { onDelete: 'cascade' }),
    tenantId: text('tenant_id').notNull(),
    stage: text('stage').notNull(),
    status: text('status').notNull(),
    attempt: integer('attempt').notNull(),
    checkpoint: jsonb('checkpoint').$type<Record<string, unknown>>(),
    error: text('error').notNull().default(''),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [
    primaryKey({ columns: [t.jobId, t.stage] }),
    check('dpl_job_stages_status_check', sql`status in ('running','done','failed')`),
    tenantIsolationPolicy('dpl_job_stages'),
    workerPolicy('dpl_job_stages'),
  ],
).enableRLS();

/** Named datasets of a tenant; their content lives in immutable versions. */
export const datasets = pgTable(
  'dpl_datasets',
  {
    id: uuid('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    name: text('name').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('dpl_datasets_name_idx').on(t.tenantId, t.name),
    tenantIsolationPolicy('dpl_datasets'),
  ],
).enableRLS();

/** Immutable, content-addressed versions: content_sha256 is the sha256 of the version's manifest. */
export const datasetVersions = pgTable(
  'dpl_dataset_versions',
  {
    id: uuid('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    datasetId: uuid('dataset_id')
      .notNull()
      .references(() => datasets.id),
    number: integer('number').notNull(),
    contentSha256: text('content_sha256').notNull(),
    storageUri: text('storage_uri').notNull(),
    manifest: jsonb('manifest').$type<Record<string, unknown>>().notNull(),
    rowCount: bigint('row_count', { mode: 'number' }).notNull(),
    producedByJobId: uuid('produced_by_job_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('dpl_dataset_versions_number_idx').on(t.datasetId, t.number),
    uniqueIndex('dpl_dataset_versions_content_idx').on(t.datasetId, t.contentSha256),
    tenantIsolationPolicy('dpl_dataset_versions'),
  ],
).enableRLS();

/** A job's data profile (per-column statistics as JSON, one document per profile). */
export const profiles = pgTable(
  'dpl_profiles',
  {
    jobId: uuid('job_id')
      .primaryKey()
      .references(() => jobs.id, { onDelete: 'cascade' }),
    tenantId: text('tenant_id').notNull(),
    rowCount: bigint('row_count', { mode: 'number' }).notNull(),
    duplicateRows: bigint('duplicate_rows', { mode: 'number' }).notNull(),
    columns: jsonb('columns').$type<Record<string, unknown>[]>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  () => [tenantIsolationPolicy('dpl_profiles')],
).enableRLS();

/** The quality gate's result per expectation of a job's suite. */
export const qualityChecks = pgTable(
  'dpl_quality_checks',
  {
    jobId: uuid('job_id')
      .notNull()
      .references(() => jobs.id, { onDelete: 'cascade' }),
    tenantId: text('tenant_id').notNull(),
    position: integer('position').notNull(),
    expectationType: text('expectation_type').notNull(),
    kwargs: jsonb('kwargs').$type<Record<string, unknown>>().notNull(),
    severity: text('severity').notNull(),
    success: boolean('success').notNull(),
    observedValue: jsonb('observed_value'),
    elementCount: bigint('element_count', { mode: 'number' }),
    unexpectedCount: bigint('unexpected_count', { mode: 'number' }),
    unexpectedPercent: doublePrecision('unexpected_percent'),
    unexpectedSample: jsonb('unexpected_sample').$type<unknown[]>(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.jobId, t.position] }),
    check('dpl_quality_checks_severity_check', sql`severity in ('critical','warning','info')`),
    tenantIsolationPolicy('dpl_quality_checks'),
  ],
).enableRLS();

/**
 * Files a tenant uploaded to be a job's source (`{"type":"upload","upload_id":...}`): the bytes
 * sit in the object store under the tenant, this row says what they are. An Idempotency-Key
 * names one upload per tenant. Past expires_at the retention sweep deletes both; the sweep finds
 * expired uploads of every tenant (read only, with the worker setting on) and deletes each in
 * its own tenant.
 */
export const uploads = pgTable(
  'dpl_uploads',
  {
    id: uuid('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    format: text('format').notNull(),
    fileName: text('file_name').notNull().default(''),
    bytes: bigint('bytes', { mode: 'number' }).notNull(),
    sha256: text('sha256').notNull(),
    objectKey: text('object_key').notNull(),
    idempotencyKey: text('idempotency_key').notNull().default(''),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    uniqueIndex('dpl_uploads_idempotency_idx')
      .on(t.tenantId, t.idempotencyKey)
      .where(sql`idempotency_key <> ''`),
    index('dpl_uploads_list_idx').on(t.tenantId, t.createdAt),
    index('dpl_uploads_expiry_idx').on(t.expiresAt),
    check('dpl_uploads_format_check', sql`format in ('csv','jsonl','parquet')`),
    tenantIsolationPolicy('dpl_uploads'),
    pgPolicy('dpl_uploads_sweeper', { as: 'permissive', for: 'select', using: workerView }),
  ],
).enableRLS();

import { randomUUID } from 'node:crypto';
import { and, asc, count, desc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import { type Db, type Tx, TenantRepository, withTenant, withoutTenant } from '@aion/db';
import { AionError } from '@aion/errors';
import type { OutboxWriter } from '@aion/events';
import type { Checkpoint, Job, Stage } from '../../core/model';
import type {
  ClaimedJob,
  DatasetVersionRecord,
  JobError,
  JobFilter,
  JobStore,
  NewJob,
  StageProgress,
  StageResult,
  StoredCheck,
} from '../../core/ports';
import type { DatasetProfile } from '../../core/profile';
import { canonicalJson } from '../../core/versioning';
import { checkProto, jobProto, profileProto, stageNumber } from '../../proto';
import {
  datasets,
  datasetVersions,
  jobs,
  jobStages,
  profiles,
  qualityChecks,
  uploads,
} from './schema';

type JobRow = typeof jobs.$inferSelect;
const toJob = (r: JobRow): Job => ({
  ...r,
  type: r.type as Job['type'],
  status: r.status as Job['status'],
  stage: r.stage as Job['stage'],
  stages: r.stages as Stage[],
  errorDetails: (r.errorDetails as Job['errorDetails']) ?? null,
});

const WORKER_VIEW = sql`select set_config('aion.pipeline_worker', 'on', true)`;

/**
 * A job naming an upload keeps it while the job is recorded (FOR KEY SHARE): a delete or sweep
 * of it in flight (FOR UPDATE) either finishes first (then the upload is gone: 404) or sees
 * the job once it committed (then the upload is in use), never deletes it under a new job.
 */
async function holdUpload(tx: Tx, source: Record<string, unknown>) {
  const id = source['upload_id'];
  if (source['type'] !== 'upload' || typeof id !== 'string') return;
  const [held] = await tx
    .select({ id: uploads.id })
    .from(uploads)
    .where(eq(uploads.id, id))
    .for('key share');
  if (!held) throw AionError.notFound('upload', id);
}
const requestOf = (j: Pick<NewJob, 'type' | 'source' | 'spec' | 'dataContext'>) =>
  canonicalJson({ type: j.type, source: j.source, spec: j.spec, dataContext: j.dataContext });

/**
 * Jobs, their stages, profiles, quality checks and dataset versions in PostgreSQL (RLS by tenant).
 * Every state change of a job and its event (numbered per job by event_seq) commit together.
 */
export class PostgresJobStore extends TenantRepository implements JobStore {
  constructor(
    db: Db,
    private readonly outbox: OutboxWriter,
  ) {
    super(db);
  }

  create(input: NewJob) {
    return this.tx(async (tx, tenantId) => {
      await holdUpload(tx, input.source);
      const [row] = await tx
        .insert(jobs)
        .values({ id: randomUUID(), tenantId, ...input, eventSeq: 1 })
        .onConflictDoNothing()
        .returning();
      if (!row) {
        const [prior] = await tx
          .select()
          .from(jobs)
          .where(eq(jobs.idempotencyKey, input.idempotencyKey));
        if (!prior) throw AionError.conflict('the job could not be created; try again');
        const job = toJob(prior);
        if (requestOf(job) !== requestOf(input))
          throw new AionError(
            'validation.idempotency_key_reused',
            'this Idempotency-Key was used for a different job request',
          );
        return { job, created: false };
      }
      const job = toJob(row);
      await this.outbox.add(tx, {
        type: 'pipeline.job.created',
        key: job.id,
        tenantId: job.tenantId,
        payload: { job: jobProto(job), sequence: 1n },
      });
      return { job, created: true };
    });
  }

  get(id: string) {
    return this.tx(async (tx) => {
      const [row] = await tx.select().from(jobs).where(eq(jobs.id, id));
      return row && toJob(row);
    });
  }

  list(window: { offset: number; limit: number }, filter: JobFilter) {
    return this.tx(async (tx) => {
      const where = and(
        filter.status ? eq(jobs.status, filter.status) : undefined,
        filter.datasetName ? eq(jobs.datasetName, filter.datasetName) : undefined,
      );
      const rows = await tx
        .select()
        .from(jobs)
        .where(where)
        .orderBy(desc(jobs.createdAt), desc(jobs.id))
        .limit(window.limit)
        .offset(window.offset);
      const [total] = await tx.select({ n: count() }).from(jobs).where(where);
      return { items: rows.map(toJob), total: total?.n ?? 0 };
    });
  }

  cancel(id: string, reason: string) {
    return this.tx(async (tx) => {
      const [row] = await tx
        .update(jobs)
        .set({
          status: 'canceled',
          errorCode: 'canceled',
          errorMessage: reason || 'canceled',
          finishedAt: sql`now()`,
          updatedAt: sql`now()`,
          leaseOwner: '',
          eventSeq: sql`${jobs.eventSeq} + 1`,
        })
        .where(and(eq(jobs.id, id), inArray(jobs.status, ['pending', 'running'])))
        .returning();
      if (!row) {
        const [existing] = await tx.select().from(jobs).where(eq(jobs.id, id));
        if (!existing) return undefined;
        const job = toJob(existing);
        if (job.status === 'canceled') return job;
        throw AionError.conflict(`job ${id} is ${job.status} and cannot be canceled`);
      }
      const job = toJob(row);
      await this.outbox.add(tx, {
        type: 'pipeline.job.failed',
        key: job.id,
        tenantId: job.tenantId,
        payload: {
          job: jobProto(job),
          failedStage: stageNumber(job.stage),
          errorMessage: job.errorMessage,
          sequence: BigInt(row.eventSeq),
        },
      });
      return job;
    });
  }

  profile(jobId: string) {
    return this.tx(async (tx) => {
      const [row] = await tx.select().from(profiles).where(eq(profiles.jobId, jobId));
      return (
        row && {
          rowCount: row.rowCount,
          duplicateRows: row.duplicateRows,
          columns: row.columns as unknown as DatasetProfile['columns'],
        }
      );
    });
  }

  checks(jobId: string) {
    return this.tx(async (tx) => {
      const rows = await tx
        .select()
        .from(qualityChecks)
        .where(eq(qualityChecks.jobId, jobId))
        .orderBy(asc(qualityChecks.position));
      return rows.map((r): StoredCheck => ({
        position: r.position,
        type: r.expectationType as StoredCheck['type'],
        kwargs: r.kwargs,
        severity: r.severity as StoredCheck['severity'],
        success: r.success,
        observedValue: r.observedValue,
        elementCount: r.elementCount,
        unexpectedCount: r.unexpectedCount,
        unexpectedPercent: r.unexpectedPercent,
        unexpectedSample: r.unexpectedSample ?? [],
      }));
    });
  }

  versions(datasetName: string, window: { offset: number; limit: number }) {
    return this.tx(async (tx) => {
      const [ds] = await tx.select().from(datasets).where(eq(datasets.name, datasetName));
      if (!ds) return { items: [], total: 0 };
      const rows = await tx
        .select()
        .from(datasetVersions)
        .where(eq(datasetVersions.datasetId, ds.id))
        .orderBy(desc(datasetVersions.number))
        .limit(window.limit)
        .offset(window.offset);
      const [total] = await tx
        .select({ n: count() })
        .from(datasetVersions)
        .where(eq(datasetVersions.datasetId, ds.id));
      return { items: rows.map((r) => toVersion(r, datasetName)), total: total?.n ?? 0 };
    });
  }

  async claim(owner: string, leaseMs: number): Promise<ClaimedJob | undefined> {
    return withoutTenant(this.db, async (tx) => {
      await tx.execute(WORKER_VIEW);
      const next = tx
        .select({ id: jobs.id })
        .from(jobs)
        .where(
          sql`(${jobs.status} = 'pending' and ${jobs.runAfter} <= now())
            or (${jobs.status} = 'running' and ${jobs.leaseExpiresAt} < now())`,
        )
        .orderBy(asc(jobs.runAfter))
        .limit(1)
        .for('update', { skipLocked: true });
      const [row] = await tx
        .update(jobs)
        .set({
          status: 'running',
          attempts: sql`${jobs.attempts} + 1`,
          leaseOwner: owner,
          leaseExpiresAt: lease(leaseMs),
          updatedAt: sql`now()`,
        })
        .where(sql`${jobs.id} in (${next})`)
        .returning();
      if (!row) return undefined;
      const done = await tx
        .select()
        .from(jobStages)
        .where(and(eq(jobStages.jobId, row.id), eq(jobStages.status, 'done')));
      const checkpoints: ClaimedJob['checkpoints'] = {};
      for (const s of done) checkpoints[s.stage as Stage] = (s.checkpoint ?? {}) as Checkpoint;
      return { job: toJob(row), checkpoints };
    });
  }

  renew(job: Job, owner: string, leaseMs: number) {
    return withTenant(this.db, job.tenantId, async (tx) => {
      const rows = await tx
        .update(jobs)
        .set({ leaseExpiresAt: lease(leaseMs) })
        .where(ownedBy(job.id, owner))
        .returning({ id: jobs.id });
      return rows.length === 1;
    });
  }

  startStage(job: Job, stage: Stage) {
    return withTenant(this.db, job.tenantId, async (tx) => {
      await tx
        .update(jobs)
        .set({ stage, stagePercent: 0, updatedAt: sql`now()` })
        .where(eq(jobs.id, job.id));
      await tx
        .insert(jobStages)
        .values({
          jobId: job.id,
          tenantId: job.tenantId,
          stage,
          status: 'running',
          attempt: job.attempts,
        })
        .onConflictDoUpdate({
          target: [jobStages.jobId, jobStages.stage],
          set: {
            status: 'running',
            attempt: job.attempts,
            error: '',
            startedAt: sql`now()`,
            finishedAt: null,
          },
        });
    });
  }

  progress(job: Job, owner: string, progress: StageProgress) {
    return withTenant(this.db, job.tenantId, async (tx) => {
      const rows = await tx
        .update(jobs)
        .set({
          stagePercent: progress.percent,
          ...(progress.rows !== undefined ? { rowsProcessed: progress.rows } : {}),
          ...(progress.bytes !== undefined ? { bytesProcessed: progress.bytes } : {}),
          updatedAt: sql`now()`,
        })
        .where(ownedBy(job.id, owner))
        .returning({ id: jobs.id });
      return rows.length === 1;
    });
  }

  finishStage(job: Job, stage: Stage, owner: string, result: StageResult) {
    return withTenant(this.db, job.tenantId, async (tx) => {
      const progress: Partial<JobRow> = {};
      if (result.checkpoint.rows !== undefined) progress.rowsProcessed = result.checkpoint.rows;
      if (result.checkpoint.bytes !== undefined) progress.bytesProcessed = result.checkpoint.bytes;
      if (result.qualityScore !== undefined) progress.qualityScore = result.qualityScore;
      const [row] = await tx
        .update(jobs)
        .set({
          ...progress,
          stagePercent: 100,
          updatedAt: sql`now()`,
          ...(result.profile ? { eventSeq: sql`${jobs.eventSeq} + 1` } : {}),
        })
        .where(ownedBy(job.id, owner))
        .returning();
      // The lease went to another worker (or the job was canceled): this stage's work is not kept.
      if (!row) return false;
      if (result.profile) await this.saveProfile(tx, row, result.profile);
      if (result.checks) {
        await tx.delete(qualityChecks).where(eq(qualityChecks.jobId, job.id));
        if (result.checks.length > 0)
          await tx.insert(qualityChecks).values(
            result.checks.map((c) => ({
              jobId: job.id,
              tenantId: job.tenantId,
              position: c.position,
              expectationType: c.type,
              kwargs: c.kwargs,
              severity: c.severity,
              success: c.success,
              observedValue: c.observedValue ?? null,
              elementCount: c.elementCount,
              unexpectedCount: c.unexpectedCount,
              unexpectedPercent: c.unexpectedPercent,
              unexpectedSample: c.unexpectedSample,
            })),
          );
      }
      if (result.version) await this.saveVersion(tx, row, result.version);
      await tx
        .update(jobStages)
        .set({ status: 'done', checkpoint: result.checkpoint, finishedAt: sql`now()` })
        .where(and(eq(jobStages.jobId, job.id), eq(jobStages.stage, stage)));
      return true;
    });
  }

  private async saveProfile(tx: Tx, row: JobRow, profile: DatasetProfile) {
    const values = {
      rowCount: profile.rowCount,
      duplicateRows: profile.duplicateRows,
      columns: profile.columns as unknown as Record<string, unknown>[],
    };
    await tx
      .insert(profiles)
      .values({ jobId: row.id, tenantId: row.tenantId, ...values })
      .onConflictDoUpdate({ target: profiles.jobId, set: values });
    await this.outbox.add(tx, {
      type: 'pipeline.profile.completed',
      key: row.id,
      tenantId: row.tenantId,
      payload: {
        profile: profileProto(row.id, profile, new Date()),
        jobId: row.id,
        sequence: BigInt(row.eventSeq),
      },
    });
  }

  /** Equal content is one version: a second job producing it gets the existing version. */
  private async saveVersion(tx: Tx, row: JobRow, v: NonNullable<StageResult['version']>) {
    await tx
      .insert(datasets)
      .values({ id: randomUUID(), tenantId: row.tenantId, name: v.datasetName })
      .onConflictDoNothing();
    const [ds] = await tx.select().from(datasets).where(eq(datasets.name, v.datasetName));
    await tx.execute(sql`
      insert into ${datasetVersions} (id, tenant_id, dataset_id, number, content_sha256, storage_uri, manifest, row_count, produced_by_job_id)
      select ${randomUUID()}, ${row.tenantId}, ${ds!.id},
        coalesce((select max(number) from ${datasetVersions} where dataset_id = ${ds!.id}), 0) + 1,
        ${v.contentSha256}, ${v.storageUri}, ${JSON.stringify(v.manifest)}::jsonb, ${v.rowCount}, ${row.id}
      on conflict (dataset_id, content_sha256) do nothing`);
    await tx
      .update(jobs)
      .set({ dataVersion: v.contentSha256, outputUri: v.storageUri })
      .where(eq(jobs.id, row.id));
  }

  retry(job: Job, stage: Stage, owner: string, error: string, delayMs: number) {
    return withTenant(this.db, job.tenantId, async (tx) => {
      await tx
        .update(jobs)
        .set({
          status: 'pending',
          leaseOwner: '',
          leaseExpiresAt: null,
          runAfter: sql`now() + make_interval(secs => ${delayMs / 1000})`,
          errorMessage: error,
          updatedAt: sql`now()`,
        })
        .where(ownedBy(job.id, owner));
      await markStage(tx, job.id, stage, error);
    });
  }

  fail(job: Job, stage: Stage, owner: string, error: JobError) {
    return withTenant(this.db, job.tenantId, async (tx) => {
      const [row] = await tx
        .update(jobs)
        .set({
          status: 'failed',
          leaseOwner: '',
          leaseExpiresAt: null,
          errorCode: error.code,
          errorMessage: error.message,
          errorDetails: error.details,
          deadLettered: error.deadLettered,
          finishedAt: sql`now()`,
          updatedAt: sql`now()`,
          eventSeq: sql`${jobs.eventSeq} + 1`,
        })
        .where(ownedBy(job.id, owner))
        .returning();
      if (!row) return;
      await markStage(tx, job.id, stage, error.message);
      await this.outbox.add(tx, {
        type: 'pipeline.job.failed',
        key: job.id,
        tenantId: job.tenantId,
        payload: {
          job: jobProto(toJob(row)),
          failedStage: stageNumber(stage),
          errorMessage: error.message,
          sequence: BigInt(row.eventSeq),
        },
      });
    });
  }

  succeed(job: Job, owner: string) {
    return withTenant(this.db, job.tenantId, async (tx) => {
      const [row] = await tx
        .update(jobs)
        .set({
          status: 'succeeded',
          leaseOwner: '',
          leaseExpiresAt: null,
          errorMessage: '',
          finishedAt: sql`now()`,
          updatedAt: sql`now()`,
          eventSeq: sql`${jobs.eventSeq} + 1`,
        })
        .where(ownedBy(job.id, owner))
        .returning();
      if (!row) return;
      const done = toJob(row);
      const checks = await tx
        .select()
        .from(qualityChecks)
        .where(eq(qualityChecks.jobId, job.id))
        .orderBy(asc(qualityChecks.position));
      const [version] = done.dataVersion
        ? await tx
            .select()
            .from(datasetVersions)
            .where(eq(datasetVersions.contentSha256, done.dataVersion))
            .limit(1)
        : [];
      await this.outbox.add(tx, {
        type: 'pipeline.job.completed',
        key: job.id,
        tenantId: job.tenantId,
        payload: {
          job: jobProto(done),
          sequence: BigInt(row.eventSeq),
          ...(version
            ? {
                version: {
                  id: version.contentSha256,
                  datasetId: done.datasetName,
                  number: version.number,
                  storageUri: version.storageUri,
                  contentSha256: version.contentSha256,
                  rowCount: BigInt(version.rowCount),
                  producedByJobId: version.producedByJobId ?? '',
                },
              }
            : {}),
          ...(checks.length
            ? {
                quality: {
                  jobId: job.id,
                  passed: true,
                  score: done.qualityScore ?? 0,
                  checks: checks.map((c) =>
                    checkProto({
                      position: c.position,
                      type: c.expectationType as StoredCheck['type'],
                      kwargs: c.kwargs,
                      severity: c.severity as StoredCheck['severity'],
                      success: c.success,
                      observedValue: c.observedValue,
                      elementCount: c.elementCount,
                      unexpectedCount: c.unexpectedCount,
                      unexpectedPercent: c.unexpectedPercent,
                      unexpectedSample: c.unexpectedSample ?? [],
                    }),
                  ),
                },
              }
            : {}),
        },
      });
    });
  }
}

const lease = (ms: number): SQL => sql`now() + make_interval(secs => ${ms / 1000})`;

/** The job is still running under this worker's lease. */
const ownedBy = (id: string, owner: string) =>
  and(eq(jobs.id, id), eq(jobs.status, 'running'), eq(jobs.leaseOwner, owner));

const markStage = (tx: Tx, jobId: string, stage: Stage, error: string) =>
  tx
    .update(jobStages)
    .set({ status: 'failed', error, finishedAt: sql`now()` })
    .where(and(eq(jobStages.jobId, jobId), eq(jobStages.stage, stage)));

const toVersion = (
  r: typeof datasetVersions.$inferSelect,
  datasetName: string,
): DatasetVersionRecord => ({
  ...r,
  datasetName,
  manifest: r.manifest,
});

import { and, asc, count, desc, eq, inArray, lte, sql } from 'drizzle-orm';
import { type Db, type Tx, TenantRepository, withTenant, withoutTenant } from '@aion/db';
import { AionError } from '@aion/errors';
import type { OutboxWriter } from '@aion/events';
import type { JobStatus } from '../../core/model';
import { ACTIVE_JOB_STATUSES } from '../../core/upload-retention';
import type {
  NewUpload,
  ReleaseUpload,
  Upload,
  UploadDeletionReason,
  UploadFormat,
  UploadJob,
  UploadStore,
} from '../../core/uploads';
import { uploadProto } from '../../proto';
import { jobs, uploads } from './schema';

type UploadRow = typeof uploads.$inferSelect;
const toUpload = (r: UploadRow): Upload => ({ ...r, format: r.format as UploadFormat });

/** The jobs whose source is the upload `id` (the expression dpl_jobs_upload_idx indexes). */
const namesUpload = (id: string) =>
  and(sql`${jobs.source}->>'type' = 'upload'`, sql`${jobs.source}->>'upload_id' = ${id}`);

const WORKER_VIEW = sql`select set_config('aion.pipeline_worker', 'on', true)`;

/**
 * Upload records in PostgreSQL, in the caller's tenant (RLS): another tenant's id finds nothing.
 * Every upload made or deleted commits with its event (pipeline.upload.created / .deleted).
 */
export class PostgresUploadStore extends TenantRepository implements UploadStore {
  constructor(
    db: Db,
    private readonly outbox: OutboxWriter,
  ) {
    super(db);
  }

  create({ retentionMs, ...input }: NewUpload) {
    return this.tx(async (tx, tenantId) => {
      const [row] = await tx
        .insert(uploads)
        // Both from the transaction's clock: expires_at is exactly created_at + retention.
        .values({
          ...input,
          tenantId,
          expiresAt: sql`now() + make_interval(secs => ${retentionMs / 1000})`,
        })
        .onConflictDoNothing()
        .returning();
      if (row) {
        const upload = toUpload(row);
        await this.outbox.add(tx, {
          type: 'pipeline.upload.created',
          key: upload.id,
          tenantId,
          payload: { upload: uploadProto(upload) },
        });
        return { upload, created: true };
      }
      const [prior] = await tx
        .select()
        .from(uploads)
        .where(eq(uploads.idempotencyKey, input.idempotencyKey));
      if (!prior) throw AionError.conflict('the upload could not be recorded; try again');
      return { upload: toUpload(prior), created: false };
    });
  }

  get(id: string) {
    return this.tx(async (tx) => {
      const [row] = await tx.select().from(uploads).where(eq(uploads.id, id));
      return row && toUpload(row);
    });
  }

  byIdempotencyKey(key: string) {
    return this.tx(async (tx, tenantId) => {
      const [row] = await tx
        .select()
        .from(uploads)
        .where(and(eq(uploads.tenantId, tenantId), eq(uploads.idempotencyKey, key)));
      return row && toUpload(row);
    });
  }

  list(window: { offset: number; limit: number }, filter: { format?: UploadFormat }) {
    return this.tx(async (tx) => {
      const where = filter.format ? eq(uploads.format, filter.format) : undefined;
      const rows = await tx
        .select()
        .from(uploads)
        .where(where)
        .orderBy(desc(uploads.createdAt), desc(uploads.id))
        .limit(window.limit)
        .offset(window.offset);
      const [total] = await tx.select({ n: count() }).from(uploads).where(where);
      return { items: rows.map(toUpload), total: total?.n ?? 0 };
    });
  }

  jobsOf(id: string, limit: number) {
    return this.tx((tx) => jobsNaming(tx, id, limit));
  }

  delete(id: string, release: ReleaseUpload) {
    return this.tx(async (tx) => {
      // Waits for a deletion of the same upload in flight; finds nothing once it committed.
      const [row] = await tx.select().from(uploads).where(eq(uploads.id, id)).for('update');
      if (!row) return undefined;
      const upload = toUpload(row);
      await release(upload, await activeJobsNaming(tx, id));
      await this.remove(tx, upload, 'deleted');
      return upload;
    });
  }

  expired(limit: number) {
    return withoutTenant(this.db, async (tx) => {
      await tx.execute(WORKER_VIEW);
      return tx
        .select({ id: uploads.id, tenantId: uploads.tenantId })
        .from(uploads)
        .where(lte(uploads.expiresAt, sql`now()`))
        .orderBy(asc(uploads.expiresAt))
        .limit(limit);
    });
  }

  expire(candidate: { id: string; tenantId: string }, release: ReleaseUpload) {
    return withTenant(this.db, candidate.tenantId, async (tx) => {
      // Another sweeper (or a DELETE) holding it: skipped, it is theirs to finish.
      const [row] = await tx
        .select()
        .from(uploads)
        .where(and(eq(uploads.id, candidate.id), lte(uploads.expiresAt, sql`now()`)))
        .for('update', { skipLocked: true });
      if (!row) return undefined;
      const upload = toUpload(row);
      const active = await activeJobsNaming(tx, upload.id);
      // Kept while a queued or running job still reads it; swept once they finished.
      if (active.length) return undefined;
      await release(upload, active);
      await this.remove(tx, upload, 'expired');
      return upload;
    });
  }

  private async remove(tx: Tx, upload: Upload, reason: UploadDeletionReason) {
    await tx.delete(uploads).where(eq(uploads.id, upload.id));
    await this.outbox.add(tx, {
      type: 'pipeline.upload.deleted',
      key: upload.id,
      tenantId: upload.tenantId,
      payload: { upload: uploadProto(upload), reason },
    });
  }
}

async function jobsNaming(tx: Tx, id: string, limit: number): Promise<UploadJob[]> {
  const rows = await tx
    .select({ id: jobs.id, status: jobs.status, createdAt: jobs.createdAt })
    .from(jobs)
    .where(namesUpload(id))
    .orderBy(desc(jobs.createdAt), desc(jobs.id))
    .limit(limit);
  return rows.map((r) => ({ ...r, status: r.status as JobStatus }));
}

async function activeJobsNaming(tx: Tx, id: string): Promise<UploadJob[]> {
  const rows = await tx
    .select({ id: jobs.id, status: jobs.status, createdAt: jobs.createdAt })
    .from(jobs)
    .where(and(namesUpload(id), inArray(jobs.status, [...ACTIVE_JOB_STATUSES])));
  return rows.map((r) => ({ ...r, status: r.status as JobStatus }));
}

import { and, eq } from 'drizzle-orm';
import { type Db, TenantRepository } from '@aion/db';
import { AionError } from '@aion/errors';
import type { NewUpload, Upload, UploadFormat, UploadStore } from '../../core/uploads';
import { uploads } from './schema';

const toUpload = (r: typeof uploads.$inferSelect): Upload => ({
  ...r,
  format: r.format as UploadFormat,
});

/** Upload records in PostgreSQL, in the caller's tenant (RLS): another tenant's id finds nothing. */
export class PostgresUploadStore extends TenantRepository implements UploadStore {
  constructor(db: Db) {
    super(db);
  }

  create(input: NewUpload) {
    return this.tx(async (tx, tenantId) => {
      const [row] = await tx
        .insert(uploads)
        .values({ ...input, tenantId })
        .onConflictDoNothing()
        .returning();
      if (row) return { upload: toUpload(row), created: true };
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
}

import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import type { ApiKeyRecord, ApiKeyRepository, Role } from '@aion/auth';
import { withTenant, withoutTenant, type Db } from '@aion/db';
import { AionError } from '@aion/errors';
import { apiKeys } from './schema';

type Row = typeof apiKeys.$inferSelect;

const toRecord = (row: Row): ApiKeyRecord => ({ ...row, role: row.role as Role });

/** API keys in PostgreSQL: hashed secrets, RLS by tenant, lookup by prefix in lookup mode. */
export class PostgresApiKeyRepository implements ApiKeyRepository {
  constructor(private readonly db: Db) {}

  async insert(record: ApiKeyRecord): Promise<void> {
    try {
      await withTenant(this.db, record.tenantId, (tx) => tx.insert(apiKeys).values(record));
    } catch (err) {
      if (
        (err as { code?: string; cause?: { code?: string } }).code === '23505' ||
        (err as { cause?: { code?: string } }).cause?.code === '23505'
      )
        throw AionError.conflict('API key prefix collision; try again');
      throw err;
    }
  }

  async findByPrefix(prefix: string): Promise<ApiKeyRecord | undefined> {
    return withoutTenant(this.db, async (tx) => {
      await tx.execute(sql`select set_config('aion.key_lookup', 'on', true)`);
      const [row] = await tx.select().from(apiKeys).where(eq(apiKeys.prefix, prefix));
      return row ? toRecord(row) : undefined;
    });
  }

  async listByTenant(tenantId: string): Promise<ApiKeyRecord[]> {
    return withTenant(this.db, tenantId, async (tx) =>
      (await tx.select().from(apiKeys).orderBy(desc(apiKeys.createdAt))).map(toRecord),
    );
  }

  async revoke(tenantId: string, id: string, at: Date): Promise<boolean> {
    return withTenant(this.db, tenantId, async (tx) => {
      const [row] = await tx.select({ id: apiKeys.id }).from(apiKeys).where(eq(apiKeys.id, id));
      if (!row) return false;
      await tx
        .update(apiKeys)
        .set({ revokedAt: at })
        .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)));
      return true;
    });
  }

  async touch(id: string, at: Date): Promise<void> {
    await withoutTenant(this.db, async (tx) => {
      await tx.execute(sql`select set_config('aion.key_lookup', 'on', true)`);
      const [row] = await tx
        .select({ tenantId: apiKeys.tenantId })
        .from(apiKeys)
        .where(eq(apiKeys.id, id));
      if (!row) return;
      await tx.execute(sql`select set_config('aion.tenant_id', ${row.tenantId}, true)`);
      await tx.update(apiKeys).set({ lastUsedAt: at }).where(eq(apiKeys.id, id));
    });
  }

  /** True when no key exists at all (first start). */
  async isEmpty(): Promise<boolean> {
    return withoutTenant(this.db, async (tx) => {
      await tx.execute(sql`select set_config('aion.key_lookup', 'on', true)`);
      const [row] = await tx.select({ n: sql<number>`count(*)::int` }).from(apiKeys);
      return (row?.n ?? 0) === 0;
    });
  }
}

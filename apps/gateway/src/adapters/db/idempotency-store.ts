import { and, eq, isNull, sql } from 'drizzle-orm';
import { inTransaction, rowsOf, withTenant, type Db } from '@aion/db';
import type {
  IdempotencyRecord,
  IdempotencyScope,
  IdempotencyStore,
  StoredResponse,
} from '../../core/idempotency';
import { idempotencyKeys as keys } from './schema';

const ofScope = (scope: IdempotencyScope) =>
  and(eq(keys.tenantId, scope.tenantId), eq(keys.keyHash, scope.keyHash));

const after = (ms: number) =>
  sql`now() + ${`${Math.max(0, Math.round(ms))} milliseconds`}::interval`;

/** PostgreSQL (or PGlite): every statement in the key's tenant, so row-level security applies. */
export class PostgresIdempotencyStore implements IdempotencyStore {
  constructor(private readonly db: Db) {}

  async claim(
    scope: IdempotencyScope,
    requestHash: string,
    ttlMs: number,
    leaseMs: number,
  ): Promise<IdempotencyRecord | undefined> {
    for (;;) {
      const outcome = await this.claimOnce(scope, requestHash, ttlMs, leaseMs);
      // The record went between the two statements (purged right at its expiry): claim again.
      if (outcome !== 'vanished') return outcome;
    }
  }

  private claimOnce(
    scope: IdempotencyScope,
    requestHash: string,
    ttlMs: number,
    leaseMs: number,
  ): Promise<IdempotencyRecord | undefined | 'vanished'> {
    return withTenant(this.db, scope.tenantId, async (tx) => {
      const fresh = {
        requestHash,
        taskId: null,
        responseStatus: null,
        response: null,
        leaseUntil: after(leaseMs),
        createdAt: sql`now()`,
        expiresAt: after(ttlMs),
      };
      // A record past its expiry counts as absent: the claim replaces it in the same statement.
      const claimed = await tx
        .insert(keys)
        .values({ tenantId: scope.tenantId, keyHash: scope.keyHash, ...fresh })
        .onConflictDoUpdate({
          target: [keys.tenantId, keys.keyHash],
          set: fresh,
          setWhere: sql`${keys.expiresAt} <= now()`,
        })
        .returning({ keyHash: keys.keyHash });
      if (claimed.length) return undefined;
      const [row] = await tx
        .select({
          requestHash: keys.requestHash,
          responseStatus: keys.responseStatus,
          response: keys.response,
          leased: sql<boolean>`coalesce(${keys.leaseUntil} > now(), false)`,
        })
        .from(keys)
        .where(ofScope(scope));
      if (!row) return 'vanished';
      const stored = row.response as Omit<StoredResponse, 'status'> | null;
      return {
        requestHash: row.requestHash,
        leased: row.leased,
        ...(row.responseStatus !== null && stored
          ? { response: { ...stored, status: row.responseStatus } }
          : {}),
      };
    });
  }

  async retake(scope: IdempotencyScope, leaseMs: number): Promise<boolean> {
    const taken = await withTenant(this.db, scope.tenantId, (tx) =>
      tx
        .update(keys)
        .set({ leaseUntil: after(leaseMs) })
        .where(
          and(
            ofScope(scope),
            isNull(keys.responseStatus),
            sql`(${keys.leaseUntil} is null or ${keys.leaseUntil} <= now())`,
          ),
        )
        .returning({ keyHash: keys.keyHash }),
    );
    return taken.length === 1;
  }

  async complete(scope: IdempotencyScope, response: StoredResponse, taskId?: string) {
    const { status, ...rest } = response;
    await withTenant(this.db, scope.tenantId, (tx) =>
      tx
        .update(keys)
        .set({
          responseStatus: status,
          response: rest,
          leaseUntil: null,
          ...(taskId ? { taskId } : {}),
        })
        .where(ofScope(scope)),
    );
  }

  async release(scope: IdempotencyScope, taskId?: string) {
    await withTenant(this.db, scope.tenantId, (tx) =>
      tx
        .update(keys)
        .set({ leaseUntil: null, ...(taskId ? { taskId } : {}) })
        .where(and(ofScope(scope), isNull(keys.responseStatus))),
    );
  }

  async forget(scope: IdempotencyScope) {
    await withTenant(this.db, scope.tenantId, (tx) =>
      tx.delete(keys).where(and(ofScope(scope), isNull(keys.responseStatus))),
    );
  }

  async purgeExpired(limit: number): Promise<number> {
    const purged = await inTransaction(
      this.db,
      [sql`select set_config('aion.idempotency_purge', 'on', true)`],
      (tx) =>
        tx.execute(
          sql`delete from ${keys} where (${keys.tenantId}, ${keys.keyHash}) in (
                select ${keys.tenantId}, ${keys.keyHash} from ${keys}
                 where ${keys.expiresAt} <= now() limit ${limit})
              returning 1`,
        ),
    );
    return rowsOf(purged).length;
  }
}

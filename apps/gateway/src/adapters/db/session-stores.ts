import { and, eq, isNull } from 'drizzle-orm';
import type { Role } from '@aion/auth';
import { withTenant, type Db } from '@aion/db';
import { AionError } from '@aion/errors';
import type { RefreshRecord, RefreshStore, UserRecord, UserStore } from '../../core/sessions';
import { refreshTokens, users } from './schema';

const isUnique = (err: unknown) => {
  const e = err as { code?: string; cause?: { code?: string } };
  return e.code === '23505' || e.cause?.code === '23505';
};

export class PostgresUsers implements UserStore {
  constructor(private readonly db: Db) {}

  async find(tenantId: string, normalizedUsername: string): Promise<UserRecord | undefined> {
    const [row] = await withTenant(this.db, tenantId, (tx) =>
      tx.select().from(users).where(eq(users.normalizedUsername, normalizedUsername)),
    );
    return row && { ...row, role: row.role as Role };
  }

  async findById(tenantId: string, id: string): Promise<UserRecord | undefined> {
    const [row] = await withTenant(this.db, tenantId, (tx) =>
      tx.select().from(users).where(eq(users.id, id)),
    );
    return row && { ...row, role: row.role as Role };
  }

  async create(user: UserRecord): Promise<void> {
    try {
      await withTenant(this.db, user.tenantId, (tx) => tx.insert(users).values(user));
    } catch (err) {
      if (isUnique(err)) throw AionError.conflict(`user ${user.username} already exists`);
      throw err;
    }
  }
}

export class PostgresRefreshTokens implements RefreshStore {
  constructor(private readonly db: Db) {}

  async insert(token: RefreshRecord): Promise<void> {
    await withTenant(this.db, token.tenantId, (tx) => tx.insert(refreshTokens).values(token));
  }

  async find(tenantId: string, tokenHash: string): Promise<RefreshRecord | undefined> {
    const [row] = await withTenant(this.db, tenantId, (tx) =>
      tx.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, tokenHash)),
    );
    return row;
  }

  async markUsed(tenantId: string, id: string): Promise<boolean> {
    const updated = await withTenant(this.db, tenantId, (tx) =>
      tx
        .update(refreshTokens)
        .set({ usedAt: new Date() })
        .where(and(eq(refreshTokens.id, id), isNull(refreshTokens.usedAt)))
        .returning({ id: refreshTokens.id }),
    );
    return updated.length === 1;
  }

  async revokeFamily(tenantId: string, familyId: string): Promise<void> {
    await withTenant(this.db, tenantId, (tx) =>
      tx
        .update(refreshTokens)
        .set({ revokedAt: new Date() })
        .where(eq(refreshTokens.familyId, familyId)),
    );
  }
}

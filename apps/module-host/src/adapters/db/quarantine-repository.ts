import { and, count, desc, eq } from 'drizzle-orm';
import { withTenant, type Db, type Tx } from '@aion/db';
import type { OutboxWriter } from '@aion/events';
import { currentTenant, SYSTEM_TENANT } from '@aion/tenancy';
import type { AuditEntry, QuarantineEntry, QuarantineRepository } from '../../core/ports';
import { recordModuleAudit } from './package-repository';
import { quarantine } from './schema';

type Row = typeof quarantine.$inferSelect;

function toEntry(row: Row): QuarantineEntry {
  return {
    id: row.id,
    reference: row.reference,
    digest: row.digest ?? undefined,
    name: row.name ?? undefined,
    version: row.version ?? undefined,
    reason: row.reason,
    message: row.message,
    config: row.config ?? undefined,
    sbom: row.sbom ?? undefined,
    quarantinedAt: row.quarantinedAt,
  };
}

/** The acting tenant's quarantine, under row-level security. */
export class PostgresQuarantineRepository implements QuarantineRepository {
  constructor(
    private readonly db: Db,
    private readonly outbox: OutboxWriter,
  ) {}

  private transaction<T>(fn: (tx: Tx, tenantId: string) => Promise<T>): Promise<T> {
    const tenantId = currentTenant()?.tenantId ?? SYSTEM_TENANT;
    return withTenant(this.db, tenantId, (tx) => fn(tx, tenantId));
  }

  add(entry: QuarantineEntry, audit: AuditEntry): Promise<void> {
    return this.transaction(async (tx, tenantId) => {
      await tx.insert(quarantine).values({
        id: entry.id,
        tenantId,
        reference: entry.reference,
        digest: entry.digest ?? null,
        name: entry.name ?? null,
        version: entry.version ?? null,
        reason: entry.reason,
        message: entry.message,
        config: entry.config ?? null,
        sbom: entry.sbom ?? null,
        quarantinedAt: entry.quarantinedAt,
      });
      await recordModuleAudit(this.outbox, tx, tenantId, audit);
    });
  }

  list(options: { limit: number; offset: number }) {
    return this.transaction(async (tx, tenantId) => {
      const mine = eq(quarantine.tenantId, tenantId);
      const [rows, [total]] = [
        await tx
          .select()
          .from(quarantine)
          .where(mine)
          .orderBy(desc(quarantine.quarantinedAt))
          .limit(options.limit)
          .offset(options.offset),
        await tx.select({ n: count() }).from(quarantine).where(mine),
      ];
      return { items: rows.map(toEntry), total: total?.n ?? 0 };
    });
  }

  get(id: string): Promise<QuarantineEntry | undefined> {
    return this.transaction(async (tx, tenantId) => {
      const [row] = await tx
        .select()
        .from(quarantine)
        .where(and(eq(quarantine.id, id), eq(quarantine.tenantId, tenantId)));
      return row ? toEntry(row) : undefined;
    });
  }

  remove(id: string, audit: AuditEntry): Promise<boolean> {
    return this.transaction(async (tx, tenantId) => {
      const removed = await tx
        .delete(quarantine)
        .where(and(eq(quarantine.id, id), eq(quarantine.tenantId, tenantId)))
        .returning({ id: quarantine.id });
      if (removed.length) await recordModuleAudit(this.outbox, tx, tenantId, audit);
      return removed.length > 0;
    });
  }
}

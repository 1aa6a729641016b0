import { and, asc, count, desc, eq, gte, lt, sql } from 'drizzle-orm';
import { TenantRepository } from '@aion/db';
import type {
  AuditEntry,
  AuditFilter,
  AuditLogStore,
  AuditOutcome,
  UsageEntry,
  UsageTotal,
} from '../../core/audit-log';
import { auditLog, usageRecords } from './schema';

type AuditRow = typeof auditLog.$inferSelect;

const toEntry = (row: AuditRow): AuditEntry => ({
  eventId: row.eventId,
  occurredAt: row.occurredAt,
  actor: row.actor,
  action: row.action,
  resourceType: row.resourceType,
  resourceId: row.resourceId,
  outcome: row.outcome as AuditOutcome,
  details: row.details as Record<string, unknown>,
  source: row.source,
  correlationId: row.correlationId,
});

/** The audit trail and usage ledger in PostgreSQL (RLS by tenant; insert-only, keyed by event id). */
export class PostgresAuditLog extends TenantRepository implements AuditLogStore {
  async recordAudit(entry: AuditEntry): Promise<boolean> {
    return this.tx(async (tx, tenantId) => {
      const inserted = await tx
        .insert(auditLog)
        .values({ tenantId, ...entry })
        .onConflictDoNothing()
        .returning({ eventId: auditLog.eventId });
      return inserted.length > 0;
    });
  }

  async recordUsage(entry: UsageEntry): Promise<boolean> {
    return this.tx(async (tx, tenantId) => {
      const inserted = await tx
        .insert(usageRecords)
        .values({ tenantId, ...entry })
        .onConflictDoNothing()
        .returning({ eventId: usageRecords.eventId });
      return inserted.length > 0;
    });
  }

  async listAudit(
    filter: AuditFilter,
    page: { limit: number; offset: number },
  ): Promise<{ items: AuditEntry[]; total: number }> {
    return this.tx(async (tx) => {
      const where = and(
        filter.actor !== undefined ? eq(auditLog.actor, filter.actor) : undefined,
        filter.action !== undefined ? eq(auditLog.action, filter.action) : undefined,
        filter.outcome !== undefined ? eq(auditLog.outcome, filter.outcome) : undefined,
        filter.since ? gte(auditLog.occurredAt, filter.since) : undefined,
        filter.until ? lt(auditLog.occurredAt, filter.until) : undefined,
      );
      const rows = await tx
        .select()
        .from(auditLog)
        .where(where)
        .orderBy(desc(auditLog.occurredAt), desc(auditLog.eventId))
        .limit(page.limit)
        .offset(page.offset);
      const [total] = await tx.select({ n: count() }).from(auditLog).where(where);
      return { items: rows.map(toEntry), total: total?.n ?? 0 };
    });
  }

  async usageTotals(range: {
    since?: Date | undefined;
    until?: Date | undefined;
  }): Promise<UsageTotal[]> {
    return this.tx(async (tx) => {
      const day = sql<string>`to_char(${usageRecords.occurredAt} at time zone 'UTC', 'YYYY-MM-DD')`;
      const rows = await tx
        .select({
          day,
          engine: usageRecords.engine,
          model: usageRecords.model,
          tasks: sql<string>`count(*)`,
          inputTokens: sql<string>`sum(${usageRecords.inputTokens})`,
          outputTokens: sql<string>`sum(${usageRecords.outputTokens})`,
          costUsd: sql<string>`sum(${usageRecords.costUsd})`,
        })
        .from(usageRecords)
        .where(
          and(
            range.since ? gte(usageRecords.occurredAt, range.since) : undefined,
            range.until ? lt(usageRecords.occurredAt, range.until) : undefined,
          ),
        )
        .groupBy(day, usageRecords.engine, usageRecords.model)
        .orderBy(asc(day), asc(usageRecords.engine), asc(usageRecords.model));
      // count/sum come back as numeric text; totals of one tenant's window fit a double.
      return rows.map((r) => ({
        day: r.day,
        engine: r.engine,
        model: r.model,
        tasks: Number(r.tasks),
        inputTokens: Number(r.inputTokens),
        outputTokens: Number(r.outputTokens),
        costUsd: Number(r.costUsd),
      }));
    });
  }
}

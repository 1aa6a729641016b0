import { isNull, sql } from 'drizzle-orm';
import { asBackgroundWork, inTransaction, type Db } from '@aion/db';
import type { OutboxTable } from '@aion/events';
import { registerOutboxLagGauge, type ServiceMetrics } from '@aion/telemetry';

/** The outbox's rows of every tenant are visible to the relay's reads only (RLS). */
const RELAY_VIEW = sql`select set_config('aion.outbox_relay', 'on', true)`;

/**
 * Seconds since the oldest unpublished event of the outbox was written; 0 when none waits.
 * One indexed row (the unpublished index is on `seq`, in write order).
 */
export function oldestUnpublishedAge(db: Db, table: OutboxTable): Promise<number> {
  return inTransaction(db, [RELAY_VIEW], async (tx) => {
    const [row] = await tx
      .select({ age: sql<number>`extract(epoch from now() - ${table.createdAt})::float8` })
      .from(table)
      .where(isNull(table.publishedAt))
      .orderBy(table.seq)
      .limit(1);
    return row ? Number(row.age) : 0;
  });
}

/** `aion_outbox_lag_seconds` for a service's outbox, read when scraped (the process's own work). */
export function exportOutboxLag(metrics: ServiceMetrics, db: Db, table: OutboxTable): void {
  registerOutboxLagGauge(metrics, () => asBackgroundWork(() => oldestUnpublishedAge(db, table)));
}

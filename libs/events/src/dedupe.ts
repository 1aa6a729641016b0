import { sql } from 'drizzle-orm';
import { rowsOf, type DbOrTx } from '@aion/db';
import type { Deduper } from './bus';

/** Bounded in-memory record of processed ids: enough to absorb redeliveries within a process. */
export class MemoryDeduper implements Deduper {
  private readonly seen = new Map<string, true>();

  constructor(private readonly capacity = 100_000) {}

  async isProcessed(groupId: string, eventId: string): Promise<boolean> {
    return this.seen.has(`${groupId}\u0000${eventId}`);
  }

  async markProcessed(groupId: string, eventId: string): Promise<void> {
    const key = `${groupId}\u0000${eventId}`;
    this.seen.delete(key);
    this.seen.set(key, true);
    if (this.seen.size > this.capacity) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
  }
}

/**
 * Records an event as processed inside the handler's own transaction; false when it already was.
 * Doing the effect and this insert in one transaction makes processing exactly-once even when
 * the broker delivers twice. `table` is the service's `<prefix>_processed_events`.
 */
export async function processOnce(
  tx: DbOrTx,
  table: string,
  groupId: string,
  eventId: string,
): Promise<boolean> {
  const result = await tx.execute(
    sql`insert into ${sql.identifier(table)} (consumer_group, event_id) values (${groupId}, ${eventId}) on conflict do nothing returning event_id`,
  );
  return rowsOf(result).length > 0;
}

/** A Deduper over the processed-events table, for handlers without their own transaction. */
export class TableDeduper implements Deduper {
  constructor(
    private readonly db: DbOrTx,
    private readonly table: string,
  ) {}

  async isProcessed(groupId: string, eventId: string): Promise<boolean> {
    const result = await this.db.execute(
      sql`select 1 from ${sql.identifier(this.table)} where consumer_group = ${groupId} and event_id = ${eventId}`,
    );
    return rowsOf(result).length > 0;
  }

  async markProcessed(groupId: string, eventId: string): Promise<void> {
    await processOnce(this.db, this.table, groupId, eventId);
  }
}

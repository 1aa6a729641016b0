import { asc, count } from 'drizzle-orm';
import type { AnyPgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { Tx } from '@aion/db';
import type { PageWindow } from '../../core/model';

/**
 * A page of a tenant's named definitions (SLOs, alert rules), by name, and how many there are;
 * row-level security scopes both reads to the transaction's tenant.
 */
export async function pageByName<Row, Item>(
  tx: Tx,
  table: PgTable,
  name: AnyPgColumn,
  window: PageWindow,
  toItem: (row: Row) => Item,
): Promise<{ items: Item[]; total: number }> {
  // Typed by the caller: a select over a table not known here yields its rows untyped.
  const rows = (await tx
    .select()
    .from(table)
    .orderBy(asc(name))
    .limit(window.limit)
    .offset(window.offset)) as Row[];
  const [total] = await tx.select({ n: count() }).from(table);
  return { items: rows.map(toItem), total: total?.n ?? 0 };
}

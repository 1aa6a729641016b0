import { sql } from 'drizzle-orm';
import { pgPolicy } from 'drizzle-orm/pg-core';

/** The per-transaction setting that row-level security policies compare `tenant_id` against. */
export const TENANT_SETTING = 'aion.tenant_id';

/**
 * `current_setting(..., true)` is NULL (or '' after a transaction reset it) when no tenant is set,
 * so a connection without a tenant matches no row at all.
 */
const tenantMatches = sql`tenant_id = current_setting('aion.tenant_id', true)`;

/**
 * The row-level security policy every tenant-scoped table declares in its Drizzle schema;
 * drizzle-kit writes `ENABLE ROW LEVEL SECURITY` and `CREATE POLICY` into the table's migration.
 */
export function tenantIsolationPolicy(table: string) {
  return pgPolicy(`${table}_tenant_isolation`, {
    as: 'permissive',
    for: 'all',
    using: tenantMatches,
    withCheck: tenantMatches,
  });
}

/** Statement that scopes the current transaction to one tenant (value passed as a parameter). */
export function setTenantStatement(tenantId: string) {
  return sql`select set_config('aion.tenant_id', ${tenantId}, true)`;
}

import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { sql, type SQL } from 'drizzle-orm';
import { rowsOf, type Db } from './database';
import type { AppliedMigration } from './migration-check';
import { statementsOf, type MigrationFile } from './migration-files';

/** Every service's migrations table lives here, one per table prefix; none holds tenant data. */
export const MIGRATIONS_SCHEMA = 'aion_migrations';

const PREFIX_PATTERN = /^[a-z][a-z0-9_]{0,40}$/;

/** Advisory-lock keys: one per service so its replicas take turns, one for the shared schema. */
export function lockKey(name: string): number {
  return createHash('sha256').update(`aion-migrate:${name}`).digest().readInt32BE(0);
}

function historyTable(prefix: string): SQL {
  if (!PREFIX_PATTERN.test(prefix)) throw new Error(`invalid table prefix ${prefix}`);
  return sql`${sql.identifier(MIGRATIONS_SCHEMA)}.${sql.identifier(`${prefix}_migrations`)}`;
}

/**
 * Creates the service's migrations table as drizzle does (id, hash, created_at) and adds what
 * drizzle does not keep: the tag, when it was applied and how long it took. Added with
 * `if not exists`, so tables drizzle's own migrator wrote are upgraded in place; their earlier
 * rows keep nulls there. Serialized across services: concurrent `create schema if not exists`
 * statements can otherwise collide.
 */
export async function prepareHistory(db: Db, prefix: string): Promise<void> {
  const table = historyTable(prefix);
  await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${lockKey(MIGRATIONS_SCHEMA)})`);
    await tx.execute(sql`create schema if not exists ${sql.identifier(MIGRATIONS_SCHEMA)}`);
    await tx.execute(
      sql`create table if not exists ${table} (id serial primary key, hash text not null, created_at bigint)`,
    );
    await tx.execute(
      sql`alter table ${table} add column if not exists tag text, add column if not exists applied_at timestamptz, add column if not exists duration_ms integer`,
    );
  });
}

export async function readHistory(db: Db, prefix: string): Promise<AppliedMigration[]> {
  const rows = rowsOf<{ hash: string; created_at: string | number | null; tag: string | null }>(
    await db.execute(
      sql`select hash, created_at, tag from ${historyTable(prefix)} order by created_at, id`,
    ),
  );
  // bigint arrives as a string from node-postgres and as a number from PGlite.
  return rows.map((row) => ({ hash: row.hash, createdAt: Number(row.created_at), tag: row.tag }));
}

/**
 * Applies `pending` in one transaction (as drizzle does: all or none), recording each one's
 * tag, checksum, time and duration; tags the rows that drizzle's own migrator left untagged.
 */
export async function applyMigrations(
  db: Db,
  prefix: string,
  pending: MigrationFile[],
  untagged: MigrationFile[] = [],
): Promise<void> {
  if (!pending.length && !untagged.length) return;
  const table = historyTable(prefix);
  await db.transaction(async (tx) => {
    for (const file of untagged)
      await tx.execute(
        sql`update ${table} set tag = ${file.tag} where tag is null and created_at = ${file.when} and hash = ${file.checksum}`,
      );
    for (const file of pending) {
      const started = performance.now();
      for (const statement of statementsOf(file.content ?? ''))
        await tx.execute(sql.raw(statement));
      const durationMs = Math.round(performance.now() - started);
      // clock_timestamp, not now(): now() is the transaction's start, the same for every row.
      await tx.execute(
        sql`insert into ${table} (hash, created_at, tag, applied_at, duration_ms) values (${file.checksum}, ${file.when}, ${file.tag}, clock_timestamp(), ${durationMs})`,
      );
    }
  });
}

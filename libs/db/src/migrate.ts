import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePgDrizzle } from 'drizzle-orm/node-postgres/migrator';
import type { PgliteDatabase } from 'drizzle-orm/pglite';
import { migrate as migratePgliteDrizzle } from 'drizzle-orm/pglite/migrator';
import { Client } from 'pg';
import type { Database } from './database';

export interface MigrationTarget {
  /** Folder drizzle-kit generated (journal + SQL files). */
  folder: string;
  /** The service's table prefix: names its migrations table and scopes its grants. */
  prefix: string;
}

export interface MigrateOptions {
  /** Non-owner role the service connects as; gets DML on the service's tables, nothing more. */
  appRole?: string;
}

const ROLE_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

function checkRole(role: string): string {
  if (!ROLE_PATTERN.test(role)) throw new Error(`invalid role name ${role}`);
  return role;
}

/** Statements that let the app role use exactly the service's own tables. */
function grantStatements(prefix: string, appRole: string): string[] {
  const role = checkRole(appRole);
  return [
    `grant usage on schema public to ${role}`,
    `do $$ declare t record; begin
       for t in select tablename from pg_tables where schemaname = 'public' and tablename like '${prefix}\\_%' loop
         execute format('grant select, insert, update, delete on table public.%I to ${role}', t.tablename);
       end loop;
       for t in select sequencename from pg_sequences where schemaname = 'public' and sequencename like '${prefix}\\_%' loop
         execute format('grant usage, select on sequence public.%I to ${role}', t.sequencename);
       end loop;
     end $$`,
  ];
}

/** A stable advisory-lock key per service so that replicas migrating at once take turns. */
function lockKey(prefix: string): number {
  return createHash('sha256').update(`aion-migrate:${prefix}`).digest().readInt32BE(0);
}

/**
 * Applies a service's migrations to PostgreSQL as the owner role (Helm migration job, tests,
 * `RUN_MIGRATIONS=true`), then grants the app role access. Safe to run from several replicas.
 */
export async function migratePostgres(
  ownerUrl: string,
  target: MigrationTarget,
  options: MigrateOptions = {},
): Promise<void> {
  const client = new Client({
    connectionString: ownerUrl,
    application_name: `aion-migrate-${target.prefix}`,
  });
  await client.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [lockKey(target.prefix)]);
    await migratePgDrizzle(drizzlePg(client), {
      migrationsFolder: target.folder,
      migrationsTable: `${target.prefix}_migrations`,
      migrationsSchema: 'aion_migrations',
    });
    if (options.appRole)
      for (const statement of grantStatements(target.prefix, options.appRole))
        await client.query(statement);
  } finally {
    await client.query('select pg_advisory_unlock_all()').catch(() => undefined);
    await client.end();
  }
}

/**
 * Applies migrations to an embedded PGlite database, then drops the session from superuser to
 * the app role, so row-level security binds exactly as it does on PostgreSQL.
 */
export async function migratePglite(
  database: Database,
  targets: MigrationTarget[],
  options: Required<MigrateOptions>,
): Promise<void> {
  if (database.kind !== 'pglite') throw new Error('migratePglite needs a PGlite database');
  const db = database.db as unknown as PgliteDatabase;
  const role = checkRole(options.appRole);
  await db.execute(sql.raw('reset role'));
  for (const target of targets) {
    await migratePgliteDrizzle(db, {
      migrationsFolder: target.folder,
      migrationsTable: `${target.prefix}_migrations`,
      migrationsSchema: 'aion_migrations',
    });
  }
  await db.execute(
    sql.raw(
      `do $$ begin if not exists (select 1 from pg_roles where rolname = '${role}') then create role ${role} nologin nosuperuser nobypassrls; end if; end $$`,
    ),
  );
  for (const target of targets)
    for (const statement of grantStatements(target.prefix, role))
      await db.execute(sql.raw(statement));
  await db.execute(sql.raw(`set role ${role}`));
}

import { sql } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { Client } from 'pg';
import type { Database, Db } from './database';
import { planMigrations, type MigrationPlan } from './migration-check';
import { readMigrationFolder } from './migration-files';
import { applyMigrations, lockKey, prepareHistory, readHistory } from './migration-history';
import { SERVICE_TABLE_PREFIXES } from './services';

export interface MigrationTarget {
  /** Folder drizzle-kit generated (journal + SQL files). */
  folder: string;
  /** The service's table prefix: names its migrations table and scopes its grants. */
  prefix: string;
  /** Names the service in errors; defaults to the service that owns `prefix`. */
  service?: string;
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

function serviceOf(target: MigrationTarget): string {
  if (target.service) return target.service;
  const owner = Object.entries(SERVICE_TABLE_PREFIXES).find(([, p]) => p === target.prefix);
  return owner ? owner[0] : target.prefix;
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

/**
 * Checks what the database says was applied against the folder before anything runs: throws a
 * MigrationChecksumError when an applied migration's file was edited or removed.
 */
async function plan(db: Db, target: MigrationTarget): Promise<MigrationPlan> {
  const files = readMigrationFolder(target.folder);
  await prepareHistory(db, target.prefix);
  return planMigrations(
    serviceOf(target),
    target.folder,
    files,
    await readHistory(db, target.prefix),
  );
}

/** Runs `fn` on an owner connection holding the service's migration lock (replicas take turns). */
async function withMigrationLock(
  ownerUrl: string,
  target: MigrationTarget,
  fn: (db: Db, client: Client) => Promise<void>,
): Promise<void> {
  const client = new Client({
    connectionString: ownerUrl,
    application_name: `aion-migrate-${target.prefix}`,
  });
  await client.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [lockKey(target.prefix)]);
    await fn(drizzlePg(client) as unknown as Db, client);
  } finally {
    await client.query('select pg_advisory_unlock_all()').catch(() => undefined);
    await client.end();
  }
}

/**
 * Applies a service's migrations to PostgreSQL as the owner role (Helm migration job, tests,
 * `RUN_MIGRATIONS=true`), then grants the app role access. Safe to run from several replicas.
 * Refuses (MigrationChecksumError) and applies nothing when an applied file changed.
 */
export async function migratePostgres(
  ownerUrl: string,
  target: MigrationTarget,
  options: MigrateOptions = {},
): Promise<void> {
  await withMigrationLock(ownerUrl, target, async (db, client) => {
    const { pending, untagged } = await plan(db, target);
    await applyMigrations(db, target.prefix, pending, untagged);
    if (options.appRole) await grant(client, target.prefix, options.appRole);
  });
}

/**
 * Grants the app role its tables. Every service grants usage on the same schema, and two grants
 * on one catalog row at once fail ("tuple concurrently updated"): services take turns here under
 * one lock for all of them, while their migrations keep their own locks.
 */
async function grant(client: Client, prefix: string, appRole: string): Promise<void> {
  await client.query('begin');
  try {
    await client.query('select pg_advisory_xact_lock($1)', [lockKey('aion-grants')]);
    for (const statement of grantStatements(prefix, appRole)) await client.query(statement);
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
}

/**
 * Several services' migrations (the migration job): every service's applied migrations are
 * checked before any service's are applied, so one edited or missing file stops the whole run
 * with nothing applied. Each service is checked again under its lock when it is migrated.
 */
export async function migratePostgresAll(
  ownerUrl: string,
  targets: MigrationTarget[],
  options: MigrateOptions = {},
): Promise<void> {
  for (const target of targets)
    await withMigrationLock(ownerUrl, target, async (db) => void (await plan(db, target)));
  for (const target of targets) await migratePostgres(ownerUrl, target, options);
}

/**
 * Applies migrations to an embedded PGlite database, then drops the session from superuser to
 * the app role, so row-level security binds exactly as it does on PostgreSQL. Every target is
 * checked before any is applied.
 */
export async function migratePglite(
  database: Database,
  targets: MigrationTarget[],
  options: Required<MigrateOptions>,
): Promise<void> {
  if (database.kind !== 'pglite') throw new Error('migratePglite needs a PGlite database');
  const db = database.db;
  const role = checkRole(options.appRole);
  await db.execute(sql.raw('reset role'));
  const plans: MigrationPlan[] = [];
  for (const target of targets) plans.push(await plan(db, target));
  for (const [i, target] of targets.entries())
    await applyMigrations(db, target.prefix, plans[i]!.pending, plans[i]!.untagged);
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

import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { repoRoot, TEST_ROLES } from './infra/stack';

export interface TestDatabase {
  name: string;
  /** Owns the schema: runs migrations. */
  ownerUrl: string;
  /** Non-owner, no BYPASSRLS: what services connect as. */
  appUrl: string;
  appRole: string;
  /** Runs one statement as the owner (row-level security does not apply): for assertions. */
  queryAsOwner<T extends object>(text: string, values?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env['AION_TEST_PG_ADMIN_URL'] ?? process.env['DATABASE_URL'];
  if (!url)
    throw new Error(
      'no PostgreSQL for tests: run through jest.integration.config.cjs (global setup) or set DATABASE_URL',
    );
  return url;
}

function withCredentials(base: string, user: string, database: string): string {
  const url = new URL(base);
  url.username = user;
  url.password = user;
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * A fresh database per test suite, owned by the owner role, so suites never share rows. On the
 * test server, or on the server of `serverAdminUrl` (a suite's private one, see startPrivateStack).
 */
export async function createTestDatabase(
  label = 'db',
  serverAdminUrl?: string,
): Promise<TestDatabase> {
  const name = `t_${label
    .replace(/[^a-z0-9]/gi, '')
    .toLowerCase()
    .slice(0, 20)}_${randomBytes(4).toString('hex')}`;
  const base = serverAdminUrl ?? adminUrl();
  const admin = new Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`create database ${name} owner ${TEST_ROLES.owner}`);
  } finally {
    await admin.end();
  }
  const ownerUrl = withCredentials(base, TEST_ROLES.owner, name);
  return {
    name,
    ownerUrl,
    appUrl: withCredentials(base, TEST_ROLES.app, name),
    appRole: TEST_ROLES.app,
    queryAsOwner: async <T extends object>(text: string, values: unknown[] = []) => {
      const client = new Client({ connectionString: ownerUrl });
      await client.connect();
      try {
        return (await client.query<T>(text, values)).rows;
      } finally {
        await client.end();
      }
    },
    drop: async () => {
      const client = new Client({ connectionString: base });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * Runs the migration CLI the Helm job runs (libs/db/src/cli.ts) on `db`: the owner role migrates
 * the named services (every service when none is named) and grants the app role.
 */
export function migrateTestDatabase(db: TestDatabase, services: readonly string[] = []): void {
  execFileSync(
    process.execPath,
    ['--import', 'tsx', 'libs/db/src/cli.ts', 'migrate', ...services],
    {
      cwd: repoRoot,
      env: { PATH: process.env['PATH'], DATABASE_URL: db.ownerUrl, AION_DB_APP_ROLE: db.appRole },
      stdio: 'pipe',
    },
  );
}

/**
 * A copy of a drizzle migrations folder as it was when `lastTag` was the newest migration: its
 * journal ends there and the later files are gone. Tests of a migration run the ones before it,
 * write rows as they were, then migrate the rest.
 */
export function migrationsUpTo(folder: string, lastTag: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aion-migrations-'));
  cpSync(folder, dir, { recursive: true });
  const journalFile = path.join(dir, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: { tag: string }[] };
  const last = journal.entries.findIndex((e) => e.tag === lastTag);
  if (last < 0) throw new Error(`${folder} has no migration ${lastTag}`);
  for (const later of journal.entries.slice(last + 1)) rmSync(path.join(dir, `${later.tag}.sql`));
  journal.entries = journal.entries.slice(0, last + 1);
  writeFileSync(journalFile, JSON.stringify(journal));
  return dir;
}

/**
 * Migration CLI (the Helm migration job runs it; so can operators):
 *   tsx libs/db/src/cli.ts migrate [service...]   # all services when none is named
 * Reads DATABASE_URL (an owner role) and AION_DB_APP_ROLE (the role services connect as).
 */
import path from 'node:path';
import { migratePostgresAll, type MigrationTarget } from './migrate';
import { migrationsFolderOf, SERVICE_TABLE_PREFIXES, type ServiceWithTables } from './services';

async function main(): Promise<void> {
  const [command, ...names] = process.argv.slice(2);
  if (command !== 'migrate') throw new Error('usage: cli.ts migrate [service...]');
  const url = process.env['DATABASE_URL'];
  if (!url) throw new Error('DATABASE_URL is not set (it must name a role that owns the schema)');
  const appRole = process.env['AION_DB_APP_ROLE'];
  const root = process.env['AION_REPO_ROOT'] ?? path.resolve(__dirname, '..', '..', '..');
  const all = Object.keys(SERVICE_TABLE_PREFIXES) as ServiceWithTables[];
  const unknown = names.filter((n) => !all.includes(n as ServiceWithTables));
  if (unknown.length)
    throw new Error(`unknown service(s): ${unknown.join(', ')}; known: ${all.join(', ')}`);
  const targets: MigrationTarget[] = (names.length ? names : all).map((name) => {
    const service = name as ServiceWithTables;
    const folder = path.join(root, migrationsFolderOf(service));
    return { folder, prefix: SERVICE_TABLE_PREFIXES[service], service };
  });
  await migratePostgresAll(url, targets, appRole ? { appRole } : {});
  console.log(`migrated ${targets.map((t) => t.service).join(', ')}`);
}

main().catch((err: unknown) => {
  // Drizzle wraps the server's error ("Failed query: <sql>"); its cause says what was wrong.
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : undefined;
  const detail = cause && 'hint' in cause && cause.hint ? ` (${String(cause.hint)})` : '';
  console.error(
    `migration failed: ${cause ? `${cause.message}${detail}` : err instanceof Error ? err.message : String(err)}`,
  );
  process.exit(1);
});

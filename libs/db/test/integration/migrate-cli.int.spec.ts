import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from '@aion/testing';
import { migrationsFolderOf, SERVICE_TABLE_PREFIXES, type ServiceWithTables } from '../../src';

const repoRoot = path.resolve(__dirname, '..', '..', '..', '..');
const services = Object.keys(SERVICE_TABLE_PREFIXES) as ServiceWithTables[];
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** `npm run migrate`, against a copy of the repository's migrations. */
async function runCli(root: string, ownerUrl: string, appRole: string) {
  return promisify(execFile)(
    path.join(repoRoot, 'node_modules', '.bin', 'tsx'),
    [path.join(repoRoot, 'libs', 'db', 'src', 'cli.ts'), 'migrate'],
    {
      env: {
        ...process.env,
        DATABASE_URL: ownerUrl,
        AION_DB_APP_ROLE: appRole,
        AION_REPO_ROOT: root,
      },
    },
  ).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number; stdout: string; stderr: string }) => err,
  );
}

function journalOf(root: string, service: ServiceWithTables) {
  const file = path.join(root, migrationsFolderOf(service), 'meta', '_journal.json');
  return {
    file,
    journal: JSON.parse(readFileSync(file, 'utf8')) as {
      entries: { idx: number; when: number; tag: string; version: string; breakpoints: boolean }[];
    },
  };
}

describe('the migration CLI (npm run migrate)', () => {
  let testDb: TestDatabase;
  let root: string;

  beforeAll(async () => {
    testDb = await createTestDatabase('migratecli');
    root = mkdtempSync(path.join(tmpdir(), 'aion-migrate-cli-'));
    for (const service of services)
      cpSync(
        path.join(repoRoot, migrationsFolderOf(service)),
        path.join(root, migrationsFolderOf(service)),
        {
          recursive: true,
        },
      );
  });

  afterAll(async () => {
    rmSync(root, { recursive: true, force: true });
    await testDb.drop();
  });

  it("applies every service's migrations, recording each one's duration", async () => {
    const result = await runCli(root, testDb.ownerUrl, testDb.appRole);
    expect(result).toMatchObject({ code: 0 });
    for (const service of services) {
      const rows = await testDb.queryAsOwner<{ tag: string; duration_ms: number | null }>(
        `select tag, duration_ms from aion_migrations.${SERVICE_TABLE_PREFIXES[service]}_migrations order by id`,
      );
      expect(rows.map((r) => r.tag)).toEqual(
        journalOf(root, service).journal.entries.map((e) => e.tag),
      );
      expect(rows.every((r) => Number.isInteger(r.duration_ms))).toBe(true);
    }
  });

  it("refuses, exits non-zero and applies no service's migrations when one applied file was edited", async () => {
    // A new gateway migration (gateway runs first) and an edit to an applied orchestrator one.
    const { file, journal } = journalOf(root, 'gateway');
    const last = journal.entries.at(-1)!;
    journal.entries.push({
      ...last,
      idx: last.idx + 1,
      when: last.when + 1,
      tag: '9999_cli_probe',
    });
    writeFileSync(file, JSON.stringify(journal));
    writeFileSync(
      path.join(root, migrationsFolderOf('gateway'), '9999_cli_probe.sql'),
      'CREATE TABLE "gw_cli_probe" ("id" serial PRIMARY KEY NOT NULL);',
    );
    const edited = path.join(root, migrationsFolderOf('orchestrator'), '0000_init.sql');
    const applied = readFileSync(edited, 'utf8');
    appendFileSync(edited, '\n-- edited after it was applied\n');

    const result = await runCli(root, testDb.ownerUrl, testDb.appRole);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('refusing to migrate orchestrator');
    expect(result.stderr).toContain('0000_init');
    expect(result.stderr).toContain(sha256(applied));
    expect(result.stderr).toContain(sha256(readFileSync(edited, 'utf8')));
    expect(
      await testDb.queryAsOwner(`select to_regclass('public.gw_cli_probe')::text as found`),
    ).toEqual([{ found: null }]);
  });
});

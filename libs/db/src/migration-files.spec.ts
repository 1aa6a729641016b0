import { mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { migrationChecksum, readMigrationFolder, statementsOf } from './migration-files';

const repoRoot = path.resolve(__dirname, '..', '..', '..');

function tempFolder(journal: unknown, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'aion-migration-files-'));
  mkdirSync(path.join(dir, 'meta'));
  writeFileSync(path.join(dir, 'meta', '_journal.json'), JSON.stringify(journal));
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content);
  return dir;
}

const folders: string[] = [];
afterAll(() => folders.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function folderWith(journal: unknown, files: Record<string, string> = {}): string {
  const dir = tempFolder(journal, files);
  folders.push(dir);
  return dir;
}

describe('readMigrationFolder', () => {
  const migrationFolders = [
    ...readdirSync(path.join(repoRoot, 'apps')).map((app) =>
      path.join(repoRoot, 'apps', app, 'migrations'),
    ),
    path.join(repoRoot, 'libs', 'db', 'test', 'fixtures', 'migrations'),
  ].filter((dir) => {
    try {
      return readdirSync(path.join(dir, 'meta')).includes('_journal.json');
    } catch {
      return false;
    }
  });

  it.each(migrationFolders)(
    'computes the checksum drizzle records, for every migration of %s',
    (folder) => {
      const ours = readMigrationFolder(folder);
      const drizzles = readMigrationFiles({ migrationsFolder: folder });
      expect(ours.map((m) => [m.when, m.checksum])).toEqual(
        drizzles.map((m) => [m.folderMillis, m.hash]),
      );
    },
  );

  it('reports a file the journal lists but the folder lacks, instead of throwing', () => {
    const dir = folderWith(
      {
        entries: [
          { idx: 0, when: 1, tag: '0000_a', breakpoints: true },
          { idx: 1, when: 2, tag: '0001_b', breakpoints: true },
        ],
      },
      { '0000_a.sql': 'select 1;' },
    );
    const [first, second] = readMigrationFolder(dir);
    expect(first).toMatchObject({ tag: '0000_a', content: 'select 1;' });
    expect(first?.checksum).toBe(migrationChecksum('select 1;'));
    expect(second).toMatchObject({ tag: '0001_b', when: 2, content: null, checksum: null });
  });

  it('refuses a tag that would read a file outside the folder', () => {
    const dir = folderWith({ entries: [{ when: 1, tag: '../../etc/passwd' }] });
    expect(() => readMigrationFolder(dir)).toThrow(/not a drizzle-kit journal/);
    const dots = folderWith({ entries: [{ when: 1, tag: '..' }] });
    expect(() => readMigrationFolder(dots)).toThrow(/not a drizzle-kit journal/);
  });

  it('refuses two entries sharing "when" (applied migrations are matched by it)', () => {
    const dir = folderWith(
      {
        entries: [
          { when: 5, tag: '0000_a' },
          { when: 5, tag: '0001_b' },
        ],
      },
      { '0000_a.sql': 'select 1;', '0001_b.sql': 'select 2;' },
    );
    expect(() => readMigrationFolder(dir)).toThrow(/0000_a and 0001_b share "when" 5/);
  });

  it('refuses a missing, malformed or mis-shaped journal', () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'aion-migration-files-'));
    folders.push(empty);
    expect(() => readMigrationFolder(empty)).toThrow(/no migrations journal/);
    const broken = folderWith({});
    writeFileSync(path.join(broken, 'meta', '_journal.json'), '{ not json');
    expect(() => readMigrationFolder(broken)).toThrow(/not valid JSON/);
    expect(() => readMigrationFolder(folderWith({ entries: [{ when: 'x', tag: 'a' }] }))).toThrow(
      /not a drizzle-kit journal/,
    );
  });
});

describe('statementsOf', () => {
  it("splits at drizzle-kit's breakpoints and drops empty pieces", () => {
    expect(
      statementsOf(
        'create table a (id int);\n--> statement-breakpoint\nselect 1;--> statement-breakpoint\n',
      ),
    ).toEqual(['create table a (id int);\n', '\nselect 1;']);
  });
});

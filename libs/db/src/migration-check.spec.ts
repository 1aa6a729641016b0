import {
  findChecksumMismatches,
  MigrationChecksumError,
  planMigrations,
  type AppliedMigration,
} from './migration-check';
import { migrationChecksum, type MigrationFile } from './migration-files';

function file(tag: string, when: number, content: string | null): MigrationFile {
  return {
    tag,
    when,
    path: `/migrations/${tag}.sql`,
    content,
    checksum: content === null ? null : migrationChecksum(content),
  };
}

const first = 'create table x_a (id int);\n--> statement-breakpoint\nselect 1;\n';
const second = 'create table x_b (id int);\n';

function applied(content: string, when: number, tag: string | null = null): AppliedMigration {
  return { hash: migrationChecksum(content), createdAt: when, tag };
}

describe('findChecksumMismatches', () => {
  it('finds nothing when every applied migration matches its file', () => {
    expect(
      findChecksumMismatches(
        [file('0000_a', 1, first), file('0001_b', 2, second)],
        [applied(first, 1), applied(second, 2, '0001_b')],
      ),
    ).toEqual([]);
  });

  it('reports an edited file with both checksums', () => {
    const edited = `${first}-- a harmless comment\n`;
    expect(findChecksumMismatches([file('0000_a', 1, edited)], [applied(first, 1)])).toEqual([
      {
        tag: '0000_a',
        recordedChecksum: migrationChecksum(first),
        fileChecksum: migrationChecksum(edited),
        lineEndingsOnly: false,
      },
    ]);
  });

  it('reports a file whose only change is its line endings, and says so', () => {
    const crlf = first.replace(/\n/g, '\r\n');
    const [toCrlf] = findChecksumMismatches([file('0000_a', 1, crlf)], [applied(first, 1)]);
    expect(toCrlf).toMatchObject({ fileChecksum: migrationChecksum(crlf), lineEndingsOnly: true });
    const [toLf] = findChecksumMismatches([file('0000_a', 1, first)], [applied(crlf, 1)]);
    expect(toLf).toMatchObject({ lineEndingsOnly: true });
  });

  it('reports a missing file, and an applied migration whose journal entry is gone', () => {
    expect(
      findChecksumMismatches(
        [file('0000_a', 1, null)],
        [applied(first, 1), applied(second, 2, '0001_b')],
      ),
    ).toEqual([
      {
        tag: '0000_a',
        recordedChecksum: migrationChecksum(first),
        fileChecksum: null,
        lineEndingsOnly: false,
      },
      {
        tag: '0001_b',
        recordedChecksum: migrationChecksum(second),
        fileChecksum: null,
        lineEndingsOnly: false,
      },
    ]);
    const [untagged] = findChecksumMismatches([], [applied(first, 17)]);
    expect(untagged?.tag).toContain('17');
  });
});

describe('planMigrations', () => {
  const files = [file('0000_a', 1, first), file('0001_b', 2, second)];

  it('applies what is newer than the last applied migration', () => {
    expect(planMigrations('svc', '/m', files, []).pending.map((f) => f.tag)).toEqual([
      '0000_a',
      '0001_b',
    ]);
    const plan = planMigrations('svc', '/m', files, [applied(first, 1)]);
    expect(plan.pending.map((f) => f.tag)).toEqual(['0001_b']);
    expect(plan.untagged.map((f) => f.tag)).toEqual(['0000_a']);
    expect(planMigrations('svc', '/m', files, [applied(first, 1, '0000_a')]).untagged).toEqual([]);
  });

  it('throws a MigrationChecksumError naming the service, the tag and both checksums', () => {
    const edited = `${first} `;
    let thrown: unknown;
    try {
      planMigrations(
        'orchestrator',
        '/m',
        [file('0000_a', 1, edited), files[1]!],
        [applied(first, 1)],
      );
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(MigrationChecksumError);
    const error = thrown as MigrationChecksumError;
    expect(error.service).toBe('orchestrator');
    expect(error.mismatches.map((m) => m.tag)).toEqual(['0000_a']);
    expect(error.message).toContain('refusing to migrate orchestrator');
    expect(error.message).toContain('0000_a');
    expect(error.message).toContain(migrationChecksum(first));
    expect(error.message).toContain(migrationChecksum(edited));
    expect(error.message).toContain('nothing was applied');
  });

  it('refuses a pending migration whose file is missing', () => {
    expect(() =>
      planMigrations(
        'svc',
        '/m',
        [file('0000_a', 1, first), file('0001_b', 2, null)],
        [applied(first, 1)],
      ),
    ).toThrow(/\/migrations\/0001_b\.sql, which does not exist/);
  });
});

import { migrationChecksum, type MigrationFile } from './migration-files';

/** A row of a service's migrations table (`aion_migrations.<prefix>_migrations`). */
export interface AppliedMigration {
  hash: string;
  /** The journal's `when` of the migration applied. */
  createdAt: number;
  /** Null on rows recorded before tags were (drizzle's own migrator did not keep them). */
  tag: string | null;
}

export interface ChecksumMismatch {
  tag: string;
  /** The checksum recorded when the migration was applied. */
  recordedChecksum: string;
  /** The checksum of the file in the folder now; null when the file (or its entry) is gone. */
  fileChecksum: string | null;
  /** The file differs from what was applied only in line endings (CRLF vs LF). */
  lineEndingsOnly: boolean;
}

/**
 * Thrown before anything is applied when an applied migration's file was edited or removed: the
 * database no longer matches what the folder says it holds, and applying more on top of it would
 * build on a history nobody can reproduce.
 */
export class MigrationChecksumError extends Error {
  override readonly name = 'MigrationChecksumError';

  constructor(
    readonly service: string,
    readonly folder: string,
    readonly mismatches: ChecksumMismatch[],
  ) {
    super(
      [
        `refusing to migrate ${service}: ${mismatches.length} applied migration(s) in ${folder} ` +
          'differ from what was applied; nothing was applied',
        ...mismatches.map(describe),
        'Restore the file(s) as they were applied; a change to the schema is a new migration.',
      ].join('\n'),
    );
  }
}

function describe(m: ChecksumMismatch): string {
  const now =
    m.fileChecksum === null ? 'its file is missing' : `its file now has sha256 ${m.fileChecksum}`;
  const hint = m.lineEndingsOnly
    ? ' (only line endings differ: check out the file with the line endings it was applied with)'
    : '';
  return `  ${m.tag}: applied with sha256 ${m.recordedChecksum}, ${now}${hint}`;
}

/** True when converting the file's line endings (CRLF <-> LF) gives back the recorded checksum. */
function differsOnlyInLineEndings(content: string, recorded: string): boolean {
  const lf = content.replace(/\r\n/g, '\n');
  return [lf, lf.replace(/\n/g, '\r\n')].some(
    (variant) => variant !== content && migrationChecksum(variant) === recorded,
  );
}

/**
 * Compares every applied migration with its file (matched by the journal's `when`, the key
 * drizzle records). A file whose only change is its line endings is a mismatch too: the checksum
 * covers the bytes that ran, and a line break inside a string literal or function body is data.
 */
export function findChecksumMismatches(
  files: MigrationFile[],
  applied: AppliedMigration[],
): ChecksumMismatch[] {
  const byWhen = new Map(files.map((file) => [file.when, file]));
  const mismatches: ChecksumMismatch[] = [];
  for (const row of applied) {
    const file = byWhen.get(row.createdAt);
    if (file && file.checksum === row.hash) continue;
    mismatches.push({
      tag: file?.tag ?? row.tag ?? `(unknown tag, journal "when" ${row.createdAt})`,
      recordedChecksum: row.hash,
      fileChecksum: file?.checksum ?? null,
      lineEndingsOnly: file?.content != null && differsOnlyInLineEndings(file.content, row.hash),
    });
  }
  return mismatches;
}

export interface MigrationPlan {
  /** Migrations to apply, in journal order. */
  pending: MigrationFile[];
  /** Applied migrations whose rows have no tag yet (recorded by drizzle's own migrator). */
  untagged: MigrationFile[];
}

/**
 * What to apply: the migrations newer than the last one applied (drizzle's rule). Throws a
 * MigrationChecksumError when an applied file was edited or removed, so that nothing is applied.
 */
export function planMigrations(
  service: string,
  folder: string,
  files: MigrationFile[],
  applied: AppliedMigration[],
): MigrationPlan {
  const mismatches = findChecksumMismatches(files, applied);
  if (mismatches.length) throw new MigrationChecksumError(service, folder, mismatches);
  const last = Math.max(-Infinity, ...applied.map((row) => row.createdAt));
  const pending = files.filter((file) => file.when > last);
  const missing = pending.filter((file) => file.content === null);
  if (missing.length)
    throw new Error(
      `refusing to migrate ${service}: the journal lists ${missing.map((f) => f.path).join(', ')}, which does not exist`,
    );
  const untaggedWhen = new Set(applied.filter((row) => row.tag === null).map((r) => r.createdAt));
  return { pending, untagged: files.filter((file) => untaggedWhen.has(file.when)) };
}

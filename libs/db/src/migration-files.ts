import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/** One migration as drizzle-kit wrote it: an entry of meta/_journal.json and its SQL file. */
export interface MigrationFile {
  tag: string;
  /** The journal's `when`: drizzle records it as `created_at` and orders migrations by it. */
  when: number;
  path: string;
  /** The file's text, or null when the journal names a file that is not there. */
  content: string | null;
  /** sha256 (hex) of the content, exactly as drizzle computes the `hash` it records. */
  checksum: string | null;
}

const journalSchema = z.object({
  entries: z.array(
    z.object({
      when: z.number().int().nonnegative(),
      // A file name within the folder, never a path out of it.
      tag: z
        .string()
        .regex(/^[^/\\]+$/)
        .refine((tag) => tag !== '.' && tag !== '..'),
    }),
  ),
});

/** drizzle's checksum: sha256 of the file read as UTF-8 text (drizzle-orm/migrator.js). */
export function migrationChecksum(content: string): string {
  return createHash('sha256').update(content).digest('hex');
}

/** Reads a drizzle-kit migrations folder in journal order; a missing SQL file is reported, not thrown. */
export function readMigrationFolder(folder: string): MigrationFile[] {
  const journalPath = path.join(folder, 'meta', '_journal.json');
  if (!existsSync(journalPath)) throw new Error(`no migrations journal at ${journalPath}`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(journalPath, 'utf8'));
  } catch (err) {
    throw new Error(`${journalPath} is not valid JSON`, { cause: err });
  }
  const parsed = journalSchema.safeParse(raw);
  if (!parsed.success)
    throw new Error(`${journalPath} is not a drizzle-kit journal: ${parsed.error.message}`);
  const seen = new Map<number, string>();
  return parsed.data.entries.map(({ tag, when }) => {
    // Applied migrations are matched to files by `when`; two entries sharing it are ambiguous.
    const other = seen.get(when);
    if (other) throw new Error(`${journalPath}: ${other} and ${tag} share "when" ${when}`);
    seen.set(when, tag);
    const file = path.join(folder, `${tag}.sql`);
    const content = existsSync(file) ? readFileSync(file).toString() : null;
    return {
      tag,
      when,
      path: file,
      content,
      checksum: content === null ? null : migrationChecksum(content),
    };
  });
}

/** The statements of a migration, split where drizzle-kit marks breakpoints (as drizzle does). */
export function statementsOf(content: string): string[] {
  return content.split('--> statement-breakpoint').filter((statement) => statement.trim() !== '');
}

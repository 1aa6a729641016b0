import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface MigrationSource {
  tag: string;
  when: number;
  sql: string;
}

/** A drizzle-kit-shaped migrations folder in a temp directory, editable the way people edit them. */
export class MigrationFolder {
  readonly dir: string;
  private entries: MigrationSource[] = [];

  constructor(label: string) {
    this.dir = mkdtempSync(path.join(tmpdir(), `aion-migrations-${label}-`));
    mkdirSync(path.join(this.dir, 'meta'));
    this.writeJournal();
  }

  add(...migrations: MigrationSource[]): this {
    for (const migration of migrations) {
      this.entries.push(migration);
      writeFileSync(this.fileOf(migration.tag), migration.sql);
    }
    this.writeJournal();
    return this;
  }

  read(tag: string): string {
    return readFileSync(this.fileOf(tag), 'utf8');
  }

  write(tag: string, content: string): void {
    writeFileSync(this.fileOf(tag), content);
  }

  /** Removes the SQL file; with `fromJournal`, its journal entry too. */
  remove(tag: string, { fromJournal = false } = {}): void {
    rmSync(this.fileOf(tag));
    if (fromJournal) {
      this.entries = this.entries.filter((entry) => entry.tag !== tag);
      this.writeJournal();
    }
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private fileOf(tag: string): string {
    return path.join(this.dir, `${tag}.sql`);
  }

  private writeJournal(): void {
    const journal = {
      version: '7',
      dialect: 'postgresql',
      entries: this.entries.map(({ tag, when }, idx) => ({
        idx,
        version: '7',
        when,
        tag,
        breakpoints: true,
      })),
    };
    writeFileSync(path.join(this.dir, 'meta', '_journal.json'), JSON.stringify(journal, null, 2));
  }
}

/**
 * A migration creating the table `<prefix>_<name>` (its tag is `<nnnn>_<name>`) and seeding one
 * row, in drizzle-kit's statement-breakpoint format; `extra` is appended as one more statement.
 */
export function createTable(
  prefix: string,
  tag: string,
  when: number,
  extra = '',
): MigrationSource {
  const table = `${prefix}_${tag.replace(/^\d+_/, '')}`;
  const statements = [
    `CREATE TABLE "${table}" (\n\t"id" serial PRIMARY KEY NOT NULL,\n\t"body" text NOT NULL\n);\n`,
    `\nINSERT INTO "${table}" ("body") VALUES ('seed');`,
    ...(extra ? [`\n${extra}`] : []),
  ];
  return { tag, when, sql: statements.join('--> statement-breakpoint') };
}

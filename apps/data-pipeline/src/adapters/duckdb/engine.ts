import { rm, stat } from 'node:fs/promises';
import type { CleanSpec, DataEngine, SourceData } from '../../core/ports';
import type { ExpectationSuite } from '../../core/suite';
import { dataError } from '../../core/model';
import { DuckDb, type DuckDbOptions, describe, ident, lit } from './duckdb';
import { validate } from './expectations';
import { ingest } from './ingest';
import { profile } from './profile';
import { exportAs, transform } from './transform';
import type { OutputFormat, TransformSpec } from '../../core/transform';

/** The data engine on DuckDB: Parquet in, Parquet out, in bounded memory (spilling to disk). */
export class DuckDbEngine implements DataEngine {
  private readonly db: DuckDb;

  constructor(options: DuckDbOptions) {
    this.db = new DuckDb(options);
  }

  ingest(data: SourceData, outPath: string) {
    return ingest(this.db, data, outPath);
  }

  profile(dataPath: string) {
    return profile(this.db, dataPath);
  }

  validate(dataPath: string, suite: ExpectationSuite) {
    return validate(this.db, dataPath, suite);
  }

  /** Trims text (default on) and drops duplicate rows, exact or by key columns (default exact). */
  async clean(inPath: string, outPath: string, spec: CleanSpec) {
    await rm(outPath, { force: true });
    const steps: Record<string, unknown>[] = [];
    await this.db.with(async (c) => {
      const columns = await describe(this.db, c, inPath);
      const trim = spec.trim ?? true;
      const select = columns
        .map((col) =>
          trim && col.type === 'VARCHAR'
            ? `trim(${ident(col.name)}) AS ${ident(col.name)}`
            : ident(col.name),
        )
        .join(', ');
      if (trim)
        steps.push({
          step: 'trim',
          columns: columns.filter((col) => col.type === 'VARCHAR').map((col) => col.name),
        });
      let query = `SELECT ${select} FROM read_parquet(${lit(inPath)})`;
      const dedupe = spec.dedupe ?? true;
      if (dedupe === true) {
        query = `SELECT DISTINCT * FROM (${query})`;
        steps.push({ step: 'dedupe', mode: 'exact' });
      } else if (typeof dedupe === 'object') {
        const missing = dedupe.keys.filter((k) => !columns.some((col) => col.name === k));
        if (missing.length)
          throw dataError(`clean.dedupe.keys names columns the data lacks: ${missing.join(', ')}`, [
            {
              field: 'spec.clean.dedupe.keys',
              reason: 'unknown_column',
              message: missing.join(', '),
            },
          ]);
        // The first row of each key wins, in file order, so the result does not depend on threads.
        query = `SELECT * EXCLUDE (aion_row) FROM (SELECT *, row_number() OVER () AS aion_row FROM (${query}))
          QUALIFY row_number() OVER (PARTITION BY ${dedupe.keys.map(ident).join(', ')} ORDER BY aion_row) = 1 ORDER BY aion_row`;
        steps.push({ step: 'dedupe', mode: 'key', keys: dedupe.keys });
      }
      await c.run(`COPY (${query}) TO ${lit(outPath)} (FORMAT parquet)`);
    });
    const rows = await this.db.with(async (c) =>
      Number(
        (
          await this.db.rows(c, `SELECT count(*)::DOUBLE AS n FROM read_parquet(${lit(outPath)})`)
        )[0]!['n'],
      ),
    );
    return { rows, bytes: (await stat(outPath)).size, steps };
  }

  transform(inPath: string, outPath: string, spec: TransformSpec) {
    return transform(this.db, inPath, outPath, spec);
  }

  export(inPath: string, outPath: string, format: OutputFormat) {
    return exportAs(this.db, inPath, outPath, format);
  }

  close() {
    return this.db.close();
  }
}

import type { CleanSpec, DataEngine, SourceData } from '../../core/ports';
import type { ExpectationSuite } from '../../core/suite';
import { DuckDb, type DuckDbOptions } from './duckdb';
import { clean } from './clean';
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

  clean(inPath: string, outPath: string, spec: CleanSpec) {
    return clean(this.db, inPath, outPath, spec);
  }

  transform(inPath: string, outPath: string, spec: TransformSpec) {
    return transform(this.db, inPath, outPath, spec);
  }

  export(inPath: string, outPath: string, format: OutputFormat) {
    return exportAs(this.db, inPath, outPath, format);
  }

  withProgress<T>(onPercent: (percent: number) => void, fn: () => Promise<T>) {
    return this.db.withProgress(onPercent, fn);
  }

  close() {
    return this.db.close();
  }
}

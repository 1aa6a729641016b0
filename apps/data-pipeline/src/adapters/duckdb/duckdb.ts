import { mkdir } from 'node:fs/promises';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

export interface DuckDbOptions {
  /** DuckDB's memory_limit ('512MB'): beyond it operators spill to tempDir instead of growing. */
  memoryLimit: string;
  threads: number;
  tempDir: string;
}

/** A quoted SQL string literal. Paths and values never reach SQL any other way. */
export const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
/** A quoted SQL identifier (a column named by a file or a suite). */
export const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** One DuckDB instance per service, in memory, bounded; each operation gets its own connection. */
export class DuckDb {
  private instance: Promise<DuckDBInstance> | undefined;

  constructor(private readonly options: DuckDbOptions) {}

  private open(): Promise<DuckDBInstance> {
    this.instance ??= (async () => {
      await mkdir(this.options.tempDir, { recursive: true });
      return DuckDBInstance.create(':memory:', {
        memory_limit: this.options.memoryLimit,
        threads: String(this.options.threads),
        temp_directory: this.options.tempDir,
        // Only files the connectors hand over are read: no extension is fetched from the network.
        autoinstall_known_extensions: 'false',
        autoload_known_extensions: 'false',
      });
    })();
    return this.instance;
  }

  async with<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    const connection = await (await this.open()).connect();
    try {
      return await fn(connection);
    } finally {
      connection.closeSync();
    }
  }

  async rows(c: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
    return (await c.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
  }

  async close(): Promise<void> {
    const pending = this.instance;
    this.instance = undefined;
    if (pending) (await pending).closeSync();
  }
}

/** Numeric DuckDB types: the ones with a mean, quantiles and a histogram. */
export const isNumericType = (t: string) =>
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL)/.test(
    t,
  );

/** Columns of a Parquet file, in order. */
export async function describe(db: DuckDb, c: DuckDBConnection, path: string) {
  const rows = await db.rows(c, `DESCRIBE SELECT * FROM read_parquet(${lit(path)})`);
  return rows.map((r) => ({ name: String(r['column_name']), type: String(r['column_type']) }));
}

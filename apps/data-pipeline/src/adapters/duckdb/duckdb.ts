import { AsyncLocalStorage } from 'node:async_hooks';
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

/** How often a connection's query progress is read while someone listens for it. */
const PROGRESS_POLL_MS = 250;

/** One DuckDB instance per service, in memory, bounded; each operation gets its own connection. */
export class DuckDb {
  private instance: Promise<DuckDBInstance> | undefined;
  /** Who listens to the progress of the queries run on behalf of the current operation. */
  private readonly progressSink = new AsyncLocalStorage<(percent: number) => void>();

  /** Runs `fn`; the connections it opens report their queries' progress to `onPercent`. */
  withProgress<T>(onPercent: (percent: number) => void, fn: () => Promise<T>): Promise<T> {
    return this.progressSink.run(onPercent, fn);
  }

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
    const sink = this.progressSink.getStore();
    let poll: NodeJS.Timeout | undefined;
    try {
      if (sink) {
        // DuckDB tracks a query's progress only with its progress bar on (never printed here).
        await connection.run(
          'SET enable_progress_bar = true; SET enable_progress_bar_print = false; SET progress_bar_time = 0',
        );
        poll = setInterval(() => {
          const { percentage } = connection.progress;
          if (percentage >= 0) sink(percentage);
        }, PROGRESS_POLL_MS);
      }
      return await fn(connection);
    } finally {
      clearInterval(poll);
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

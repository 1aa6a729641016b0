import pg from 'pg';
import { AionError } from '@aion/errors';
import type { Connector, SourceData } from '../../core/ports';

type ColumnType = Extract<SourceData, { kind: 'rows' }>['columns'][number]['type'];

/** PostgreSQL type oids -> the engine's column types; everything else travels as text. */
const TYPES: Record<number, ColumnType> = {
  16: 'boolean',
  20: 'integer',
  21: 'integer',
  23: 'integer',
  700: 'double',
  701: 'double',
  1700: 'double',
  1114: 'timestamp',
  1184: 'timestamp',
};

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;
const refuse = (field: string, message: string) =>
  AionError.validation(message, [{ field, reason: 'invalid', message }]);

/**
 * A PostgreSQL table or read-only query, read through a cursor in batches, so memory holds one
 * batch. The connection string is never in the job: the source names one by reference
 * (`connection`), resolved from the service's configuration.
 */
export class PostgresConnector implements Connector {
  readonly type = 'postgres';

  constructor(
    private readonly connections: Record<string, string>,
    private readonly batchRows = 10_000,
  ) {}

  check(source: Record<string, unknown>): void {
    const { connection, table, query } = source;
    if (typeof connection === 'string' && connection !== '' && !(connection in this.connections))
      throw AionError.notFound('PostgreSQL connection', connection);
    if (typeof connection !== 'string' || !(connection in this.connections))
      throw refuse(
        'source.connection',
        `source.connection must name a configured connection (${Object.keys(this.connections).join(', ') || 'none configured'})`,
      );
    if ((table === undefined) === (query === undefined))
      throw refuse('source', 'give source.table or source.query, one of them');
    if (table !== undefined && (typeof table !== 'string' || !IDENT.test(table)))
      throw refuse('source.table', 'source.table must be a table name (schema.table)');
    if (query !== undefined && (typeof query !== 'string' || !/^\s*(select|with)\b/i.test(query)))
      throw refuse('source.query', 'source.query must be a SELECT');
  }

  async open(source: Record<string, unknown>, signal: AbortSignal): Promise<SourceData> {
    this.check(source);
    const sql = source['table']
      ? `select * from ${String(source['table'])}`
      : String(source['query']);
    const client = new pg.Client({
      connectionString: this.connections[String(source['connection'])],
    });
    await client.connect();
    try {
      // A read-only transaction: the query cannot change the source whatever it says.
      await client.query('begin transaction read only');
      await client.query(`declare aion_cursor no scroll cursor for ${sql}`);
      const first = await client.query({
        text: `fetch ${this.batchRows} from aion_cursor`,
        rowMode: 'array',
      });
      const columns = first.fields.map((f) => ({
        name: f.name,
        type: TYPES[f.dataTypeID] ?? ('text' as const),
      }));
      const batchRows = this.batchRows;
      const batches = async function* () {
        try {
          let rows = first.rows as unknown[][];
          while (rows.length > 0) {
            yield rows;
            if (signal.aborted || rows.length < batchRows) break;
            rows = (
              await client.query({ text: `fetch ${batchRows} from aion_cursor`, rowMode: 'array' })
            ).rows as unknown[][];
          }
        } finally {
          await client.query('rollback').catch(() => undefined);
          await client.end();
        }
      };
      return { kind: 'rows', columns, batches: batches() };
    } catch (err) {
      await client.end();
      throw AionError.validation(
        `the PostgreSQL source could not be read: ${(err as Error).message}`,
        [
          {
            field: source['table'] ? 'source.table' : 'source.query',
            reason: 'unreadable',
            message: (err as Error).message,
          },
        ],
      );
    }
  }
}

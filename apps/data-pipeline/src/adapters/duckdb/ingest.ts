import { open, rm, stat } from 'node:fs/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { ErrorDetail } from '@aion/errors';
import { dataError } from '../../core/model';
import type { SourceData } from '../../core/ports';
import { type DuckDb, ident, lit } from './duckdb';

const DELIMITERS = [',', ';', '\t', '|'];
/** Rows the column types are inferred from, as DuckDB's own sniffer samples. */
const TYPE_SAMPLE_ROWS = 20_480;
/** Narrowest first; a column takes the first type every sampled non-null value casts to. */
const CANDIDATE_TYPES = ['BIGINT', 'DOUBLE', 'BOOLEAN', 'DATE', 'TIMESTAMP'];

/** Fields of one CSV line, honouring double quotes. */
export function splitCsvLine(line: string, delimiter: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === delimiter) {
      fields.push(field);
      field = '';
    } else field += ch;
  }
  fields.push(field);
  return fields;
}

async function headerLine(path: string): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    const text = buf
      .subarray(0, bytesRead)
      .toString('utf8')
      .replace(/^\uFEFF/, '');
    return text.split(/\r?\n/)[0] ?? '';
  } finally {
    await handle.close();
  }
}

/**
 * The CSV's dialect and columns from its header line: the delimiter is the source's or the
 * candidate the header holds most of. A header that still holds another candidate after the split
 * into one column was read with the wrong delimiter, and is refused naming it.
 */
async function csvColumns(data: Extract<SourceData, { kind: 'file' }>) {
  const header = await headerLine(data.path);
  const count = (d: string) => splitCsvLine(header, d).length - 1;
  const delimiter = data.csv?.delimiter ?? [...DELIMITERS].sort((a, b) => count(b) - count(a))[0]!;
  const names = splitCsvLine(header, delimiter).map((n) => n.trim());
  if (names.length === 1) {
    const other = DELIMITERS.find((d) => d !== delimiter && count(d) > 0);
    if (other)
      throw dataError(
        `the file reads as a single column: is its delimiter ${JSON.stringify(other)}?`,
        [
          {
            field: 'source.delimiter',
            reason: 'wrong_delimiter',
            message: `header ${JSON.stringify(header.slice(0, 200))} contains ${JSON.stringify(other)}`,
          },
        ],
      );
  }
  names.forEach((n, i) => {
    if (!n || names.indexOf(n) !== i)
      throw dataError(
        `header column ${i + 1} is ${n ? `a second ${JSON.stringify(n)}` : 'empty'}`,
        [
          {
            field: `column ${i + 1}`,
            reason: n ? 'duplicate_column' : 'empty_column',
            message: 'every column needs a unique name',
          },
        ],
      );
  });
  return { delimiter, names };
}

/**
 * Whether a text value `v` is a value of the type, strictly: "10.5" is no BIGINT, "1" no BOOLEAN,
 * and "2024-03-01 09:32:14" no DATE (DuckDB's cast would drop its time of day).
 */
function fits(type: string, v: string): string {
  // Spaces around the value, as the cast accepts them, matched by the pattern instead of trim()
  // copying every value first (a third of this check's cost). trim() also removed no-break
  // spaces, which the cast then refused: the whole file failed with no row named.
  if (type === 'BIGINT') return `regexp_full_match(${v}, ' *[+-]?[0-9]{1,18} *')`;
  if (type === 'BOOLEAN') return `lower(trim(${v})) IN ('true', 'false')`;
  if (type === 'DATE')
    return `(regexp_full_match(${v}, ' *[0-9]{4}-[0-9]{2}-[0-9]{2} *') AND try_cast(${v} AS DATE) IS NOT NULL)`;
  return `try_cast(${v} AS ${type}) IS NOT NULL`;
}

/**
 * A strict reader of the CSV: a row with a field too many or too few is an error. Fields are text,
 * but for the columns given a type here, which the reader parses itself.
 */
const csvReader = (path: string, delimiter: string, names: string[], types: string[] = []) =>
  `read_csv(${lit(path)}, auto_detect = false, header = true, skip = 0, delim = ${lit(delimiter)},
    quote = '"', escape = '"', strict_mode = true, null_padding = false,
    columns = {${names.map((n, i) => `${lit(n)}: ${lit(types[i] ?? 'VARCHAR')}`).join(', ')}})`;

/**
 * Types whose values fit exactly when DuckDB's cast takes them, as the CSV reader's parse does
 * (the same values: spaces, exponents, inf and nan for DOUBLE; ISO forms and offsets for
 * TIMESTAMP): read typed, not read as text and cast (1M rows: 0.2-0.3 CPU-s less).
 */
const READ_TYPED = new Set(['DOUBLE', 'TIMESTAMP']);

/**
 * Reads a CSV: fields as text, types inferred from the first rows, then every row cast to them.
 * A value further down that does not fit its column's type (schema drift) fails the read, and the
 * first such row and column are named.
 */
async function ingestCsv(
  db: DuckDb,
  c: DuckDBConnection,
  data: Extract<SourceData, { kind: 'file' }>,
  outPath: string,
) {
  const { delimiter, names } = await csvColumns(data);
  const text = csvReader(data.path, delimiter, names);
  const checks = names.flatMap((n, i) =>
    CANDIDATE_TYPES.map(
      (t, k) =>
        `bool_and(${fits(t, ident(n))}) FILTER (WHERE ${ident(n)} IS NOT NULL) AS "c${i}_${k}"`,
    ),
  );
  const [sampled] = await db.rows(
    c,
    `SELECT ${checks.join(', ')} FROM (SELECT * FROM ${text} LIMIT ${TYPE_SAMPLE_ROWS})`,
  );
  const types = names.map(
    (_, i) => CANDIDATE_TYPES.find((_t, k) => sampled![`c${i}_${k}`] === true) ?? 'VARCHAR',
  );
  // A value that does not fit stops the copy (error()), rather than being rounded or nulled.
  const casts = names.map((n, i) => {
    const q = ident(n);
    const type = types[i]!;
    if (type === 'VARCHAR' || READ_TYPED.has(type)) return q;
    return `CASE WHEN ${q} IS NULL OR ${fits(type, q)} THEN CAST(${q} AS ${type}) ELSE error('schema drift') END AS ${q}`;
  });
  // A value the reader cannot parse fails the copy too; the scan below then names it.
  const typed = csvReader(
    data.path,
    delimiter,
    names,
    types.map((t) => (READ_TYPED.has(t) ? t : 'VARCHAR')),
  );
  try {
    await c.run(
      `COPY (SELECT ${casts.join(', ')} FROM ${typed}) TO ${lit(outPath)} (FORMAT parquet)`,
    );
  } catch (err) {
    for (const [i, n] of names.entries()) {
      if (types[i] === 'VARCHAR') continue;
      const [bad] = await db.rows(
        c,
        `SELECT rn, v FROM (SELECT row_number() OVER () AS rn, ${ident(n)} AS v FROM ${text})
         WHERE v IS NOT NULL AND NOT (${fits(types[i]!, 'v')}) LIMIT 1`,
      );
      if (bad)
        throw dataError(
          `row ${Number(bad['rn'])} (line ${Number(bad['rn']) + 1}), column ${n}: ${JSON.stringify(String(bad['v']).slice(0, 100))} is not a ${types[i]} like the rows before it`,
          [
            {
              field: `row ${Number(bad['rn'])}, column ${n}`,
              reason: 'schema_drift',
              message: `expected ${types[i]}`,
            },
          ],
        );
    }
    throw err;
  }
}

/** The reader of a Parquet or JSON-lines source (CSV has its own, above). */
function reader(data: Extract<SourceData, { kind: 'file' }>): string {
  const path = lit(data.path);
  if (data.format === 'parquet') return `read_parquet(${path})`;
  return `read_json(${path}, format = 'newline_delimited')`;
}

/**
 * DuckDB's reader errors name the line ("CSV Error on Line: 4", "Expected Number of Columns: 2
 * Found: 3"): kept in the message and lifted into the details.
 */
export function readError(err: unknown, source: string) {
  const message = err instanceof Error ? err.message : String(err);
  const lines = message
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const summary = lines.slice(0, 3).join(' ');
  const line = /Line:\s*(\d+)/i.exec(message);
  const details: ErrorDetail[] = line
    ? [{ field: `line ${line[1]}`, reason: 'malformed_row', message: summary }]
    : [{ field: 'source', reason: 'unreadable', message: lines[0] ?? message }];
  return dataError(`${source} could not be read: ${summary}`, details);
}

/** Reads a source into Parquet at `outPath`; a failure leaves no output file behind. */
export async function ingest(db: DuckDb, data: SourceData, outPath: string) {
  await rm(outPath, { force: true });
  try {
    if (data.kind === 'rows') await ingestRows(db, data, outPath);
    else
      await db.with(async (c) => {
        if (data.format === 'csv') await ingestCsv(db, c, data, outPath);
        else
          await c.run(`COPY (SELECT * FROM ${reader(data)}) TO ${lit(outPath)} (FORMAT parquet)`);
      });
  } catch (err) {
    await rm(outPath, { force: true });
    if (err instanceof Error && err.name === 'AionError') throw err;
    throw readError(err, data.kind === 'file' ? `the ${data.format} file` : 'the source');
  }
  const rows = await db.with(async (c) =>
    Number(
      (await db.rows(c, `SELECT count(*)::DOUBLE AS n FROM read_parquet(${lit(outPath)})`))[0]![
        'n'
      ],
    ),
  );
  return { rows, bytes: (await stat(outPath)).size };
}

const SQL_TYPES = {
  text: 'VARCHAR',
  integer: 'BIGINT',
  double: 'DOUBLE',
  boolean: 'BOOLEAN',
  timestamp: 'VARCHAR',
};

/**
 * Rows in batches (a database cursor): appended to a table in a file-backed DuckDB database, so
 * memory holds one batch, then written out as Parquet. Timestamps travel as ISO text and are cast.
 */
async function ingestRows(
  db: DuckDb,
  data: Extract<SourceData, { kind: 'rows' }>,
  outPath: string,
) {
  const staging = `${outPath}.staging.duckdb`;
  await rm(staging, { force: true });
  await db.with(async (c) => {
    await c.run(`ATTACH ${lit(staging)} AS stg`);
    try {
      const cols = data.columns
        .map((col) => `${ident(col.name)} ${SQL_TYPES[col.type]}`)
        .join(', ');
      await c.run(`CREATE TABLE stg.main.t (${cols})`);
      const appender = await c.createAppender('t', 'main', 'stg');
      for await (const batch of data.batches) {
        for (const row of batch) {
          data.columns.forEach((col, i) => {
            const v = row[i];
            if (v === null || v === undefined) appender.appendNull();
            else if (col.type === 'integer')
              appender.appendBigInt(BigInt(v as string | number | bigint));
            else if (col.type === 'double') appender.appendDouble(Number(v));
            else if (col.type === 'boolean') appender.appendBoolean(Boolean(v));
            else if (col.type === 'timestamp')
              appender.appendVarchar(v instanceof Date ? v.toISOString() : String(v));
            else appender.appendVarchar(typeof v === 'string' ? v : JSON.stringify(v));
          });
          appender.endRow();
        }
        appender.flushSync();
      }
      appender.closeSync();
      const select = data.columns
        .map((col) =>
          col.type === 'timestamp'
            ? `${ident(col.name)}::TIMESTAMPTZ AS ${ident(col.name)}`
            : ident(col.name),
        )
        .join(', ');
      await c.run(
        `COPY (SELECT ${select || '*'} FROM stg.main.t) TO ${lit(outPath)} (FORMAT parquet)`,
      );
    } finally {
      await c.run('DETACH stg');
      await rm(staging, { force: true });
      await rm(`${staging}.wal`, { force: true });
    }
  });
}

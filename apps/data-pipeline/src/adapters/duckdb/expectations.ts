// GX Core expectations evaluated as DuckDB SQL over a Parquet file, counting as GX does: column
// map expectations ignore nulls (except the null checks themselves), unexpected_percent is over
// the non-null values, `mostly` is the share of them that must pass.
import type { DuckDBConnection } from '@duckdb/node-api';
import { dataError } from '../../core/model';
import type { Expectation, ExpectationResult, ExpectationSuite } from '../../core/suite';
import { type DuckDb, describe, ident, isNumericType, lit } from './duckdb';

const SAMPLE = 20;

type Kw = Record<string, unknown>;
type Column = { name: string; type: string };
type Row = Record<string, unknown>;

/** pandas/numpy dtype names a suite written for GX on pandas uses, as DuckDB type families. */
const TYPE_ALIASES: Record<string, string[]> = {
  BIGINT: ['int64', 'int', 'integer', 'long', 'int64dtype'],
  INTEGER: ['int32', 'int', 'integer'],
  SMALLINT: ['int16'],
  TINYINT: ['int8'],
  DOUBLE: ['float64', 'float', 'double', 'number'],
  FLOAT: ['float32', 'float'],
  VARCHAR: ['object', 'str', 'string', 'text'],
  BOOLEAN: ['bool', 'boolean'],
  DATE: ['date', 'datetime64', 'datetime64[ns]'],
  TIMESTAMP: ['timestamp', 'datetime64', 'datetime64[ns]'],
};

const typeMatches = (actual: string, wanted: string) =>
  actual.toUpperCase() === wanted.toUpperCase() ||
  (TYPE_ALIASES[actual.toUpperCase()] ?? []).includes(wanted.toLowerCase());

/** A SQL literal for a suite value; numbers compare as numbers only against numeric columns. */
const valueLiteral = (v: unknown, numeric: boolean) =>
  numeric && typeof v === 'number' ? String(v) : lit(String(v));

function rangeCondition(x: string, kw: Kw): string {
  const parts: string[] = [];
  if (kw['min_value'] !== undefined && kw['min_value'] !== null)
    parts.push(`${x} ${kw['strict_min'] ? '>' : '>='} ${Number(kw['min_value'])}`);
  if (kw['max_value'] !== undefined && kw['max_value'] !== null)
    parts.push(`${x} ${kw['strict_max'] ? '<' : '<='} ${Number(kw['max_value'])}`);
  return parts.length ? parts.join(' AND ') : 'true';
}

const inRange = (v: number | null, kw: Kw) => {
  if (v === null || Number.isNaN(v)) return false;
  const min = kw['min_value'] as number | null | undefined;
  const max = kw['max_value'] as number | null | undefined;
  if (min !== undefined && min !== null && (kw['strict_min'] ? v <= min : v < min)) return false;
  if (max !== undefined && max !== null && (kw['strict_max'] ? v >= max : v > max)) return false;
  return true;
};

/** The condition an expected (non-null) value meets, for the column map expectations. */
function mapCondition(e: Expectation, col: Column): string | undefined {
  const q = ident(col.name);
  const kw = e.kwargs;
  const numeric = isNumericType(col.type);
  const set = () => ((kw['value_set'] as unknown[]) ?? []).map((v) => valueLiteral(v, numeric));
  const target = (vals: string[]) =>
    numeric && vals.every((v) => !v.startsWith("'")) ? q : `${q}::VARCHAR`;
  switch (e.type) {
    case 'expect_column_values_to_be_in_set': {
      const vals = set();
      return vals.length ? `${target(vals)} IN (${vals.join(', ')})` : 'false';
    }
    case 'expect_column_values_to_not_be_in_set': {
      const vals = set();
      return vals.length ? `${target(vals)} NOT IN (${vals.join(', ')})` : 'true';
    }
    case 'expect_column_values_to_be_between':
      return rangeCondition(numeric ? q : `${q}::DOUBLE`, kw);
    case 'expect_column_values_to_match_regex':
      return `regexp_matches(${q}::VARCHAR, ${lit(String(kw['regex']))})`;
    case 'expect_column_values_to_not_match_regex':
      return `NOT regexp_matches(${q}::VARCHAR, ${lit(String(kw['regex']))})`;
    case 'expect_column_value_lengths_to_be_between':
      return rangeCondition(`length(${q}::VARCHAR)`, kw);
    default:
      return undefined;
  }
}

function mapResult(
  e: Expectation,
  element: number,
  considered: number,
  unexpected: number,
  sample: unknown[],
): ExpectationResult {
  const mostly = typeof e.kwargs['mostly'] === 'number' ? e.kwargs['mostly'] : 1;
  const percent = considered === 0 ? 0 : (unexpected / considered) * 100;
  const success = considered === 0 ? true : (considered - unexpected) / considered >= mostly;
  return {
    type: e.type,
    kwargs: e.kwargs,
    severity: e.severity,
    success,
    observedValue: null,
    elementCount: element,
    unexpectedCount: unexpected,
    unexpectedPercent: percent,
    unexpectedSample: sample,
  };
}

const aggregate = (e: Expectation, success: boolean, observed: unknown): ExpectationResult => ({
  type: e.type,
  kwargs: e.kwargs,
  severity: e.severity,
  success,
  observedValue: observed,
  elementCount: null,
  unexpectedCount: null,
  unexpectedPercent: null,
  unexpectedSample: [],
});

/**
 * The aggregates an expectation is decided by when one scan can compute them (column maps, null
 * checks, column statistics), named as evaluate() reads them; undefined for the others.
 */
function aggregatesOf(e: Expectation, col: Column | undefined): Record<string, string> | undefined {
  if (!col) return undefined;
  const q = ident(col.name);
  const condition = mapCondition(e, col);
  // CASE rather than FILTER: DuckDB evaluates many FILTER clauses in one scan far more slowly.
  if (condition !== undefined)
    return {
      nn: `count(${q})::DOUBLE`,
      u: `sum(CASE WHEN ${q} IS NOT NULL AND NOT (${condition}) THEN 1 ELSE 0 END)::DOUBLE`,
    };
  if (
    e.type === 'expect_column_values_to_not_be_null' ||
    e.type === 'expect_column_values_to_be_null'
  )
    return { nn: `count(${q})::DOUBLE` };
  const stat = STATISTICS[e.type];
  return stat ? { v: `${stat}(${q})::DOUBLE` } : undefined;
}

const STATISTICS: Partial<Record<Expectation['type'], string>> = {
  expect_column_mean_to_be_between: 'avg',
  expect_column_median_to_be_between: 'median',
  expect_column_min_to_be_between: 'min',
  expect_column_max_to_be_between: 'max',
};

/**
 * Every aggregate the suite needs, and the row count, in one scan: `pre[i]` holds expectation
 * i's. When the scan fails (an expectation that cannot run on this data), undefined: each
 * expectation then runs on its own, so the failure names the one at fault.
 */
async function batched(
  db: DuckDb,
  c: DuckDBConnection,
  from: string,
  suite: ExpectationSuite,
  byName: Map<string, Column>,
): Promise<{ n: number; pre: (Row | undefined)[] } | undefined> {
  const parts = ['count(*)::DOUBLE AS "n"'];
  const named = suite.expectations.map((e, i) => {
    const col = typeof e.kwargs['column'] === 'string' ? byName.get(e.kwargs['column']) : undefined;
    const aggs = aggregatesOf(e, col);
    for (const [name, sql] of Object.entries(aggs ?? {})) parts.push(`${sql} AS "${i}:${name}"`);
    return aggs ? Object.keys(aggs) : undefined;
  });
  let row: Row;
  try {
    row = (await db.rows(c, `SELECT ${parts.join(', ')} FROM ${from}`))[0]!;
  } catch {
    return undefined;
  }
  return {
    n: Number(row['n']),
    pre: named.map((names, i) =>
      names ? Object.fromEntries(names.map((k) => [k, row[`${i}:${k}`]])) : undefined,
    ),
  };
}

/** Runs every expectation of the suite; a column the suite names that the data lacks is an error. */
export async function validate(
  db: DuckDb,
  path: string,
  suite: ExpectationSuite,
): Promise<ExpectationResult[]> {
  return db.with(async (c) => {
    const from = `read_parquet(${lit(path)})`;
    const columns = await describe(db, c, path);
    const byName = new Map(columns.map((col) => [col.name, col]));
    const results: ExpectationResult[] = [];
    for (const [i, e] of suite.expectations.entries()) {
      const named = [
        e.kwargs['column'],
        ...((e.kwargs['column_list'] as string[] | undefined) ?? []),
      ];
      if (
        e.type !== 'expect_column_to_exist' &&
        e.type !== 'expect_table_columns_to_match_ordered_list'
      )
        for (const name of named)
          if (typeof name === 'string' && !byName.has(name))
            throw dataError(
              `expectations[${i}] (${e.type}) names column ${JSON.stringify(name)}, which the data lacks`,
              [
                {
                  field: `expectations[${i}].kwargs.column`,
                  reason: 'unknown_column',
                  message: `columns: ${columns.map((x) => x.name).join(', ')}`,
                },
              ],
            );
    }
    const scan = await batched(db, c, from, suite, byName);
    const n =
      scan?.n ?? Number((await db.rows(c, `SELECT count(*)::DOUBLE AS n FROM ${from}`))[0]!['n']);
    for (const [i, e] of suite.expectations.entries()) {
      try {
        results.push(await evaluate(db, c, from, n, e, byName, columns, scan?.pre[i]));
      } catch (err) {
        if (err instanceof Error && err.name === 'AionError') throw err;
        throw dataError(
          `expectations[${i}] (${e.type}) cannot run on this data: ${(err as Error).message.split('\n')[0]}`,
          [
            {
              field: `expectations[${i}]`,
              reason: 'not_applicable',
              message: (err as Error).message.split('\n')[0] ?? '',
            },
          ],
        );
      }
    }
    return results;
  });
}

async function evaluate(
  db: DuckDb,
  c: DuckDBConnection,
  from: string,
  n: number,
  e: Expectation,
  byName: Map<string, Column>,
  columns: Column[],
  pre?: Row,
): Promise<ExpectationResult> {
  const kw = e.kwargs;
  const col = typeof kw['column'] === 'string' ? byName.get(kw['column']) : undefined;
  const q = col ? ident(col.name) : '';
  const one = async (sql: string) => (await db.rows(c, sql))[0]!;
  // This expectation's aggregates: from the suite's shared scan, or a scan of its own.
  const aggregates = async () => {
    if (pre) return pre;
    const aggs = aggregatesOf(e, col)!;
    return one(
      `SELECT ${Object.entries(aggs)
        .map(([k, sql]) => `${sql} AS ${k}`)
        .join(', ')} FROM ${from}`,
    );
  };
  const sample = async (where: string, expr = q) =>
    (await db.rows(c, `SELECT ${expr} AS v FROM ${from} WHERE ${where} LIMIT ${SAMPLE}`)).map((r) =>
      jsonSafe(r['v']),
    );

  const condition = col && mapCondition(e, col);
  if (col && condition !== undefined) {
    const r = await aggregates();
    const unexpected = Number(r['u']);
    return mapResult(
      e,
      n,
      Number(r['nn']),
      unexpected,
      unexpected ? await sample(`${q} IS NOT NULL AND NOT (${condition})`) : [],
    );
  }
  switch (e.type) {
    case 'expect_column_values_to_not_be_null': {
      const r = await aggregates();
      const unexpected = n - Number(r['nn']);
      return mapResult(e, n, n, unexpected, []);
    }
    case 'expect_column_values_to_be_null': {
      const r = await aggregates();
      const unexpected = Number(r['nn']);
      return mapResult(e, n, n, unexpected, unexpected ? await sample(`${q} IS NOT NULL`) : []);
    }
    case 'expect_column_values_to_be_unique': {
      const r = await one(
        `SELECT (SELECT count(${q}) FROM ${from})::DOUBLE AS nn,
           coalesce((SELECT sum(k) FROM (SELECT count(*) AS k FROM ${from} WHERE ${q} IS NOT NULL GROUP BY ${q} HAVING count(*) > 1)), 0)::DOUBLE AS u`,
      );
      const unexpected = Number(r['u']);
      const dups = unexpected
        ? (
            await db.rows(
              c,
              `SELECT ${q} AS v FROM ${from} WHERE ${q} IS NOT NULL GROUP BY ${q} HAVING count(*) > 1 LIMIT ${SAMPLE}`,
            )
          ).map((x) => jsonSafe(x['v']))
        : [];
      return mapResult(e, n, Number(r['nn']), unexpected, dups);
    }
    case 'expect_compound_columns_to_be_unique': {
      const cols = (kw['column_list'] as string[]).map(ident);
      const anyValue = cols.map((x) => `${x} IS NOT NULL`).join(' OR ');
      const r = await one(
        `SELECT count(*) FILTER (WHERE ${anyValue})::DOUBLE AS considered,
           coalesce((SELECT sum(k) FROM (SELECT count(*) AS k FROM ${from} WHERE ${anyValue} GROUP BY ${cols.join(', ')} HAVING count(*) > 1)), 0)::DOUBLE AS u
         FROM ${from}`,
      );
      return mapResult(e, n, Number(r['considered']), Number(r['u']), []);
    }
    case 'expect_column_to_exist':
      return aggregate(e, byName.has(String(kw['column'])), null);
    case 'expect_table_columns_to_match_ordered_list': {
      const observed = columns.map((x) => x.name);
      return aggregate(e, JSON.stringify(observed) === JSON.stringify(kw['column_list']), observed);
    }
    case 'expect_table_row_count_to_be_between':
      return aggregate(e, inRange(n, kw), n);
    case 'expect_table_row_count_to_equal':
      return aggregate(e, n === kw['value'], n);
    case 'expect_column_values_to_be_of_type':
      return aggregate(e, typeMatches(col!.type, String(kw['type_'])), col!.type);
    case 'expect_column_values_to_be_in_type_list':
      return aggregate(
        e,
        (kw['type_list'] as string[]).some((t) => typeMatches(col!.type, t)),
        col!.type,
      );
    case 'expect_column_mean_to_be_between':
    case 'expect_column_median_to_be_between':
    case 'expect_column_min_to_be_between':
    case 'expect_column_max_to_be_between': {
      const r = await aggregates();
      const v = r['v'] === null ? null : Number(r['v']);
      return aggregate(e, inRange(v, kw), v);
    }
    default:
      throw dataError(`${e.type} is not evaluated by this engine`);
  }
}

/** JSON-safe sample values (BIGINT comes back as bigint). */
const jsonSafe = (v: unknown): unknown =>
  typeof v === 'bigint'
    ? Number(v)
    : v instanceof Date
      ? v.toISOString()
      : typeof v === 'object' && v !== null
        ? String(v)
        : v;

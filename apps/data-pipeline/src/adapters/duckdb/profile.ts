import type { DuckDBConnection } from '@duckdb/node-api';
import {
  type ColumnProfile,
  type DatasetProfile,
  type SemanticType,
  SEMANTIC_PATTERNS,
  isPersonalData,
  semanticTypeOf,
} from '../../core/profile';
import { type DuckDb, describe, ident, isNumericType, lit } from './duckdb';

const TOP_VALUES = 5;
const BINS = 10;

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/**
 * A cheap condition every value a semantic pattern matches also meets (on the trimmed text `t`),
 * tested first so the regular expression runs only on candidates: most text columns match no
 * pattern, and a regular expression costs far more than a byte check. Necessary, never
 * sufficient: the count is the pattern's own.
 */
const CANDIDATE: Record<SemanticType, (t: string) => string> = {
  email: (t) => `contains(${t}, '@')`,
  iban: (t) => `length(${t}) BETWEEN 15 AND 34 AND ascii(${t}) BETWEEN 65 AND 90`,
  url: (t) => `starts_with(${t}, 'http')`,
  ipv4: (t) => `length(${t}) BETWEEN 7 AND 15 AND ascii(${t}) BETWEEN 48 AND 57`,
  date: (t) => `length(${t}) >= 10 AND ascii(${t}) BETWEEN 48 AND 57`,
  phone: (t) =>
    `length(${t}) BETWEEN 8 AND 21 AND (ascii(${t}) BETWEEN 48 AND 57 OR ascii(${t}) = 43)`,
};

type Column = { name: string; type: string };

/**
 * Profiles a Parquet file exactly: one aggregate scan for every column's counts, extremes,
 * moments and quartiles; then one grouping of each column's values, which gives its distinct
 * count, its top values, and its histogram (numeric) or semantic matches (text); one scan for
 * duplicate rows (by row hash, the rare equal hashes then compared in full) unless a column
 * already tells every row apart. DuckDB streams the file; memory is bounded by its memory_limit.
 * (Measured: a count(DISTINCT) in the scan plus a top-N grouping and a histogram scan cost twice
 * the CPU of the one grouping; one GROUPING SETS scan for every column was slower still: ranking
 * every column's groups costs more than a top-N per column. Quartiles from the groupings, by
 * running counts, cost as much as quantile_cont's own selection.)
 */
export async function profile(db: DuckDb, path: string): Promise<DatasetProfile> {
  const from = `read_parquet(${lit(path)})`;
  const columns = await db.with((c) => describe(db, c, path));
  const groups: ColumnGroups[] = [];
  // Two connections: numeric columns' histograms need the scan's extremes, but the text columns'
  // groupings do not and run beside it, keeping both of DuckDB's threads busy where one query
  // alone leaves one idle (its start, its end, a small grouping).
  const [s] = await Promise.all([
    db.with(async (c) => {
      const stats = await columnStats(db, c, from, columns);
      for (const [i, col] of columns.entries())
        if (isNumericType(col.type))
          groups[i] = await columnGroups(db, c, from, col, extremesOf(stats, col, i));
      return stats;
    }),
    db.with(async (c) => {
      for (const [i, col] of columns.entries())
        if (!isNumericType(col.type))
          groups[i] = await columnGroups(db, c, from, col, { min: null, max: null });
    }),
  ]);
  const rowCount = Number(s['n']);
  // A column without nulls whose values are all distinct (an id) tells every row apart: no row
  // can equal another, and the duplicate scan is not needed.
  const duplicates = groups.some((g) => g.distinct === rowCount)
    ? 0
    : await db.with((c) => duplicateRows(db, c, from, columns));
  const extremes = columns.map((col, i) => extremesOf(s, col, i));
  const out: ColumnProfile[] = columns.map((col, i) => {
    const numeric = isNumericType(col.type);
    const nonNull = Number(s[`nn${i}`]);
    const semantic: SemanticType | '' = /^(DATE|TIMESTAMP)/.test(col.type)
      ? 'date'
      : semanticTypeOf(nonNull, groups[i]!.matches);
    const quantiles = numeric && nonNull > 0 ? (s[`q${i}`] as unknown[]).map(Number) : null;
    return {
      name: col.name,
      type: col.type,
      nullCount: rowCount - nonNull,
      distinctCount: groups[i]!.distinct,
      min: extremes[i]!.min,
      max: extremes[i]!.max,
      mean: numeric ? num(s[`mean${i}`]) : null,
      stddev: numeric ? num(s[`sd${i}`]) : null,
      quantiles: quantiles ? { p25: quantiles[0]!, p50: quantiles[1]!, p75: quantiles[2]! } : null,
      topValues: groups[i]!.top,
      histogram: groups[i]!.histogram,
      semanticType: semantic,
      personalData: isPersonalData(col.name, semantic),
    };
  });
  return { rowCount, duplicateRows: duplicates, columns: out };
}

/** A column's minimum and maximum from the scan: numbers for a numeric column, else text. */
function extremesOf(s: Record<string, unknown>, col: Column, i: number) {
  return isNumericType(col.type)
    ? { min: num(s[`minn${i}`]), max: num(s[`maxn${i}`]) }
    : { min: s[`min${i}`] as string | null, max: s[`max${i}`] as string | null };
}

/** Counts, extremes, moments and exact quartiles: one scan. */
async function columnStats(db: DuckDb, c: DuckDBConnection, from: string, columns: Column[]) {
  const aggs = ['count(*)::DOUBLE AS "n"'];
  columns.forEach((col, i) => {
    const q = ident(col.name);
    aggs.push(
      `count(${q})::DOUBLE AS "nn${i}"`,
      `min(${q})::VARCHAR AS "min${i}"`,
      `max(${q})::VARCHAR AS "max${i}"`,
    );
    if (isNumericType(col.type))
      aggs.push(
        `avg(${q})::DOUBLE AS "mean${i}"`,
        `stddev_samp(${q})::DOUBLE AS "sd${i}"`,
        `min(${q})::DOUBLE AS "minn${i}"`,
        `max(${q})::DOUBLE AS "maxn${i}"`,
        // One sort serves the three quartiles (three quantile_cont calls would sort three times).
        `quantile_cont(${q}, [0.25, 0.5, 0.75])::DOUBLE[] AS "q${i}"`,
      );
  });
  const [stats] = await db.rows(c, `SELECT ${aggs.join(', ')} FROM ${from}`);
  return stats!;
}

interface ColumnGroups {
  distinct: number;
  top: ColumnProfile['topValues'];
  histogram: ColumnProfile['histogram'];
  /** Values (counted with repeats) each semantic pattern matches, for a text column. */
  matches: Partial<Record<SemanticType, number>>;
}

/**
 * One grouping of a column's non-null values (value, count), read three ways: the number of
 * groups is the distinct count; the top-N by count (ties by value as text) are the top values;
 * for a numeric column, the counts summed into equal-width bins over [min, max] (the maximum in
 * the last bin) are its histogram.
 */
async function columnGroups(
  db: DuckDb,
  c: DuckDBConnection,
  from: string,
  col: Column,
  extremes: { min: unknown; max: unknown },
): Promise<ColumnGroups> {
  const q = ident(col.name);
  const { min, max } = extremes;
  const numeric = isNumericType(col.type) && typeof min === 'number' && typeof max === 'number';
  const bins = numeric && min === max ? 1 : BINS;
  const width = numeric ? (max - min) / bins || 1 : 1;
  const histogram = numeric
    ? `UNION ALL SELECT 'bin', bin::VARCHAR, sum(n)::DOUBLE, 0 FROM (
         SELECT least(floor((v::DOUBLE - ${min}) / ${width}), ${bins - 1})::INTEGER AS bin, n FROM g
       ) GROUP BY bin`
    : '';
  // Each distinct text value is tested once and counts as often as it occurs: the same counts
  // as testing every row, for a fraction of the regular expressions (CASE, not FILTER: its AND
  // stops at a failed candidate test).
  const semantic =
    col.type === 'VARCHAR'
      ? `UNION ALL SELECT 'semantic', unnest([${SEMANTIC_PATTERNS.map(([type]) => lit(type)).join(', ')}]), unnest(m), 0
         FROM (SELECT [${SEMANTIC_PATTERNS.map(
           ([type, pattern]) =>
             `sum(CASE WHEN ${CANDIDATE[type]('t')} AND regexp_matches(t, ${lit(pattern)}) THEN n ELSE 0 END)::DOUBLE`,
         ).join(', ')}] AS m FROM (SELECT trim(v) AS t, n FROM g))`
      : '';
  const rows = await db.rows(
    c,
    `WITH g AS MATERIALIZED (SELECT ${q} AS v, count(*) AS n FROM ${from} WHERE ${q} IS NOT NULL GROUP BY ${q})
     SELECT 'top' AS k, v, n, row_number() OVER (ORDER BY n DESC, v) AS r FROM (
       SELECT v::VARCHAR AS v, n::DOUBLE AS n FROM g ORDER BY n DESC, v::VARCHAR LIMIT ${TOP_VALUES})
     UNION ALL SELECT 'distinct', NULL, count(*)::DOUBLE, 0 FROM g
     ${histogram} ${semantic}`,
  );
  const top = rows
    .filter((r) => r['k'] === 'top')
    .sort((a, b) => Number(a['r']) - Number(b['r']))
    .map((r) => ({ value: String(r['v']), count: Number(r['n']) }));
  const counts = new Map(
    rows.filter((r) => r['k'] === 'bin').map((r) => [Number(r['v']), Number(r['n'])]),
  );
  const matches: Partial<Record<SemanticType, number>> = {};
  for (const r of rows) if (r['k'] === 'semantic') matches[r['v'] as SemanticType] = Number(r['n']);
  return {
    matches,
    distinct: Number(rows.find((r) => r['k'] === 'distinct')?.['n'] ?? 0),
    top,
    histogram: numeric
      ? Array.from({ length: bins }, (_, b) => ({
          lower: min + b * width,
          upper: b === bins - 1 ? max : min + (b + 1) * width,
          count: counts.get(b) ?? 0,
        }))
      : null,
  };
}

/**
 * Rows equal to an earlier row. Rows are told apart by a 64-bit hash first; only rows whose hash
 * repeats (the duplicates, and in theory a collision) are compared in full, so the count is exact.
 */
async function duplicateRows(db: DuckDb, c: DuckDBConnection, from: string, columns: Column[]) {
  if (!columns.length) return 0;
  const all = columns.map((col) => ident(col.name)).join(', ');
  const [row] = await db.rows(
    c,
    `WITH hashed AS (SELECT *, hash(${all}) AS aion_h FROM ${from}),
       repeated AS (SELECT aion_h FROM hashed GROUP BY aion_h HAVING count(*) > 1)
     SELECT (count(*) - (SELECT count(*) FROM (SELECT DISTINCT ${all} FROM hashed
                          WHERE aion_h IN (SELECT aion_h FROM repeated))))::DOUBLE AS d
     FROM hashed WHERE aion_h IN (SELECT aion_h FROM repeated)`,
  );
  return Number(row!['d']);
}

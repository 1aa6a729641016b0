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
 * Profiles a Parquet file exactly: one aggregate scan for every column's counts, distinct counts,
 * extremes, moments, quartiles and semantic matches; a top-N grouping per column for its top
 * values; one scan for every numeric column's histogram; one for duplicate rows (by row hash, the
 * rare equal hashes then compared in full). DuckDB streams the file; memory is bounded by its
 * memory_limit. (One GROUPING SETS scan for distinct counts and top values together was measured
 * slower: ranking every column's groups costs more than a top-N per column.)
 */
export async function profile(db: DuckDb, path: string): Promise<DatasetProfile> {
  return db.with(async (c) => {
    const from = `read_parquet(${lit(path)})`;
    const columns = await describe(db, c, path);
    const s = await columnStats(db, c, from, columns);
    const rowCount = Number(s['n']);
    const unique = columns.map((_, i) => Number(s[`d${i}`]) === Number(s[`nn${i}`]));
    const top = await topValues(db, c, from, columns, unique);
    const extremes = columns.map((col, i) =>
      isNumericType(col.type)
        ? { min: num(s[`minn${i}`]), max: num(s[`maxn${i}`]) }
        : { min: s[`min${i}`] as string | null, max: s[`max${i}`] as string | null },
    );
    const histograms = await histogramsOf(db, c, from, columns, extremes);
    const out: ColumnProfile[] = columns.map((col, i) => {
      const numeric = isNumericType(col.type);
      const nonNull = Number(s[`nn${i}`]);
      const matches: Partial<Record<SemanticType, number>> = {};
      for (const [type] of SEMANTIC_PATTERNS) matches[type] = Number(s[`${type}${i}`] ?? 0);
      const semantic: SemanticType | '' = /^(DATE|TIMESTAMP)/.test(col.type)
        ? 'date'
        : semanticTypeOf(nonNull, matches);
      const quantiles = numeric && nonNull > 0 ? (s[`q${i}`] as unknown[]).map(Number) : null;
      return {
        name: col.name,
        type: col.type,
        nullCount: rowCount - nonNull,
        distinctCount: Number(s[`d${i}`]),
        min: extremes[i]!.min,
        max: extremes[i]!.max,
        mean: numeric ? num(s[`mean${i}`]) : null,
        stddev: numeric ? num(s[`sd${i}`]) : null,
        quantiles: quantiles
          ? { p25: quantiles[0]!, p50: quantiles[1]!, p75: quantiles[2]! }
          : null,
        topValues: top[i] ?? [],
        histogram: histograms[i] ?? null,
        semanticType: semantic,
        personalData: isPersonalData(col.name, semantic),
      };
    });
    return { rowCount, duplicateRows: await duplicateRows(db, c, from, columns), columns: out };
  });
}

/** Counts, extremes, moments, exact quartiles and semantic pattern matches: one scan. */
async function columnStats(db: DuckDb, c: DuckDBConnection, from: string, columns: Column[]) {
  const aggs = ['count(*)::DOUBLE AS "n"'];
  columns.forEach((col, i) => {
    const q = ident(col.name);
    aggs.push(
      `count(${q})::DOUBLE AS "nn${i}"`,
      `count(DISTINCT ${q})::DOUBLE AS "d${i}"`,
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
    if (col.type === 'VARCHAR')
      for (const [type, pattern] of SEMANTIC_PATTERNS) {
        // CASE, not FILTER: its AND stops at a failed candidate test (a FILTER ran every regex).
        const t = `trim(${q})`;
        aggs.push(
          `sum(CASE WHEN ${CANDIDATE[type](t)} AND regexp_matches(${t}, ${lit(pattern)}) THEN 1 ELSE 0 END)::DOUBLE AS "${type}${i}"`,
        );
      }
  });
  const [stats] = await db.rows(c, `SELECT ${aggs.join(', ')} FROM ${from}`);
  return stats!;
}

/**
 * Each column's most frequent values (ties by value), a grouping each with DuckDB's top-N. A
 * column whose values are all distinct (an id) needs no grouping: every count is 1, so its top
 * values are its first values in order.
 */
async function topValues(
  db: DuckDb,
  c: DuckDBConnection,
  from: string,
  columns: Column[],
  unique: boolean[],
) {
  const out: ColumnProfile['topValues'][] = [];
  for (const [i, col] of columns.entries()) {
    const q = ident(col.name);
    const rows = await db.rows(
      c,
      unique[i]
        ? `SELECT ${q}::VARCHAR AS v, 1::DOUBLE AS n FROM ${from} WHERE ${q} IS NOT NULL
           ORDER BY v LIMIT ${TOP_VALUES}`
        : `SELECT ${q}::VARCHAR AS v, count(*)::DOUBLE AS n FROM ${from} WHERE ${q} IS NOT NULL
           GROUP BY ${q} ORDER BY n DESC, v LIMIT ${TOP_VALUES}`,
    );
    out.push(rows.map((r) => ({ value: String(r['v']), count: Number(r['n']) })));
  }
  return out;
}

/** Equal-width bins over [min, max] of every numeric column (the maximum in the last bin): one scan. */
async function histogramsOf(
  db: DuckDb,
  c: DuckDBConnection,
  from: string,
  columns: Column[],
  extremes: { min: unknown; max: unknown }[],
) {
  const out: ColumnProfile['histogram'][] = columns.map(() => null);
  const binned = columns.flatMap((col, i) => {
    const { min, max } = extremes[i]!;
    if (!isNumericType(col.type) || typeof min !== 'number' || typeof max !== 'number') return [];
    const bins = min === max ? 1 : BINS;
    const width = (max - min) / bins || 1;
    return [{ i, min, max, bins, width, q: ident(col.name) }];
  });
  if (!binned.length) return out;
  const [row] = await db.rows(
    c,
    `SELECT ${binned
      .map(
        (h) =>
          `histogram(least(floor((${h.q}::DOUBLE - ${h.min}) / ${h.width}), ${h.bins - 1})::INTEGER) FILTER (WHERE ${h.q} IS NOT NULL) AS "h${h.i}"`,
      )
      .join(', ')} FROM ${from}`,
  );
  for (const h of binned) {
    const counts = mapOf(row![`h${h.i}`]);
    out[h.i] = Array.from({ length: h.bins }, (_, b) => ({
      lower: h.min + b * h.width,
      upper: b === h.bins - 1 ? h.max : h.min + (b + 1) * h.width,
      count: counts.get(b) ?? 0,
    }));
  }
  return out;
}

/** A DuckDB MAP as the JS client returns it ({entries} or [{key, value}]), as numbers. */
function mapOf(v: unknown): Map<number, number> {
  const entries = (
    Array.isArray(v) ? v : ((v as { entries?: unknown[] } | null)?.entries ?? [])
  ) as { key: unknown; value: unknown }[];
  return new Map(entries.map((e) => [Number(e.key), Number(e.value)]));
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

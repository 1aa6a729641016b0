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
 * Profiles a Parquet file: one aggregate pass for every column's counts, extremes, moments,
 * quantiles and semantic matches, then per column its top values and histogram, and one pass for
 * duplicate rows. DuckDB streams the file; memory is bounded by its memory_limit.
 */
export async function profile(db: DuckDb, path: string): Promise<DatasetProfile> {
  return db.with(async (c) => {
    const from = `read_parquet(${lit(path)})`;
    const columns = await describe(db, c, path);
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
          ...[25, 50, 75].map((p) => `quantile_cont(${q}, ${p / 100})::DOUBLE AS "q${p}_${i}"`),
        );
      if (col.type === 'VARCHAR')
        SEMANTIC_PATTERNS.forEach(([type, pattern]) =>
          aggs.push(
            `count(*) FILTER (WHERE regexp_matches(trim(${q}), ${lit(pattern)}))::DOUBLE AS "${type}${i}"`,
          ),
        );
    });
    const [stats] = await db.rows(c, `SELECT ${aggs.join(', ')} FROM ${from}`);
    const s = stats!;
    const rowCount = Number(s['n']);
    const out: ColumnProfile[] = [];
    for (const [i, col] of columns.entries()) {
      const q = ident(col.name);
      const numeric = isNumericType(col.type);
      const nonNull = Number(s[`nn${i}`]);
      const matches: Partial<Record<SemanticType, number>> = {};
      for (const [type] of SEMANTIC_PATTERNS) matches[type] = Number(s[`${type}${i}`] ?? 0);
      const semantic: SemanticType | '' = /^(DATE|TIMESTAMP)/.test(col.type)
        ? 'date'
        : semanticTypeOf(nonNull, matches);
      const top = await db.rows(
        c,
        `SELECT ${q}::VARCHAR AS v, count(*)::DOUBLE AS n FROM ${from} WHERE ${q} IS NOT NULL
         GROUP BY ${q} ORDER BY n DESC, v LIMIT ${TOP_VALUES}`,
      );
      const min = numeric ? num(s[`minn${i}`]) : (s[`min${i}`] as string | null);
      const max = numeric ? num(s[`maxn${i}`]) : (s[`max${i}`] as string | null);
      out.push({
        name: col.name,
        type: col.type,
        nullCount: rowCount - nonNull,
        distinctCount: Number(s[`d${i}`]),
        min,
        max,
        mean: numeric ? num(s[`mean${i}`]) : null,
        stddev: numeric ? num(s[`sd${i}`]) : null,
        quantiles:
          numeric && nonNull > 0
            ? { p25: Number(s[`q25_${i}`]), p50: Number(s[`q50_${i}`]), p75: Number(s[`q75_${i}`]) }
            : null,
        topValues: top.map((r) => ({ value: String(r['v']), count: Number(r['n']) })),
        histogram:
          numeric && typeof min === 'number' && typeof max === 'number'
            ? await histogram(db, c, from, q, min, max)
            : null,
        semanticType: semantic,
        personalData: isPersonalData(col.name, semantic),
      });
    }
    const [dups] = await db.rows(
      c,
      `SELECT (count(*) - (SELECT count(*) FROM (SELECT DISTINCT * FROM ${from})))::DOUBLE AS d FROM ${from}`,
    );
    return { rowCount, duplicateRows: Number(dups!['d']), columns: out };
  });
}

/** Equal-width bins over [min, max]; the maximum falls in the last bin. */
async function histogram(
  db: DuckDb,
  c: Parameters<Parameters<DuckDb['with']>[0]>[0],
  from: string,
  q: string,
  min: number,
  max: number,
) {
  const bins = min === max ? 1 : BINS;
  const width = (max - min) / bins || 1;
  const rows = await db.rows(
    c,
    `SELECT least(floor((${q}::DOUBLE - ${min}) / ${width}), ${bins - 1})::INTEGER AS b, count(*)::DOUBLE AS n
     FROM ${from} WHERE ${q} IS NOT NULL GROUP BY b`,
  );
  const counts = new Map(rows.map((r) => [Number(r['b']), Number(r['n'])]));
  return Array.from({ length: bins }, (_, b) => ({
    lower: min + b * width,
    upper: b === bins - 1 ? max : min + (b + 1) * width,
    count: counts.get(b) ?? 0,
  }));
}

import { rm, stat } from 'node:fs/promises';
import { dataError } from '../../core/model';
import type { FittedParams, OutputFormat, TransformSpec } from '../../core/transform';
import { type DuckDb, describe, ident, isNumericType, lit } from './duckdb';

/** Most categories a one-hot step makes columns for; more is refused, not a column explosion. */
const MAX_CATEGORIES = 100;

const DATE_FN = {
  year: 'year',
  month: 'month',
  day: 'day',
  dow: 'dayofweek',
  hour: 'hour',
} as const;

/**
 * Applies the steps in one pass over the data, after fitting what they learn (categories, mean
 * and standard deviation, minimum and maximum) on the training rows only.
 */
export async function transform(db: DuckDb, inPath: string, outPath: string, spec: TransformSpec) {
  await rm(outPath, { force: true });
  const fitted: FittedParams = [];
  await db.with(async (c) => {
    const from = `read_parquet(${lit(inPath)})`;
    const columns = await describe(db, c, inPath);
    const typeOf = new Map(columns.map((col) => [col.name, col.type]));
    const need = (name: string, field: string) => {
      const t = typeOf.get(name);
      if (t === undefined)
        throw dataError(`${field} names column ${JSON.stringify(name)}, which the data lacks`, [
          {
            field,
            reason: 'unknown_column',
            message: `columns: ${columns.map((x) => x.name).join(', ')}`,
          },
        ]);
      return t;
    };
    let fitRows = from;
    if (spec.fitWhere) {
      need(spec.fitWhere.column, 'spec.transform.fit_where.column');
      const v = spec.fitWhere.equals;
      fitRows = `(SELECT * FROM ${from} WHERE ${ident(spec.fitWhere.column)}::VARCHAR = ${lit(String(v))})`;
    }
    const select: string[] = columns.map((col) => ident(col.name));
    for (const [i, step] of spec.steps.entries()) {
      const field = `spec.transform.steps[${i}]`;
      const type = need(step.column, `${field}.column`);
      const q = ident(step.column);
      if (step.op === 'one_hot') {
        const rows = await db.rows(
          c,
          `SELECT DISTINCT ${q}::VARCHAR AS v FROM ${fitRows} WHERE ${q} IS NOT NULL ORDER BY v LIMIT ${MAX_CATEGORIES + 1}`,
        );
        if (rows.length > MAX_CATEGORIES)
          throw dataError(`${field}: ${step.column} has more than ${MAX_CATEGORIES} categories`, [
            {
              field: `${field}.column`,
              reason: 'too_many_categories',
              message: `at most ${MAX_CATEGORIES}`,
            },
          ]);
        const categories = rows.map((r) => String(r['v']));
        fitted.push({ op: 'one_hot', column: step.column, categories });
        for (const cat of categories)
          select.push(
            `(${q}::VARCHAR IS NOT DISTINCT FROM ${lit(cat)})::INTEGER AS ${ident(`${step.column}_${cat}`)}`,
          );
      } else if (step.op === 'scale') {
        if (!isNumericType(type))
          throw dataError(`${field}: ${step.column} is ${type}, not a number`, [
            { field: `${field}.column`, reason: 'not_numeric', message: type },
          ]);
        const [s] = await db.rows(
          c,
          `SELECT avg(${q})::DOUBLE AS mean, stddev_pop(${q})::DOUBLE AS std, min(${q})::DOUBLE AS min, max(${q})::DOUBLE AS max FROM ${fitRows}`,
        );
        const p = {
          mean: Number(s!['mean']),
          std: Number(s!['std']),
          min: Number(s!['min']),
          max: Number(s!['max']),
        };
        fitted.push({ op: 'scale', column: step.column, method: step.method, ...p });
        // A constant column scales to 0 rather than dividing by zero.
        const expr =
          step.method === 'standard'
            ? `CASE WHEN ${p.std || 0} = 0 THEN 0 ELSE (${q} - ${p.mean}) / ${p.std || 1} END`
            : `CASE WHEN ${p.max - p.min || 0} = 0 THEN 0 ELSE (${q} - ${p.min}) / ${p.max - p.min || 1} END`;
        select.push(`(${expr})::DOUBLE AS ${ident(`${step.column}_${step.method}`)}`);
      } else if (step.op === 'bin') {
        if (!isNumericType(type))
          throw dataError(`${field}: ${step.column} is ${type}, not a number`, [
            { field: `${field}.column`, reason: 'not_numeric', message: type },
          ]);
        if (step.edges.some((e, k) => k > 0 && e <= step.edges[k - 1]!))
          throw dataError(`${field}.edges must increase`, [
            { field: `${field}.edges`, reason: 'not_increasing', message: step.edges.join(', ') },
          ]);
        // Bin k holds edges[k] <= x < edges[k+1] (the last bin includes its upper edge); outside: null.
        const cases = step.edges
          .slice(0, -1)
          .map((lo, k) => {
            const hi = step.edges[k + 1]!;
            const upper = k === step.edges.length - 2 ? `<= ${hi}` : `< ${hi}`;
            return `WHEN ${q} >= ${lo} AND ${q} ${upper} THEN ${k}`;
          })
          .join(' ');
        select.push(`(CASE ${cases} END)::INTEGER AS ${ident(`${step.column}_bin`)}`);
      } else {
        if (!/^(DATE|TIMESTAMP)/.test(type))
          throw dataError(`${field}: ${step.column} is ${type}, not a date`, [
            { field: `${field}.column`, reason: 'not_a_date', message: type },
          ]);
        for (const part of step.parts)
          select.push(`${DATE_FN[part]}(${q})::INTEGER AS ${ident(`${step.column}_${part}`)}`);
      }
    }
    await c.run(
      `COPY (SELECT ${select.join(', ')} FROM ${from}) TO ${lit(outPath)} (FORMAT parquet)`,
    );
  });
  const rows = await db.with(async (c) =>
    Number(
      (await db.rows(c, `SELECT count(*)::DOUBLE AS n FROM read_parquet(${lit(outPath)})`))[0]![
        'n'
      ],
    ),
  );
  return { rows, bytes: (await stat(outPath)).size, fitted };
}

/** The data in the format a job asked for (CSV with a header, or JSON lines). */
export async function exportAs(db: DuckDb, inPath: string, outPath: string, format: OutputFormat) {
  await rm(outPath, { force: true });
  const options =
    format === 'csv'
      ? '(FORMAT csv, HEADER true)'
      : format === 'jsonl'
        ? '(FORMAT json)'
        : '(FORMAT parquet)';
  await db.with((c) =>
    c
      .run(`COPY (SELECT * FROM read_parquet(${lit(inPath)})) TO ${lit(outPath)} ${options}`)
      .then(() => undefined),
  );
}

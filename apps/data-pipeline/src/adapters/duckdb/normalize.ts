import type { DuckDBConnection } from '@duckdb/node-api';
import { dataError } from '../../core/model';
import { hasTime, type DateNormalization, type NumberNormalization } from '../../core/normalize';
import { type DuckDb, isNumericType, lit } from './duckdb';

/** A regular-expression literal of one character (RE2). */
const re = (ch: string) => (/[.\\^$|?*+()[\]{}]/.test(ch) ? `\\${ch}` : ch);

/** What a date or number conversion turns a column's expression into, and its new type. */
export interface Conversion {
  /** The converted value; null where the value does not parse. */
  expr: string;
  type: string;
  /** The text the value had (to tell an unparsable value from a missing one). */
  raw: string;
  onError: 'fail' | 'null';
  step: Record<string, unknown>;
}

/**
 * Text dates to DATE (TIMESTAMP when a format has a time of day): each value is tried against
 * the formats in order. A column that already is a date or timestamp is only cast.
 */
export function dateConversion(
  column: string,
  current: string,
  type: string,
  spec: DateNormalization,
): Conversion {
  const target = spec.formats.some(hasTime) ? 'TIMESTAMP' : 'DATE';
  const raw = `NULLIF(trim(${current}::VARCHAR), '')`;
  const already = type === 'DATE' || type.startsWith('TIMESTAMP');
  const parsed = already
    ? `CAST(${current} AS ${target})`
    : `CAST(try_strptime(${raw}, [${spec.formats.map(lit).join(', ')}]) AS ${target})`;
  return {
    expr: parsed,
    type: target,
    raw,
    onError: spec.on_error ?? 'fail',
    step: { step: 'normalize', column, date: { formats: spec.formats, to: target } },
  };
}

/**
 * Locale numbers ("1.234,56", "1 234.5", "1'234") to DOUBLE or DECIMAL(38, scale). A value must
 * be a whole number of the locale's shape: an optional sign, digits grouped by threes with the
 * thousands separator (or not grouped at all), an optional decimal part; anything else does not
 * parse (a misplaced separator is not guessed at).
 */
export function numberConversion(
  column: string,
  current: string,
  type: string,
  spec: NumberNormalization,
): Conversion {
  const target = spec.as === 'decimal' ? `DECIMAL(38, ${spec.scale ?? 2})` : 'DOUBLE';
  const raw = `NULLIF(trim(${current}::VARCHAR), '')`;
  const thousands = spec.thousands ?? '';
  const d = re(spec.decimal);
  const plain = `[+-]?(\\d+(${d}\\d*)?|${d}\\d+)`;
  const grouped = thousands ? `|[+-]?\\d{1,3}(${re(thousands)}\\d{3})+(${d}\\d*)?` : '';
  const shape = `^(${plain}${grouped})$`;
  let text = raw;
  if (thousands) text = `replace(${text}, ${lit(thousands)}, '')`;
  if (spec.decimal !== '.') text = `replace(${text}, ${lit(spec.decimal)}, '.')`;
  const parsed = isNumericType(type)
    ? `CAST(${current} AS ${target})`
    : `CASE WHEN regexp_full_match(${raw}, ${lit(shape)}) THEN TRY_CAST(${text} AS ${target}) END`;
  return {
    expr: parsed,
    type: target,
    raw,
    onError: spec.on_error ?? 'fail',
    step: {
      step: 'normalize',
      column,
      number: { decimal: spec.decimal, thousands, to: target },
    },
  };
}

/**
 * How many values of the column did not parse, and the first of them (its row, 1-based in file
 * order, and its text); the job fails naming it unless the spec asked for nulls.
 */
export async function checkConversion(
  db: DuckDb,
  c: DuckDBConnection,
  from: string,
  conversion: Conversion,
  field: string,
  column: string,
): Promise<number> {
  const [found] = await db.rows(
    c,
    `SELECT count(*)::DOUBLE AS n, min(aion_row)::DOUBLE AS first_row, arg_min(raw, aion_row) AS first_value
       FROM (SELECT row_number() OVER () AS aion_row, ${conversion.raw} AS raw, ${conversion.expr} AS parsed FROM ${from})
      WHERE raw IS NOT NULL AND parsed IS NULL`,
  );
  const unparsed = Number(found?.['n'] ?? 0);
  if (unparsed > 0 && conversion.onError === 'fail') {
    const row = Number(found!['first_row']);
    const value = String(found!['first_value']);
    throw dataError(
      `${field}: row ${row} of column ${JSON.stringify(column)} is ${JSON.stringify(value)}, which does not parse (${unparsed} such values; "on_error": "null" makes them null)`,
      [
        {
          field,
          reason: 'unparsable',
          message: `row ${row}, column ${column}: ${JSON.stringify(value)}`,
        },
      ],
    );
  }
  return unparsed;
}

// Date and number normalisation of the clean stage: what a spec may say, checked before a job is
// queued (the gateway's request schema states the same rules).

/**
 * strptime directives the engine parses (DuckDB's, which follow C's): day, month, year, names
 * of months and weekdays, time of day, fractions, offsets, day of year; `%-x` without padding.
 */
const DIRECTIVE = String.raw`%(?:-?[dmyHIMSj]|[YbBaApfgnzZ%])`;
// Literal text: the Basic Multilingual Plane without controls or surrogates, so a length is the
// same in UTF-16 units (zod) and code points (JSON Schema), and one pattern reads alike in both.
const PIECE = String.raw`(?:[\u0020-\u0024\u0026-\ud7ff\ue000-\ufffd]|${DIRECTIVE})`;
export const DATE_FORMAT = new RegExp(String.raw`^${PIECE}*%(?:-?[dmyj]|[YbB])${PIECE}*$`);
/** A format with a time of day yields TIMESTAMP; dates alone yield DATE. */
export const hasTime = (format: string) => /%-?[HIMS]|%[fgnpzZ]/.test(format);

export const DECIMAL_SEPARATORS = ['.', ','] as const;
/** Thousands separators: none, dot, comma, space, no-break space, apostrophe (Swiss). */
export const THOUSANDS_SEPARATORS = ['', '.', ',', ' ', '\u00a0', "'"] as const;
export const ON_ERROR = ['fail', 'null'] as const;

export interface DateNormalization {
  /** Tried in order; the first that parses a value wins. */
  formats: string[];
  /** What an unparsable value does: fail the job naming its row (default), or become null. */
  on_error?: (typeof ON_ERROR)[number];
}

export interface NumberNormalization {
  decimal: (typeof DECIMAL_SEPARATORS)[number];
  thousands?: (typeof THOUSANDS_SEPARATORS)[number];
  /** DOUBLE (default) or DECIMAL(38, scale). */
  as?: 'double' | 'decimal';
  scale?: number;
  on_error?: (typeof ON_ERROR)[number];
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks `normalize[i].date` or `.number`; `bad(field, message)` builds the error naming the
 * field under spec.clean.
 */
export function checkConversion(
  kind: 'date' | 'number',
  value: unknown,
  at: string,
  bad: (field: string, message: string) => Error,
): void {
  if (!isRecord(value)) throw bad(`${at}.${kind}`, 'must be an object');
  const onError = value['on_error'];
  if (onError !== undefined && !(ON_ERROR as readonly unknown[]).includes(onError))
    throw bad(`${at}.${kind}.on_error`, 'must be fail or null');
  if (kind === 'date') {
    const { formats, on_error: _e, ...rest } = value;
    if (Object.keys(rest).length)
      throw bad(`${at}.date.${Object.keys(rest)[0]}`, 'is not a setting (formats, on_error)');
    if (!Array.isArray(formats) || formats.length === 0 || formats.length > 20)
      throw bad(`${at}.date.formats`, 'must list 1-20 strptime formats');
    formats.forEach((f, j) => {
      if (typeof f !== 'string' || f.length > 100 || !DATE_FORMAT.test(f))
        throw bad(
          `${at}.date.formats[${j}]`,
          'must be a strptime format with a day, month or year directive (%d %m %Y %y %b %B %j, %H %M %S ...)',
        );
    });
    return;
  }
  const { decimal, thousands, as, scale, on_error: _e, ...rest } = value;
  if (Object.keys(rest).length)
    throw bad(
      `${at}.number.${Object.keys(rest)[0]}`,
      'is not a setting (decimal, thousands, as, scale, on_error)',
    );
  if (!(DECIMAL_SEPARATORS as readonly unknown[]).includes(decimal))
    throw bad(`${at}.number.decimal`, 'must be "." or ","');
  if (thousands !== undefined && !(THOUSANDS_SEPARATORS as readonly unknown[]).includes(thousands))
    throw bad(`${at}.number.thousands`, 'must be "", ".", ",", " ", a no-break space or "\'"');
  if (thousands === decimal)
    throw bad(`${at}.number.thousands`, 'must differ from the decimal separator');
  if (as !== undefined && as !== 'double' && as !== 'decimal')
    throw bad(`${at}.number.as`, 'must be double or decimal');
  if (
    scale !== undefined &&
    (as !== 'decimal' ||
      !Number.isInteger(scale) ||
      (scale as number) < 0 ||
      (scale as number) > 18)
  )
    throw bad(`${at}.number.scale`, 'must be an integer 0-18, with "as": "decimal"');
}

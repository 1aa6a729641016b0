// Feature engineering a transform job applies, checked before the job is queued. Parameters that
// are learned from data (categories, means, ranges) are fitted on the rows the job names as
// training data only, returned, and versioned with the output, so evaluation rows never leak in.
import { AionError } from '@aion/errors';

export type TransformStep =
  | { op: 'one_hot'; column: string }
  | { op: 'scale'; column: string; method: 'standard' | 'minmax' }
  | { op: 'bin'; column: string; edges: number[] }
  | { op: 'date_parts'; column: string; parts: DatePart[] };

export const DATE_PARTS = ['year', 'month', 'day', 'dow', 'hour'] as const;
export type DatePart = (typeof DATE_PARTS)[number];
export const OUTPUT_FORMATS = ['parquet', 'csv', 'jsonl'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface TransformSpec {
  steps: TransformStep[];
  /** Rows the parameters are fitted on (default: every row). */
  fitWhere?: { column: string; equals: string | number | boolean };
}

/** What was learned, per step: the artifact versioned beside the data. */
export type FittedParams = Record<string, unknown>[];

const invalid = (field: string, message: string) =>
  AionError.validation(`${field} ${message}`, [{ field, reason: 'invalid', message }]);
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const columnOf = (step: Record<string, unknown>, at: string) => {
  const c = step['column'];
  if (typeof c !== 'string' || c === '') throw invalid(`${at}.column`, 'must name a column');
  return c;
};

/** spec.transform as the engine runs it; every problem names its field. */
export function parseTransform(raw: unknown): TransformSpec {
  const at = 'spec.transform';
  if (!isObject(raw)) throw invalid(at, 'must be an object with steps');
  const steps = raw['steps'];
  if (!Array.isArray(steps) || steps.length === 0)
    throw invalid(`${at}.steps`, 'must list at least one step');
  const parsed = steps.map((s, i): TransformStep => {
    const here = `${at}.steps[${i}]`;
    if (!isObject(s)) throw invalid(here, 'must be an object');
    const column = columnOf(s, here);
    switch (s['op']) {
      case 'one_hot':
        return { op: 'one_hot', column };
      case 'scale': {
        const method = s['method'] ?? 'standard';
        if (method !== 'standard' && method !== 'minmax')
          throw invalid(`${here}.method`, 'must be standard or minmax');
        return { op: 'scale', column, method };
      }
      case 'bin': {
        const edges = s['edges'];
        // Whether they increase is the engine's check: the request is not refused for it.
        if (
          !Array.isArray(edges) ||
          edges.length < 2 ||
          !edges.every((e) => typeof e === 'number' && Number.isFinite(e))
        )
          throw invalid(`${here}.edges`, 'must be two or more numbers');
        return { op: 'bin', column, edges: edges as number[] };
      }
      case 'date_parts': {
        const parts = s['parts'] ?? ['year', 'month', 'day'];
        if (
          !Array.isArray(parts) ||
          parts.length === 0 ||
          !parts.every((p) => (DATE_PARTS as readonly unknown[]).includes(p))
        )
          throw invalid(`${here}.parts`, `must list parts of ${DATE_PARTS.join(', ')}`);
        return { op: 'date_parts', column, parts: parts as DatePart[] };
      }
      default:
        throw invalid(`${here}.op`, 'must be one_hot, scale, bin or date_parts');
    }
  });
  const fit = raw['fit_where'];
  if (fit === undefined) return { steps: parsed };
  if (
    !isObject(fit) ||
    typeof fit['column'] !== 'string' ||
    !['string', 'number', 'boolean'].includes(typeof fit['equals'])
  )
    throw invalid(`${at}.fit_where`, 'must be {"column": "...", "equals": value}');
  return {
    steps: parsed,
    fitWhere: { column: fit['column'], equals: fit['equals'] as string | number | boolean },
  };
}

export function parseOutputFormat(raw: unknown): OutputFormat {
  if (raw === undefined) return 'parquet';
  if (!(OUTPUT_FORMATS as readonly unknown[]).includes(raw))
    throw invalid('spec.output_format', `must be one of ${OUTPUT_FORMATS.join(', ')}`);
  return raw as OutputFormat;
}

// Expectation suites in GX Core 1.x's JSON format, checked before any data is read, and the gate's
// score over their results.
import { z } from 'zod';
import { dataError } from './model';

export const SEVERITIES = ['critical', 'warning', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

const column = z.string().min(1);
const mostly = z.number().min(0).max(1).optional();
const bound = z.number().nullable().optional();
const strict = z.boolean().optional();
const range = { min_value: bound, max_value: bound, strict_min: strict, strict_max: strict };
const scalar = z.union([z.string(), z.number(), z.boolean()]);

/** kwargs of every supported expectation type; any other key is refused by name. */
const KWARGS = {
  expect_column_to_exist: { column },
  expect_column_values_to_not_be_null: { column, mostly },
  expect_column_values_to_be_null: { column, mostly },
  expect_column_values_to_be_unique: { column, mostly },
  expect_column_values_to_be_in_set: { column, value_set: z.array(scalar), mostly },
  expect_column_values_to_not_be_in_set: { column, value_set: z.array(scalar), mostly },
  expect_column_values_to_be_between: { column, ...range, mostly },
  expect_column_values_to_match_regex: { column, regex: z.string(), mostly },
  expect_column_values_to_not_match_regex: { column, regex: z.string(), mostly },
  expect_column_value_lengths_to_be_between: { column, ...range, mostly },
  expect_column_values_to_be_of_type: { column, type_: z.string().min(1) },
  expect_column_values_to_be_in_type_list: { column, type_list: z.array(z.string().min(1)) },
  expect_column_mean_to_be_between: { column, ...range },
  expect_column_median_to_be_between: { column, ...range },
  expect_column_min_to_be_between: { column, ...range },
  expect_column_max_to_be_between: { column, ...range },
  expect_compound_columns_to_be_unique: { column_list: z.array(column).min(1), mostly },
  expect_table_row_count_to_be_between: { min_value: bound, max_value: bound },
  expect_table_row_count_to_equal: { value: z.number().int().min(0) },
  expect_table_columns_to_match_ordered_list: { column_list: z.array(column) },
} as const;

export type ExpectationType = keyof typeof KWARGS;
export const EXPECTATION_TYPES = Object.keys(KWARGS) as ExpectationType[];

/** Keys GX accepts on every expectation that change nothing in what is computed here. */
const IGNORED_KWARGS = new Set(['result_format', 'catch_exceptions', 'meta', 'description']);

export interface Expectation {
  type: ExpectationType;
  kwargs: Record<string, unknown>;
  severity: Severity;
}

export interface ExpectationSuite {
  name: string;
  expectations: Expectation[];
}

export interface ExpectationResult {
  type: ExpectationType;
  kwargs: Record<string, unknown>;
  severity: Severity;
  success: boolean;
  observedValue: unknown;
  /** Rows the expectation looked at (non-null values for column maps); null for aggregates. */
  elementCount: number | null;
  unexpectedCount: number | null;
  unexpectedPercent: number | null;
  unexpectedSample: unknown[];
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Parses a suite (JSON text or an object): unknown types and kwargs, wrong kwarg values and an
 * empty suite are refused with the field named (`expectations[2].kwargs.mostly`). A regex is
 * compiled by the engine that runs it (RE2 in DuckDB): an invalid one fails the gate there. Severity comes
 * from the expectation's `severity` (GX 1.x) or `meta.severity`, default critical as in GX.
 */
export function parseSuite(input: unknown): ExpectationSuite {
  let doc = input;
  if (typeof input === 'string') {
    try {
      doc = JSON.parse(input);
    } catch (err) {
      throw dataError('the expectation suite is not valid JSON', [
        { field: 'suite', reason: 'malformed_json', message: (err as Error).message },
      ]);
    }
  }
  if (!isObject(doc))
    throw dataError('the expectation suite must be a JSON object', [
      { field: 'suite', reason: 'invalid_type', message: 'expected an object' },
    ]);
  const list = doc['expectations'];
  if (!Array.isArray(list))
    throw dataError('the expectation suite has no expectations list', [
      { field: 'expectations', reason: 'required', message: 'expected an array' },
    ]);
  if (list.length === 0)
    throw dataError('the expectation suite is empty: there is nothing to gate on', [
      { field: 'expectations', reason: 'empty', message: 'at least one expectation is required' },
    ]);
  const expectations = list.map((e, i) => parseExpectation(e, `expectations[${i}]`));
  return { name: typeof doc['name'] === 'string' ? doc['name'] : '', expectations };
}

function parseExpectation(e: unknown, at: string): Expectation {
  if (!isObject(e))
    throw dataError(`${at} is not an object`, [
      { field: at, reason: 'invalid_type', message: 'expected an object' },
    ]);
  const type = e['type'] ?? e['expectation_type'];
  if (typeof type !== 'string' || !(type in KWARGS))
    throw dataError(`${at}.type: unknown expectation type ${JSON.stringify(type)}`, [
      {
        field: `${at}.type`,
        reason: 'unsupported',
        message: `supported: ${EXPECTATION_TYPES.join(', ')}`,
      },
    ]);
  const raw = isObject(e['kwargs']) ? e['kwargs'] : {};
  const kwargs = Object.fromEntries(Object.entries(raw).filter(([k]) => !IGNORED_KWARGS.has(k)));
  const parsed = z
    .object(KWARGS[type as ExpectationType])
    .strict()
    .safeParse(kwargs);
  if (!parsed.success) {
    const details = parsed.error.issues.map((issue) => ({
      field: [
        `${at}.kwargs`,
        ...issue.path.map(String),
        ...('keys' in issue ? issue.keys : []),
      ].join('.'),
      reason: issue.code,
      message: issue.message,
    }));
    throw dataError(
      `${at} (${type}): ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`,
      details,
    );
  }
  const meta = isObject(e['meta']) ? e['meta'] : {};
  const severity = e['severity'] ?? meta['severity'] ?? 'critical';
  if (!(SEVERITIES as readonly unknown[]).includes(severity))
    throw dataError(`${at}.severity must be one of ${SEVERITIES.join(', ')}`, [
      {
        field: `${at}.severity`,
        reason: 'invalid_enum_value',
        message: `got ${JSON.stringify(severity)}`,
      },
    ]);
  return { type: type as ExpectationType, kwargs: parsed.data, severity: severity as Severity };
}

export interface GateOutcome {
  score: number;
  passed: boolean;
  /** Why the gate failed: the critical expectations that failed, or the score under the threshold. */
  reason: string;
}

/** Score = passed / total; the gate fails under the threshold or on any critical failure. */
export function gate(results: ExpectationResult[], threshold: number): GateOutcome {
  if (results.length === 0) throw dataError('an empty suite cannot gate');
  const passed = results.filter((r) => r.success).length;
  const score = passed / results.length;
  const critical = results.filter((r) => !r.success && r.severity === 'critical');
  if (critical.length > 0)
    return {
      score,
      passed: false,
      reason: `critical expectation failed: ${critical.map(describe).join('; ')}`,
    };
  if (score < threshold)
    return {
      score,
      passed: false,
      reason: `quality score ${score.toFixed(3)} is under ${threshold}`,
    };
  return { score, passed: true, reason: '' };
}

const describe = (r: ExpectationResult) => {
  const target = r.kwargs['column'] ?? r.kwargs['column_list'];
  return target === undefined ? r.type : `${r.type} on ${JSON.stringify(target)}`;
};

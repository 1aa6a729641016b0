import * as z from 'zod/v4';
import { Classification, Uuid } from '../../wire-schemas';

// POST /api/v1/pipeline/jobs as exactly what the data-pipeline service accepts: a request this
// schema allows is queued (what depends on the data, such as a column a suite names, fails the
// job later with the field named), anything else is refused before it reaches the service.

/** Text as PostgreSQL can store it: no U+0000 (the gateway refuses it in any body). */
const NO_NUL = String.raw`^[^\u0000]*$`;
const Text = (min: number, max: number) => z.string().min(min).max(max).regex(new RegExp(NO_NUL));
const Column = Text(1, 200);
const Scalar = z.union([Text(0, 1000), z.number(), z.boolean()]);
const Bound = z.number().nullable().optional();
const Mostly = z.number().min(0).max(1).optional();
const Range = {
  min_value: Bound,
  max_value: Bound,
  strict_min: z.boolean().optional(),
  strict_max: z.boolean().optional(),
};

/** A file inside the inbox: relative, no `..` segment, no control characters, a known extension. */
const InboxPath = z
  .string()
  .max(1024)
  .regex(
    new RegExp(
      String.raw`^(?![/\\])(?!(.*[/\\])?\.\.([/\\]|$))[^\u0000-\u001f]*[^/\\\u0000-\u001f]\.(csv|tsv|jsonl|ndjson|parquet)$`,
    ),
  )
  .describe('A file inside the inbox (relative; .csv, .tsv, .jsonl, .ndjson or .parquet)');

const Connection = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/)
  .describe('A PostgreSQL source configured by name');
const AccountName = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/)
  .describe('An account configured by name (its secrets stay in the service configuration)');
const FieldName = z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/);
/** Pagination of a REST source, as the data-pipeline's REST connector reads it. */
const Pagination = z.union([
  z.strictObject({ style: z.literal('none') }),
  z.strictObject({ style: z.literal('link') }),
  z.strictObject({
    style: z.literal('cursor'),
    cursor_param: FieldName.optional(),
    cursor_path: FieldName.optional(),
  }),
  z.strictObject({
    style: z.literal('page'),
    page_param: FieldName.optional(),
    start: z.number().int().min(0).max(1_000_000).optional(),
    size_param: FieldName.optional(),
    size: z.number().int().min(1).max(10_000).optional(),
  }),
]);
/**
 * An absolute http(s) URL that any URL parser takes: a host name whose last label starts with a
 * letter (a numeric one is read as an IPv4 address), no `xn--` label, or a dotted IPv4 address, an optional port
 * up to 65535, then a path, query or fragment without spaces.
 */
/** Not an IDNA label (xn--): those must also be valid Punycode, which no pattern can say. */
const LABEL = '(?![Xx][Nn]--)';
const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const PORT = '(6553[0-5]|655[0-2]\\d|65[0-4]\\d{2}|6[0-4]\\d{3}|[1-5]\\d{4}|[1-9]\\d{0,3}|0)';
const HTTP_URL = new RegExp(
  `^https?://((${LABEL}[A-Za-z0-9-]+\\.)*${LABEL}[A-Za-z][A-Za-z0-9-]*|(${OCTET}\\.){3}${OCTET})(:${PORT})?([/?#][^\\s]*)?$`,
);
/** One ASCII character (a tab or printable): JSON Schema counts code points, zod UTF-16 units. */
const Delimiter = z.string().regex(/^[\t\x20-\x7e]$/);
export const Source = z.union([
  z.strictObject({
    type: z.literal('file'),
    path: InboxPath,
    delimiter: Delimiter.optional(),
  }),
  z.strictObject({
    type: z.literal('postgres'),
    connection: Connection,
    table: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/),
  }),
  z.strictObject({
    type: z.literal('postgres'),
    connection: Connection,
    query: Text(1, 10_000).regex(/^\s*([Ss][Ee][Ll][Ee][Cc][Tt]|[Ww][Ii][Tt][Hh])\s/),
  }),
  z.strictObject({
    type: z.literal('s3'),
    credentials: AccountName,
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/),
    key: Text(1, 1024).regex(
      /\.([Cc][Ss][Vv]|[Tt][Ss][Vv]|[Jj][Ss][Oo][Nn][Ll]|[Nn][Dd][Jj][Ss][Oo][Nn]|[Pp][Aa][Rr][Qq][Uu][Ee][Tt])$/,
    ),
    delimiter: Delimiter.optional(),
  }),
  z.strictObject({
    type: z.literal('rest'),
    url: z
      .string()
      .max(2048)
      .regex(HTTP_URL)
      .describe(
        'Where the JSON API is (http or https, a host name or IPv4 address); the service refuses hosts its egress allowlist does not admit',
      ),
    credentials: AccountName.optional(),
    records: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{0,200}$/)
      .optional(),
    pagination: Pagination.optional(),
    max_pages: z.number().int().min(1).max(10_000).optional(),
  }),
  z.strictObject({
    type: z.literal('upload'),
    upload_id: Uuid.describe(
      'What POST /api/v1/pipeline/uploads answered (an upload of this tenant)',
    ),
    delimiter: Delimiter.optional(),
  }),
  z.strictObject({
    type: z.literal('kafka'),
    connection: AccountName,
    topic: z.string().regex(/^[A-Za-z0-9._-]{1,249}$/),
    max_messages: z.number().int().min(1).max(10_000_000).optional(),
    max_wait_ms: z.number().int().min(100).max(3_600_000).optional(),
  }),
]);

const expectation = <T extends string, S extends z.ZodRawShape>(type: T, kwargs: S) =>
  z.strictObject({
    type: z.literal(type),
    kwargs: z.strictObject(kwargs),
    severity: z.enum(['critical', 'warning', 'info']).optional(),
    meta: z
      .strictObject({ severity: z.enum(['critical', 'warning', 'info']).optional() })
      .optional(),
    id: Text(0, 100).optional(),
  });

/** The GX Core 1.x expectation types the quality gate evaluates, with their kwargs. */
const Expectation = z.union([
  expectation('expect_column_to_exist', { column: Column }),
  expectation('expect_column_values_to_not_be_null', { column: Column, mostly: Mostly }),
  expectation('expect_column_values_to_be_null', { column: Column, mostly: Mostly }),
  expectation('expect_column_values_to_be_unique', { column: Column, mostly: Mostly }),
  expectation('expect_column_values_to_be_in_set', {
    column: Column,
    value_set: z.array(Scalar).max(1000),
    mostly: Mostly,
  }),
  expectation('expect_column_values_to_not_be_in_set', {
    column: Column,
    value_set: z.array(Scalar).max(1000),
    mostly: Mostly,
  }),
  expectation('expect_column_values_to_be_between', { column: Column, ...Range, mostly: Mostly }),
  expectation('expect_column_values_to_match_regex', {
    column: Column,
    regex: Text(0, 1000),
    mostly: Mostly,
  }),
  expectation('expect_column_values_to_not_match_regex', {
    column: Column,
    regex: Text(0, 1000),
    mostly: Mostly,
  }),
  expectation('expect_column_value_lengths_to_be_between', {
    column: Column,
    ...Range,
    mostly: Mostly,
  }),
  expectation('expect_column_values_to_be_of_type', {
    column: Column,
    type_: Text(1, 100),
  }),
  expectation('expect_column_values_to_be_in_type_list', {
    column: Column,
    type_list: z.array(Text(1, 100)).max(50),
  }),
  expectation('expect_column_mean_to_be_between', { column: Column, ...Range }),
  expectation('expect_column_median_to_be_between', { column: Column, ...Range }),
  expectation('expect_column_min_to_be_between', { column: Column, ...Range }),
  expectation('expect_column_max_to_be_between', { column: Column, ...Range }),
  expectation('expect_compound_columns_to_be_unique', {
    column_list: z.array(Column).min(1).max(50),
    mostly: Mostly,
  }),
  expectation('expect_table_row_count_to_be_between', { min_value: Bound, max_value: Bound }),
  expectation('expect_table_row_count_to_equal', { value: z.int().min(0) }),
  expectation('expect_table_columns_to_match_ordered_list', {
    column_list: z.array(Column).max(1000),
  }),
]);

const Suite = z
  .strictObject({
    name: Text(0, 200).optional(),
    id: Text(0, 100).optional(),
    expectations: z.array(Expectation).min(1).max(500),
  })
  .describe('An expectation suite in GX Core 1.x JSON (an empty one cannot gate)');

/** A strptime format with a date directive (core/normalize.ts's DATE_FORMAT, as a pattern). */
const DIRECTIVE = String.raw`%(?:-?[dmyHIMSj]|[YbBaApfgnzZ%])`;
// Literal text: the Basic Multilingual Plane without controls or surrogates, so a length is the
// same in UTF-16 units (zod) and code points (JSON Schema), and one pattern reads alike in both.
const PIECE = String.raw`(?:[\u0020-\u0024\u0026-\ud7ff\ue000-\ufffd]|${DIRECTIVE})`;
const DateFormat = z
  .string()
  .max(100)
  .regex(new RegExp(String.raw`^${PIECE}*%(?:-?[dmyj]|[YbB])${PIECE}*$`))
  .describe('strptime: %d %m %Y %y %b %B %j, with %H %M %S %f %p %z for a time');
const OnError = z
  .enum(['fail', 'null'])
  .optional()
  .describe('An unparsable value fails the job naming its row (default) or becomes null');
const THOUSANDS = ['', '.', ',', ' ', '\u00a0', "'"] as const;
/** Every decimal separator with each thousands separator other than itself, as DOUBLE or DECIMAL. */
const NumberSpec = z.union(
  (['.', ','] as const).flatMap((decimal) => {
    const locale = {
      decimal: z.literal(decimal),
      thousands: z.enum(THOUSANDS.filter((t) => t !== decimal)).optional(),
      on_error: OnError,
    };
    return [
      z.strictObject({ ...locale, as: z.literal('double').optional() }),
      z.strictObject({
        ...locale,
        as: z.literal('decimal'),
        scale: z.int().min(0).max(18).optional(),
      }),
    ];
  }),
);
const Clean = z.strictObject({
  dedupe: z
    .union([z.boolean(), z.strictObject({ keys: z.array(Column).min(1).max(50) })])
    .optional(),
  trim: z.boolean().optional(),
  redact_pii: z
    .boolean()
    .optional()
    .describe('Mask the columns the profile flags as personal data'),
  normalize: z
    .array(
      z.union([
        z.strictObject({
          column: Column,
          case: z.enum(['lower', 'upper']).optional(),
          unicode: z.literal('nfc').optional(),
        }),
        z.strictObject({
          column: Column,
          date: z
            .strictObject({ formats: z.array(DateFormat).min(1).max(20), on_error: OnError })
            .describe('Text dates to DATE (TIMESTAMP when a format has a time of day)'),
        }),
        z.strictObject({
          column: Column,
          number: NumberSpec.describe(
            'Locale numbers ("1.234,56") to DOUBLE or DECIMAL(38, scale)',
          ),
        }),
      ]),
    )
    .max(200)
    .optional(),
  impute: z
    .array(
      z.union([
        z.strictObject({ column: Column, method: z.enum(['mean', 'median', 'mode']) }),
        z.strictObject({ column: Column, method: z.literal('constant'), value: Scalar }),
      ]),
    )
    .max(200)
    .optional(),
});

const Transform = z.strictObject({
  steps: z
    .array(
      z.union([
        z.strictObject({ op: z.literal('one_hot'), column: Column }),
        z.strictObject({
          op: z.literal('scale'),
          column: Column,
          method: z.enum(['standard', 'minmax']).optional(),
        }),
        z.strictObject({
          op: z.literal('bin'),
          column: Column,
          edges: z.array(z.number()).min(2).max(100),
        }),
        z.strictObject({
          op: z.literal('date_parts'),
          column: Column,
          parts: z
            .array(z.enum(['year', 'month', 'day', 'dow', 'hour']))
            .min(1)
            .max(5)
            .optional(),
        }),
      ]),
    )
    .min(1)
    .max(100),
  fit_where: z.strictObject({ column: Column, equals: Scalar }).optional(),
});

const specShape = {
  expectation_suite: Suite.optional(),
  expectation_suite_name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/)
    .optional()
    .describe(
      "A suite stored in the tenant's ge-suites/ in object storage (with expectation_suite: both run)",
    ),
  quality_threshold: z.number().min(0).max(1).optional(),
  clean: Clean.optional(),
  output_format: z.enum(['parquet', 'csv', 'jsonl']).optional(),
};
const Spec = z.strictObject({ ...specShape, transform: Transform.optional() });

const common = {
  source: Source,
  dataset: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/)
    .optional()
    .describe('Dataset the versions go to (default: from the source)'),
  data_context: z
    .strictObject({
      jurisdiction: Text(1, 64),
      classification: Classification.default('none'),
    })
    .optional(),
};

/** A transform job must name its steps; the other types may (orchestrate transforms then). */
export const JobRequest = z.union([
  z.strictObject({
    type: z
      .enum(['ingest', 'profile', 'clean', 'orchestrate'])
      .describe(
        'orchestrate runs ingest, profile, clean, transform (with spec.transform), the quality gate (with spec.expectation_suite) and version',
      ),
    ...common,
    spec: Spec.optional(),
  }),
  z.strictObject({
    type: z.literal('transform'),
    ...common,
    spec: z.strictObject({ ...specShape, transform: Transform }),
  }),
]);

// Conformance with GX Core: the same suite on the same CSV, run by great-expectations (PyPI, its
// pandas engine, installed by tools/ci/great-expectations.sh and cached by version) and by the
// service's DuckDB quality gate, must agree on success and unexpected_count for every expectation.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DuckDbEngine } from '../../src/adapters/duckdb/engine';
import { EXPECTATION_TYPES, parseSuite } from '../../src/core/suite';

const root = path.resolve(__dirname, '..', '..', '..', '..');
const script = path.resolve(__dirname, '..', 'conformance', 'gx_validate.py');

const cities = ['Berlin', 'Paris', 'London', 'Madrid', 'Rome'];
/** 40 rows (42 with the repeats below): duplicates, nulls in numbers and text, a few malformed emails, decimals and negatives. */
const ROWS = Array.from({ length: 40 }, (_, i) => {
  const id = i < 37 ? i + 1 : i - 10; // 27..29 repeat
  const email = i % 9 === 4 ? `user${i}-at-example.com` : `user${i}@example.com`;
  const amount = i % 7 === 3 ? '' : String((i * 37) % 100) + (i % 2 ? '.5' : '.25');
  const score = i % 11 === 5 ? '' : String(((i * 13) % 50) - 5);
  const city = i % 10 === 9 ? '' : cities[i % cities.length]!;
  const code = i % 6 === 0 ? 'AB-' + String(i).padStart(3, '0') : 'X' + String(i);
  return [id, email, amount, score, city, code].join(',');
});
/** Two rows repeated (one with an empty city), so compound uniqueness meets duplicates and a null. */
const CSV = ['id,email,amount,score,city,code', ...ROWS, ROWS[0], ROWS[9]].join('\n') + '\n';

const SUITE = {
  name: 'conformance',
  expectations: [
    { type: 'expect_column_to_exist', kwargs: { column: 'amount' } },
    { type: 'expect_column_to_exist', kwargs: { column: 'missing' } },
    { type: 'expect_column_values_to_not_be_null', kwargs: { column: 'amount' } },
    { type: 'expect_column_values_to_not_be_null', kwargs: { column: 'amount', mostly: 0.8 } },
    { type: 'expect_column_values_to_not_be_null', kwargs: { column: 'id' } },
    { type: 'expect_column_values_to_be_null', kwargs: { column: 'score' } },
    { type: 'expect_column_values_to_be_unique', kwargs: { column: 'id' } },
    { type: 'expect_column_values_to_be_unique', kwargs: { column: 'email' } },
    { type: 'expect_column_values_to_be_unique', kwargs: { column: 'id', mostly: 0.8 } },
    {
      type: 'expect_column_values_to_be_in_set',
      kwargs: { column: 'city', value_set: ['Berlin', 'Paris', 'London'] },
    },
    { type: 'expect_column_values_to_be_in_set', kwargs: { column: 'city', value_set: cities } },
    {
      type: 'expect_column_values_to_not_be_in_set',
      kwargs: { column: 'city', value_set: ['Rome'] },
    },
    {
      type: 'expect_column_values_to_be_between',
      kwargs: { column: 'amount', min_value: 10, max_value: 90 },
    },
    {
      type: 'expect_column_values_to_be_between',
      kwargs: { column: 'amount', min_value: 10, max_value: 90, mostly: 0.7 },
    },
    {
      type: 'expect_column_values_to_be_between',
      kwargs: { column: 'score', min_value: 0, strict_min: true },
    },
    {
      type: 'expect_column_values_to_be_between',
      kwargs: { column: 'score', max_value: 40, strict_max: true },
    },
    {
      type: 'expect_column_values_to_match_regex',
      kwargs: { column: 'email', regex: '^[^@]+@example\\.com$' },
    },
    {
      type: 'expect_column_values_to_match_regex',
      kwargs: { column: 'code', regex: 'AB-\\d{3}', mostly: 0.1 },
    },
    { type: 'expect_column_values_to_not_match_regex', kwargs: { column: 'code', regex: '^X1' } },
    {
      type: 'expect_column_value_lengths_to_be_between',
      kwargs: { column: 'code', min_value: 3, max_value: 5 },
    },
    { type: 'expect_column_values_to_be_of_type', kwargs: { column: 'amount', type_: 'float64' } },
    { type: 'expect_column_values_to_be_of_type', kwargs: { column: 'id', type_: 'int64' } },
    { type: 'expect_column_values_to_be_of_type', kwargs: { column: 'city', type_: 'int64' } },
    {
      type: 'expect_column_values_to_be_in_type_list',
      kwargs: { column: 'amount', type_list: ['int64', 'float64'] },
    },
    {
      type: 'expect_column_values_to_be_in_type_list',
      kwargs: { column: 'email', type_list: ['int64', 'float64'] },
    },
    {
      type: 'expect_column_mean_to_be_between',
      kwargs: { column: 'amount', min_value: 40, max_value: 60 },
    },
    { type: 'expect_column_mean_to_be_between', kwargs: { column: 'amount', min_value: 60 } },
    {
      type: 'expect_column_median_to_be_between',
      kwargs: { column: 'score', min_value: 10, max_value: 30 },
    },
    {
      type: 'expect_column_min_to_be_between',
      kwargs: { column: 'score', min_value: -5, max_value: 0 },
    },
    { type: 'expect_column_max_to_be_between', kwargs: { column: 'amount', max_value: 90 } },
    { type: 'expect_compound_columns_to_be_unique', kwargs: { column_list: ['id', 'city'] } },
    { type: 'expect_compound_columns_to_be_unique', kwargs: { column_list: ['code', 'email'] } },
    {
      type: 'expect_compound_columns_to_be_unique',
      kwargs: { column_list: ['id', 'city'], mostly: 0.9 },
    },
    { type: 'expect_compound_columns_to_be_unique', kwargs: { column_list: ['city', 'score'] } },
    { type: 'expect_table_row_count_to_be_between', kwargs: { min_value: 10, max_value: 50 } },
    { type: 'expect_table_row_count_to_be_between', kwargs: { min_value: 43 } },
    { type: 'expect_table_row_count_to_equal', kwargs: { value: 42 } },
    {
      type: 'expect_table_columns_to_match_ordered_list',
      kwargs: { column_list: ['id', 'email', 'amount', 'score', 'city', 'code'] },
    },
    {
      type: 'expect_table_columns_to_match_ordered_list',
      kwargs: { column_list: ['id', 'amount'] },
    },
  ],
};

interface GxLine {
  type: string;
  success: boolean;
  unexpected_count: number | null;
  observed_value: unknown;
}

let dir: string;
let python: string;
let engine: DuckDbEngine;

beforeAll(async () => {
  // Installs GX Core from PyPI on the first run (minutes), then answers from the cache.
  python = execFileSync('bash', [path.join(root, 'tools/ci/great-expectations.sh')], {
    encoding: 'utf8',
    timeout: 900_000,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
    .trim()
    .split('\n')
    .pop()!;
  dir = await mkdtemp(path.join(tmpdir(), 'dpl-gx-'));
  engine = new DuckDbEngine({ memoryLimit: '256MB', threads: 1, tempDir: path.join(dir, 'spill') });
}, 900_000);

afterAll(async () => {
  await engine?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('covers every expectation type the gate supports', () => {
  expect(new Set(SUITE.expectations.map((e) => e.type))).toEqual(new Set(EXPECTATION_TYPES));
});

it('agrees with GX Core on success and unexpected counts for every expectation', async () => {
  const csv = path.join(dir, 'data.csv');
  const suitePath = path.join(dir, 'suite.json');
  await writeFile(csv, CSV);
  await writeFile(suitePath, JSON.stringify(SUITE));
  const { stdout } = await promisify(execFile)(python, [script, csv, suitePath], {
    timeout: 120_000,
    maxBuffer: 16 * 1024 * 1024,
    env: { ...process.env, TQDM_DISABLE: '1', GX_ANALYTICS_ENABLED: 'false' },
  });
  const gx = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as GxLine);
  expect(gx).toHaveLength(SUITE.expectations.length);

  const parquet = path.join(dir, 'data.parquet');
  await engine.ingest({ kind: 'file', path: csv, format: 'csv' }, parquet);
  const ours = await engine.validate(parquet, parseSuite(SUITE));

  const compare = (rows: { success: boolean; unexpected: number | null }[]) =>
    rows.map(
      (r, i) =>
        `${i} ${SUITE.expectations[i]!.type} success=${r.success} unexpected=${r.unexpected}`,
    );
  expect(
    compare(
      ours.map((r, i) => ({
        success: r.success,
        unexpected: gx[i]!.unexpected_count === null ? null : r.unexpectedCount,
      })),
    ),
  ).toEqual(compare(gx.map((g) => ({ success: g.success, unexpected: g.unexpected_count }))));
  // Both sides found failures and passes: the comparison is not of two all-true lists.
  expect(gx.filter((g) => g.success).length).toBeGreaterThan(5);
  expect(gx.filter((g) => !g.success).length).toBeGreaterThan(5);
  // The aggregate expectations observed the same values.
  ours.forEach((r, i) => {
    const observed = gx[i]!.observed_value;
    if (typeof observed === 'number' && typeof r.observedValue === 'number')
      expect(r.observedValue).toBeCloseTo(observed, 6);
  });
}, 180_000);

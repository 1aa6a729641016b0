import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseSuite } from '../../core/suite';
import { engineScratch, failureOf } from './spec-scratch';

const scratch = engineScratch('dpl-engine');

const PEOPLE = [
  'id,email,phone,amount,city,joined',
  '1,ann@example.com,+49 30 1234567,10.5,Berlin,2024-01-02',
  '2,bob@example.org,+49 30 7654321,20,Berlin,2024-02-03',
  '3,cy@example.net,+33 1 23456789,,Paris,2024-03-04',
  '4,dee@example.com,+44 20 7946000,40,London,2024-04-05',
  '4,dee@example.com,+44 20 7946000,40,London,2024-04-05',
].join('\n');

describe('DuckDbEngine', () => {
  it('ingests a CSV into Parquet and profiles every column', async () => {
    const out = path.join(scratch.dir, 'people.parquet');
    const { rows, bytes } = await scratch.engine.ingest(
      { kind: 'file', path: await scratch.csv('people.csv', PEOPLE), format: 'csv' },
      out,
    );
    expect(rows).toBe(5);
    expect(bytes).toBeGreaterThan(0);
    const p = await scratch.engine.profile(out);
    expect(p.rowCount).toBe(5);
    expect(p.duplicateRows).toBe(1);
    const col = (n: string) => p.columns.find((c) => c.name === n)!;
    expect(col('email')).toMatchObject({
      type: 'VARCHAR',
      semanticType: 'email',
      personalData: true,
      distinctCount: 4,
      nullCount: 0,
    });
    expect(col('phone')).toMatchObject({ semanticType: 'phone', personalData: true });
    expect(col('joined')).toMatchObject({ semanticType: 'date', personalData: false });
    const amount = col('amount');
    expect(amount).toMatchObject({
      type: 'DOUBLE',
      nullCount: 1,
      min: 10.5,
      max: 40,
      distinctCount: 3,
    });
    expect(amount.mean).toBeCloseTo(27.625);
    expect(amount.stddev).toBeCloseTo(14.806, 2);
    expect(amount.quantiles!['p50']).toBeCloseTo(30);
    expect(amount.histogram!.reduce((s, b) => s + b.count, 0)).toBe(4);
    expect(amount.histogram!.at(-1)).toMatchObject({ upper: 40, count: 2 });
    expect(col('city').topValues[0]).toEqual({ value: 'Berlin', count: 2 });
  });

  it('ingests JSON lines and Parquet, and refuses a malformed JSON record', async () => {
    const jsonl = await scratch.csv('events.jsonl', '{"id":1,"kind":"a"}\n{"id":2,"kind":"b"}\n');
    const out = path.join(scratch.dir, 'events.parquet');
    expect(
      (await scratch.engine.ingest({ kind: 'file', path: jsonl, format: 'jsonl' }, out)).rows,
    ).toBe(2);
    const again = await scratch.engine.ingest(
      { kind: 'file', path: out, format: 'parquet' },
      path.join(scratch.dir, 'events2.parquet'),
    );
    expect(again.rows).toBe(2);
    const broken = await scratch.csv('broken.jsonl', '{"id":1}\n{"id":2,\n');
    const err = await failureOf(
      scratch.engine.ingest(
        { kind: 'file', path: broken, format: 'jsonl' },
        path.join(scratch.dir, 'broken.parquet'),
      ),
    );
    expect(err.code).toBe('validation.unprocessable');
    expect(err.message).toContain('could not be read');
  });

  it('refuses a row with too many fields, naming its line', async () => {
    const bad = await scratch.csv('bad.csv', 'a,b\n1,2\n3,4\n5,6,7\n');
    const err = await failureOf(
      scratch.engine.ingest(
        { kind: 'file', path: bad, format: 'csv' },
        path.join(scratch.dir, 'bad.parquet'),
      ),
    );
    expect(err.code).toBe('validation.unprocessable');
    expect(err.details?.some((d) => d.field === 'line 4')).toBe(true);
  });

  it('refuses a value of another type further down the file, naming the line and column', async () => {
    // Past the rows the types are inferred from (20,480), a text in a numeric column.
    const rows = [
      'id,price',
      ...Array.from({ length: 21_000 }, (_, i) => `${i},${i}`),
      '21000,abc',
    ];
    const err = await failureOf(
      scratch.engine.ingest(
        {
          kind: 'file',
          path: await scratch.csv('drift.csv', rows.join('\n')),
          format: 'csv',
          csv: { delimiter: ',' },
        },
        path.join(scratch.dir, 'drift.parquet'),
      ),
    );
    expect(err.message).toContain('row 21001 (line 21002), column price: "abc" is not a BIGINT');
    expect(err.details?.[0]).toMatchObject({
      field: 'row 21001, column price',
      reason: 'schema_drift',
    });
  });

  it('types date-and-time text as TIMESTAMP, keeping the time of day (not DATE)', async () => {
    const out = path.join(scratch.dir, 'times.parquet');
    await scratch.engine.ingest(
      {
        kind: 'file',
        path: await scratch.csv(
          'times.csv',
          'day,at\n2024-03-01,2024-03-01 09:32:14\n2024-03-02,2024-03-02 23:59:59\n',
        ),
        format: 'csv',
      },
      out,
    );
    const p = await scratch.engine.profile(out);
    expect(p.columns.map((c) => [c.name, c.type])).toEqual([
      ['day', 'DATE'],
      ['at', 'TIMESTAMP'],
    ]);
    expect(p.columns[1]!.max).toBe('2024-03-02 23:59:59');
  });

  it('refuses a CSV read with the wrong delimiter', async () => {
    const semi = await scratch.csv('semi.csv', 'a;b;c\n1;2;3\n4;5;6\n');
    const err = await failureOf(
      scratch.engine.ingest(
        { kind: 'file', path: semi, format: 'csv', csv: { delimiter: ',' } },
        path.join(scratch.dir, 'semi.parquet'),
      ),
    );
    expect(err.details?.[0]).toMatchObject({
      field: 'source.delimiter',
      reason: 'wrong_delimiter',
    });
  });

  it('evaluates expectations with GX counting (nulls ignored, mostly, duplicates)', async () => {
    const out = path.join(scratch.dir, 'people.parquet');
    const results = await scratch.engine.validate(
      out,
      parseSuite({
        expectations: [
          { type: 'expect_column_values_to_not_be_null', kwargs: { column: 'amount' } },
          {
            type: 'expect_column_values_to_not_be_null',
            kwargs: { column: 'amount', mostly: 0.8 },
          },
          { type: 'expect_column_values_to_be_unique', kwargs: { column: 'id' } },
          {
            type: 'expect_column_values_to_be_in_set',
            kwargs: { column: 'city', value_set: ['Berlin', 'Paris'] },
          },
          {
            type: 'expect_column_values_to_be_between',
            kwargs: { column: 'amount', min_value: 0, max_value: 20 },
          },
          {
            type: 'expect_column_values_to_match_regex',
            kwargs: { column: 'email', regex: '@example\\.com$' },
          },
          { type: 'expect_table_row_count_to_be_between', kwargs: { min_value: 1, max_value: 10 } },
          {
            type: 'expect_column_values_to_be_of_type',
            kwargs: { column: 'amount', type_: 'float64' },
          },
          {
            type: 'expect_column_mean_to_be_between',
            kwargs: { column: 'amount', min_value: 27, max_value: 28 },
          },
          { type: 'expect_compound_columns_to_be_unique', kwargs: { column_list: ['id', 'city'] } },
        ],
      }),
    );
    expect(results.map((r) => [r.success, r.unexpectedCount])).toEqual([
      [false, 1],
      [true, 1],
      [false, 2],
      [false, 2],
      [false, 2],
      [false, 2],
      [true, null],
      [true, null],
      [true, null],
      [false, 2],
    ]);
    expect(results[3]!.unexpectedSample).toEqual(['London', 'London']);
    expect(results[4]!.unexpectedPercent).toBe(50);
  });

  it('fails an expectation whose regex does not compile, naming it', async () => {
    const err = await failureOf(
      scratch.engine.validate(
        path.join(scratch.dir, 'people.parquet'),
        parseSuite({
          expectations: [
            {
              type: 'expect_column_values_to_match_regex',
              kwargs: { column: 'email', regex: '(' },
            },
          ],
        }),
      ),
    );
    expect(err.details?.[0]).toMatchObject({ field: 'expectations[0]', reason: 'not_applicable' });
  });

  it('refuses a suite naming a column the data lacks', async () => {
    const err = await failureOf(
      scratch.engine.validate(
        path.join(scratch.dir, 'people.parquet'),
        parseSuite({
          expectations: [{ type: 'expect_column_values_to_be_unique', kwargs: { column: 'nope' } }],
        }),
      ),
    );
    expect(err.details?.[0]).toMatchObject({
      field: 'expectations[0].kwargs.column',
      reason: 'unknown_column',
    });
  });

  it('transforms with parameters fitted on the training rows only, and exports CSV', async () => {
    const src = path.join(scratch.dir, 'features.parquet');
    const rows = [
      'split,city,n,age,day',
      'train,Berlin,10,5,2024-01-15',
      'train,Paris,20,30,2024-02-29',
      'train,Berlin,30,70,2024-03-01',
      'test,Rome,1000,18,2024-12-31',
    ];
    await scratch.engine.ingest(
      { kind: 'file', path: await scratch.csv('features.csv', rows.join('\n')), format: 'csv' },
      src,
    );
    const out = path.join(scratch.dir, 'features-out.parquet');
    const { rows: n, fitted } = await scratch.engine.transform(src, out, {
      steps: [
        { op: 'one_hot', column: 'city' },
        { op: 'scale', column: 'n', method: 'standard' },
        { op: 'scale', column: 'n', method: 'minmax' },
        { op: 'bin', column: 'age', edges: [0, 18, 65] },
        { op: 'date_parts', column: 'day', parts: ['year', 'month', 'dow'] },
      ],
      fitWhere: { column: 'split', equals: 'train' },
    });
    expect(n).toBe(4);
    // Rome is a test row: it is no category, and 1000 does not move the mean.
    expect(fitted[0]).toEqual({ op: 'one_hot', column: 'city', categories: ['Berlin', 'Paris'] });
    expect(fitted[1]).toMatchObject({
      op: 'scale',
      method: 'standard',
      mean: 20,
      min: 10,
      max: 30,
    });
    const csvOut = path.join(scratch.dir, 'features.csv.out');
    await scratch.engine.export(out, csvOut, 'csv');
    const lines = (await readFile(csvOut, 'utf8')).trim().split('\n');
    expect(lines[0]).toBe(
      'split,city,n,age,day,city_Berlin,city_Paris,n_standard,n_minmax,age_bin,day_year,day_month,day_dow',
    );
    // Scaled with the training rows' parameters: (1000 - 20) / std and (1000 - 10) / 20.
    const test = lines[4]!.split(',');
    expect(test.slice(0, 7)).toEqual(['test', 'Rome', '1000', '18', '2024-12-31', '0', '0']);
    expect(Number(test[7])).toBeCloseTo(980 / Math.sqrt(200 / 3));
    expect(Number(test[8])).toBeCloseTo(49.5);
    expect(test.slice(9)).toEqual(['1', '2024', '12', '2']);
    expect(lines[3]!.split(',')[9]).toBe(''); // 70 is past the last edge: no bin
    const edges = await failureOf(
      scratch.engine.transform(src, out, { steps: [{ op: 'bin', column: 'age', edges: [5, 1] }] }),
    );
    expect(edges.details?.[0]).toMatchObject({
      field: 'spec.transform.steps[0].edges',
      reason: 'not_increasing',
    });
    const err = await failureOf(
      scratch.engine.transform(src, out, {
        steps: [{ op: 'scale', column: 'city', method: 'minmax' }],
      }),
    );
    expect(err.details?.[0]).toMatchObject({
      field: 'spec.transform.steps[0].column',
      reason: 'not_numeric',
    });
  });

  it('cleans: normalises case and Unicode, imputes with the value recorded', async () => {
    const src = path.join(scratch.dir, 'messy.parquet');
    const text = 'name,n,city\n Cafe\u0301 ,1,berlin\nANN,,Berlin\nbob,3,\nbob,3,paris\n';
    await scratch.engine.ingest(
      { kind: 'file', path: await scratch.csv('messy.csv', text), format: 'csv' },
      src,
    );
    const out = path.join(scratch.dir, 'messy-clean.parquet');
    const { rows, steps } = await scratch.engine.clean(src, out, {
      dedupe: false,
      normalize: [
        { column: 'name', case: 'lower', unicode: 'nfc' },
        { column: 'city', case: 'lower' },
      ],
      impute: [
        { column: 'n', method: 'mean' },
        { column: 'city', method: 'mode' },
      ],
    });
    expect(rows).toBe(4);
    expect(steps.slice(1)).toEqual([
      { step: 'normalize', column: 'name', case: 'lower', unicode: 'nfc' },
      { step: 'normalize', column: 'city', case: 'lower' },
      { step: 'impute', column: 'n', method: 'mean', value: 7 / 3 },
      { step: 'impute', column: 'city', method: 'mode', value: 'berlin' },
    ]);
    const p = await scratch.engine.profile(out);
    const col = (n: string) => p.columns.find((c) => c.name === n)!;
    expect(
      col('name')
        .topValues.map((t) => t.value)
        .sort(),
    ).toEqual(['ann', 'bob', 'caf\u00e9']);
    expect(col('n').nullCount).toBe(0);
    expect(col('city')).toMatchObject({
      nullCount: 0,
      topValues: [
        { value: 'berlin', count: 3 },
        { value: 'paris', count: 1 },
      ],
    });
    const err = await failureOf(
      scratch.engine.clean(src, out, { impute: [{ column: 'city', method: 'median' }] }),
    );
    expect(err.details?.[0]).toMatchObject({
      field: 'spec.clean.impute[0].method',
      reason: 'not_numeric',
    });
  });

  it('cleans: masks the columns flagged as personal data, and records them', async () => {
    const src = path.join(scratch.dir, 'people-clean-src.parquet');
    await scratch.engine.ingest(
      { kind: 'file', path: await scratch.csv('people2.csv', PEOPLE), format: 'csv' },
      src,
    );
    const out = path.join(scratch.dir, 'people-redacted.parquet');
    const { steps } = await scratch.engine.clean(src, out, { redact_pii: true, dedupe: false });
    expect(steps.at(-1)).toEqual({
      step: 'redact_pii',
      columns: [
        { column: 'email', semantic_type: 'email' },
        { column: 'phone', semantic_type: 'phone' },
      ],
    });
    const p = await scratch.engine.profile(out);
    expect(p.columns.find((c) => c.name === 'email')!.topValues).toEqual([
      { value: '[redacted]', count: 5 },
    ]);
    expect(p.columns.find((c) => c.name === 'city')!.topValues[0]).toEqual({
      value: 'Berlin',
      count: 2,
    });
  });

  it('cleans: trims text and drops duplicates, exactly or by key', async () => {
    const src = path.join(scratch.dir, 'dirty.parquet');
    await scratch.engine.ingest(
      {
        kind: 'file',
        path: await scratch.csv('dirty.csv', 'k,v\n1, a \n1,a\n2,b\n2,c\n'),
        format: 'csv',
      },
      src,
    );
    const exact = await scratch.engine.clean(src, path.join(scratch.dir, 'clean1.parquet'), {});
    expect(exact.rows).toBe(3);
    expect(exact.steps).toEqual([
      { step: 'trim', columns: ['v'] },
      { step: 'dedupe', mode: 'exact' },
    ]);
    const byKey = await scratch.engine.clean(src, path.join(scratch.dir, 'clean2.parquet'), {
      dedupe: { keys: ['k'] },
    });
    expect(byKey.rows).toBe(2);
    const p = await scratch.engine.profile(path.join(scratch.dir, 'clean2.parquet'));
    expect(p.columns[1]!.topValues.map((t) => t.value).sort()).toEqual(['a', 'b']);
  });
});

import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CleanSpec } from '../../core/ports';
import { engineScratch, failureOf } from './spec-scratch';

// Date and number normalisation in the clean stage, on DuckDB: text to DATE/TIMESTAMP and
// locale numbers to DOUBLE/DECIMAL; unparsable values fail the job naming row and column, or
// become null when the spec says so, counted in the recorded step either way.

const scratch = engineScratch('dpl-normalize');

/** Ingests `;`-delimited text and cleans it; answers the rows (as JSON), types and steps. */
async function cleaned(name: string, text: string, spec: CleanSpec) {
  const src = path.join(scratch.dir, `${name}.csv`);
  await writeFile(src, text);
  const parquet = path.join(scratch.dir, `${name}.parquet`);
  await scratch.engine.ingest(
    { kind: 'file', path: src, format: 'csv', csv: { delimiter: ';' } },
    parquet,
  );
  const out = path.join(scratch.dir, `${name}-clean.parquet`);
  const { steps } = await scratch.engine.clean(parquet, out, { dedupe: false, ...spec });
  const jsonl = path.join(scratch.dir, `${name}.jsonl`);
  await scratch.engine.export(out, jsonl, 'jsonl');
  const rows = (await readFile(jsonl, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const profile = await scratch.engine.profile(out);
  const types = Object.fromEntries(profile.columns.map((c) => [c.name, c.type]));
  return { rows, types, steps: steps.slice(1) };
}

const DATES = 'id;d\n1;31/12/2024\n2;2024-01-05\n3;\n4; 5/1/2023 \n';

describe('clean: normalize dates', () => {
  it('parses text dates by the first format that fits, into ISO DATE, and records the step', async () => {
    const { rows, types, steps } = await cleaned('dates', DATES, {
      normalize: [{ column: 'd', date: { formats: ['%d/%m/%Y', '%Y-%m-%d'] } }],
    });
    expect(types['d']).toBe('DATE');
    expect(rows.map((r) => r['d'])).toEqual(['2024-12-31', '2024-01-05', null, '2023-01-05']);
    expect(steps).toEqual([
      {
        step: 'normalize',
        column: 'd',
        date: { formats: ['%d/%m/%Y', '%Y-%m-%d'], to: 'DATE' },
        on_error: 'fail',
        unparsed: 0,
      },
    ]);
  });

  it('yields TIMESTAMP when a format has a time of day', async () => {
    const { rows, types } = await cleaned('stamps', 'id;t\n1;05.01.2024 13:45\n2;x\n', {
      normalize: [{ column: 't', date: { formats: ['%d.%m.%Y %H:%M'], on_error: 'null' } }],
    });
    expect(types['t']).toBe('TIMESTAMP');
    expect(String(rows[0]!['t'])).toMatch(/^2024-01-05[ T]13:45:00/);
    expect(rows[1]!['t']).toBeNull();
  });

  it('fails naming the first unparsable row and the column, or makes them null when asked', async () => {
    const text = 'id;d\n1;31/12/2024\n2;31/02/2024\n3;tomorrow\n';
    const err = await failureOf(
      cleaned('bad-dates', text, { normalize: [{ column: 'd', date: { formats: ['%d/%m/%Y'] } }] }),
    );
    expect(err.code).toBe('validation.unprocessable');
    expect(err.message).toContain('row 2 of column "d" is "31/02/2024"');
    expect(err.message).toContain('2 such values');
    expect(err.details?.[0]).toMatchObject({
      field: 'spec.clean.normalize[0]',
      reason: 'unparsable',
    });
    const lenient = await cleaned('bad-dates-null', text, {
      normalize: [{ column: 'd', date: { formats: ['%d/%m/%Y'], on_error: 'null' } }],
    });
    expect(lenient.rows.map((r) => r['d'])).toEqual(['2024-12-31', null, null]);
    expect(lenient.steps[0]).toMatchObject({ on_error: 'null', unparsed: 2 });
  });
});

describe('clean: normalize numbers', () => {
  const MONEY = 'id;amount\n1;1.234,56\n2;-7,5\n3;12\n4;\n5;1.234.567\n';

  it('parses locale numbers (German: "." thousands, "," decimal) into DOUBLE', async () => {
    const { rows, types, steps } = await cleaned('money', MONEY, {
      normalize: [{ column: 'amount', number: { decimal: ',', thousands: '.' } }],
      impute: [{ column: 'amount', method: 'constant', value: 0 }],
    });
    expect(types['amount']).toBe('DOUBLE');
    expect(rows.map((r) => r['amount'])).toEqual([1234.56, -7.5, 12, 0, 1234567]);
    expect(steps[0]).toEqual({
      step: 'normalize',
      column: 'amount',
      number: { decimal: ',', thousands: '.', to: 'DOUBLE' },
      on_error: 'fail',
      unparsed: 0,
    });
  });

  it('into DECIMAL(38, scale), with Swiss apostrophes', async () => {
    const { rows, types } = await cleaned('chf', "id;p\n1;1'234.50\n2;99.999\n", {
      normalize: [
        { column: 'p', number: { decimal: '.', thousands: "'", as: 'decimal', scale: 2 } },
      ],
    });
    expect(types['p']).toBe('DECIMAL(38,2)');
    expect(rows.map((r) => Number(r['p']))).toEqual([1234.5, 100]);
  });

  it('does not guess at misplaced separators: a job error names the row, or null', async () => {
    const text = 'id;amount\n1;1.234,5\n2;12.34,5\n3;1,2,3\n4;abc\n';
    const err = await failureOf(
      cleaned('bad-money', text, {
        normalize: [{ column: 'amount', number: { decimal: ',', thousands: '.' } }],
      }),
    );
    expect(err.message).toContain('row 2 of column "amount" is "12.34,5"');
    expect(err.message).toContain('3 such values');
    const lenient = await cleaned('bad-money-null', text, {
      normalize: [{ column: 'amount', number: { decimal: ',', thousands: '.', on_error: 'null' } }],
    });
    expect(lenient.rows.map((r) => r['amount'])).toEqual([1234.5, null, null, null]);
  });

  it('names a column the data lacks', async () => {
    const err = await failureOf(
      cleaned('no-col', MONEY, { normalize: [{ column: 'price', number: { decimal: ',' } }] }),
    );
    expect(err.details?.[0]).toMatchObject({
      field: 'spec.clean.normalize[0].column',
      reason: 'unknown_column',
    });
  });
});

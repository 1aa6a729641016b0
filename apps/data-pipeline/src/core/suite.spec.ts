import { AionError } from '@aion/errors';
import { gate, parseSuite, type ExpectationResult } from './suite';

const refusal = (input: unknown): AionError => {
  try {
    parseSuite(input);
  } catch (err) {
    return err as AionError;
  }
  throw new Error('the suite was accepted');
};

const result = (
  success: boolean,
  severity: ExpectationResult['severity'] = 'warning',
): ExpectationResult => ({
  type: 'expect_column_values_to_not_be_null',
  kwargs: { column: 'a' },
  severity,
  success,
  observedValue: null,
  elementCount: 1,
  unexpectedCount: success ? 0 : 1,
  unexpectedPercent: success ? 0 : 100,
  unexpectedSample: [],
});

describe('parseSuite', () => {
  it('reads a GX 1.x suite with severities, mostly and the kwargs GX ignores here', () => {
    const suite = parseSuite(
      JSON.stringify({
        name: 'orders',
        expectations: [
          {
            type: 'expect_column_values_to_not_be_null',
            kwargs: { column: 'id', mostly: 0.95 },
            severity: 'warning',
          },
          {
            type: 'expect_column_values_to_be_between',
            kwargs: { column: 'n', min_value: 0, max_value: null, result_format: 'SUMMARY' },
          },
          {
            type: 'expect_compound_columns_to_be_unique',
            kwargs: { column_list: ['a', 'b'] },
            meta: { severity: 'info' },
          },
        ],
      }),
    );
    expect(suite.name).toBe('orders');
    expect(suite.expectations.map((e) => e.severity)).toEqual(['warning', 'critical', 'info']);
    expect(suite.expectations[1]!.kwargs).toEqual({ column: 'n', min_value: 0, max_value: null });
  });

  it('refuses text that is not JSON, naming the suite', () => {
    const err = refusal('{"expectations": [');
    expect(err.code).toBe('validation.unprocessable');
    expect(err.details?.[0]).toMatchObject({ field: 'suite', reason: 'malformed_json' });
  });

  it('refuses an empty suite instead of dividing by zero', () => {
    expect(refusal({ expectations: [] }).details?.[0]).toMatchObject({
      field: 'expectations',
      reason: 'empty',
    });
    expect(() => gate([], 0.8)).toThrow(AionError);
  });

  it('names an unknown expectation type and its position', () => {
    const err = refusal({
      expectations: [
        { type: 'expect_column_to_exist', kwargs: { column: 'a' } },
        { type: 'expect_column_values_to_be_purple', kwargs: { column: 'a' } },
      ],
    });
    expect(err.message).toContain('expectations[1].type');
    expect(err.details?.[0]?.field).toBe('expectations[1].type');
  });

  it('names an unknown or ill-typed kwarg', () => {
    expect(
      refusal({
        expectations: [
          { type: 'expect_column_values_to_not_be_null', kwargs: { column: 'a', colour: 1 } },
        ],
      }).details?.[0]?.field,
    ).toBe('expectations[0].kwargs.colour');
    expect(
      refusal({
        expectations: [
          { type: 'expect_column_values_to_not_be_null', kwargs: { column: 'a', mostly: 2 } },
        ],
      }).details?.[0]?.field,
    ).toBe('expectations[0].kwargs.mostly');
    expect(
      refusal({
        expectations: [
          { type: 'expect_column_to_exist', kwargs: { column: 'a' }, severity: 'fatal' },
        ],
      }).details?.[0]?.field,
    ).toBe('expectations[0].severity');
  });
});

describe('gate', () => {
  it('passes at or above the threshold and fails under it', () => {
    const five = [true, true, true, true, false].map((s) => result(s));
    expect(gate(five, 0.8)).toEqual({ score: 0.8, passed: true, reason: '' });
    const out = gate(five, 0.81);
    expect(out.passed).toBe(false);
    expect(out.reason).toContain('0.800');
  });

  it('fails on a critical failure whatever the score', () => {
    const out = gate([...Array(9).fill(result(true)), result(false, 'critical')], 0.5);
    expect(out).toMatchObject({ score: 0.9, passed: false });
    expect(out.reason).toContain(
      'critical expectation failed: expect_column_values_to_not_be_null on "a"',
    );
  });
});

import type { AionError } from '@aion/errors';
import { parseOutputFormat, parseTransform } from './transform';

const field = (raw: unknown) => {
  try {
    parseTransform(raw);
  } catch (err) {
    return (err as AionError).details?.[0]?.field;
  }
  throw new Error('accepted');
};

describe('parseTransform', () => {
  it('reads steps with their defaults and the training rows', () => {
    expect(
      parseTransform({
        steps: [
          { op: 'one_hot', column: 'city' },
          { op: 'scale', column: 'n' },
          { op: 'bin', column: 'age', edges: [0, 18, 65] },
          { op: 'date_parts', column: 'd' },
        ],
        fit_where: { column: 'split', equals: 'train' },
      }),
    ).toEqual({
      steps: [
        { op: 'one_hot', column: 'city' },
        { op: 'scale', column: 'n', method: 'standard' },
        { op: 'bin', column: 'age', edges: [0, 18, 65] },
        { op: 'date_parts', column: 'd', parts: ['year', 'month', 'day'] },
      ],
      fitWhere: { column: 'split', equals: 'train' },
    });
  });

  it('names the field of every kind of bad step', () => {
    expect(field({ steps: [] })).toBe('spec.transform.steps');
    expect(field({ steps: [{ op: 'pivot', column: 'a' }] })).toBe('spec.transform.steps[0].op');
    expect(field({ steps: [{ op: 'one_hot' }] })).toBe('spec.transform.steps[0].column');
    expect(field({ steps: [{ op: 'bin', column: 'a', edges: [5] }] })).toBe(
      'spec.transform.steps[0].edges',
    );
    expect(field({ steps: [{ op: 'scale', column: 'a', method: 'log' }] })).toBe(
      'spec.transform.steps[0].method',
    );
    expect(field({ steps: [{ op: 'date_parts', column: 'a', parts: ['week'] }] })).toBe(
      'spec.transform.steps[0].parts',
    );
    expect(field({ steps: [{ op: 'one_hot', column: 'a' }], fit_where: { column: 'a' } })).toBe(
      'spec.transform.fit_where',
    );
    expect(() => parseOutputFormat('xlsx')).toThrow('spec.output_format');
    expect(parseOutputFormat(undefined)).toBe('parquet');
  });
});

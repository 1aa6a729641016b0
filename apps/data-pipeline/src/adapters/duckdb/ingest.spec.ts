import path from 'node:path';
import { engineScratch, failureOf } from './spec-scratch';

const scratch = engineScratch('dpl-ingest');

// CSV typing and drift (ingest.ts); the BIGINT case is in engine.spec.ts.
describe('DuckDbEngine CSV ingest', () => {
  it('refuses drift in a DOUBLE column too, and types space-padded integers as BIGINT', async () => {
    const rows = [
      'id,score',
      ...Array.from({ length: 21_000 }, (_, i) => `${i},${i}.5`),
      '21000,n/a',
    ];
    const err = await failureOf(
      scratch.engine.ingest(
        {
          kind: 'file',
          path: await scratch.csv('drift-double.csv', rows.join('\n')),
          format: 'csv',
        },
        path.join(scratch.dir, 'drift-double.parquet'),
      ),
    );
    expect(err.message).toContain('row 21001 (line 21002), column score: "n/a" is not a DOUBLE');
    // Spaces around an integer are padding (the cast accepts them); a no-break space is not.
    const out = path.join(scratch.dir, 'padded.parquet');
    await scratch.engine.ingest(
      {
        kind: 'file',
        path: await scratch.csv('padded.csv', 'a,b\n 1 ,\u00a01\n2 ,2\n'),
        format: 'csv',
      },
      out,
    );
    const p = await scratch.engine.profile(out);
    expect(p.columns.map((c) => [c.name, c.type, c.max])).toEqual([
      ['a', 'BIGINT', 2],
      ['b', 'VARCHAR', '\u00a01'],
    ]);
  });
});

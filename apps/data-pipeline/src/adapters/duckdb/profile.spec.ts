import path from 'node:path';
import { engineScratch } from './spec-scratch';

const scratch = engineScratch('dpl-profile');

// The profile's exact counts from its per-column groupings (profile.ts).
describe('DuckDbEngine profile', () => {
  it('types a column by the share of its rows a pattern matches, repeats counted', async () => {
    // Nine rows of one URL and one other value: 90 % of the rows, though half the distinct values.
    const rows = ['site', ...Array.from({ length: 9 }, () => 'https://a.example/x'), 'none'];
    const out = path.join(scratch.dir, 'sites.parquet');
    await scratch.engine.ingest(
      { kind: 'file', path: await scratch.csv('sites.csv', rows.join('\n')), format: 'csv' },
      out,
    );
    const p = await scratch.engine.profile(out);
    expect(p.columns[0]).toMatchObject({ semanticType: 'url', distinctCount: 2 });
  });

  it('counts duplicate rows exactly, with or without a column that tells rows apart', async () => {
    const profileOf = async (name: string, text: string) => {
      const out = path.join(scratch.dir, `${name}.parquet`);
      await scratch.engine.ingest(
        { kind: 'file', path: await scratch.csv(`${name}.csv`, text), format: 'csv' },
        out,
      );
      return scratch.engine.profile(out);
    };
    // An id without nulls, all distinct: no two rows can be equal.
    const ids = await profileOf('dup-ids', 'id,v\n1,a\n2,a\n3,a\n');
    expect(ids.duplicateRows).toBe(0);
    expect(ids.columns[0]!.distinctCount).toBe(3);
    // Distinct values but a null: two rows with the null may still be equal.
    const nulls = await profileOf('dup-nulls', 'id,v\n1,a\n,b\n,b\n');
    expect(nulls.duplicateRows).toBe(1);
    // No such column: equal rows are found and counted.
    const plain = await profileOf('dup-plain', 'k,v\n1,a\n1,a\n2,a\n1,a\n');
    expect(plain.duplicateRows).toBe(2);
  });
});

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AionError } from '@aion/errors';
import { DuckDbEngine } from './engine';

let dir: string;
let engine: DuckDbEngine;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dpl-ingest-'));
  engine = new DuckDbEngine({ memoryLimit: '256MB', threads: 1, tempDir: path.join(dir, 'spill') });
});
afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

const csv = async (name: string, text: string) => {
  const p = path.join(dir, name);
  await writeFile(p, text);
  return p;
};
const failure = async (p: Promise<unknown>): Promise<AionError> => {
  try {
    await p;
  } catch (err) {
    return err as AionError;
  }
  throw new Error('no error');
};

// CSV typing and drift (ingest.ts); the BIGINT case is in engine.spec.ts.
describe('DuckDbEngine CSV ingest', () => {
  it('refuses drift in a DOUBLE column too, and types space-padded integers as BIGINT', async () => {
    const rows = [
      'id,score',
      ...Array.from({ length: 21_000 }, (_, i) => `${i},${i}.5`),
      '21000,n/a',
    ];
    const err = await failure(
      engine.ingest(
        { kind: 'file', path: await csv('drift-double.csv', rows.join('\n')), format: 'csv' },
        path.join(dir, 'drift-double.parquet'),
      ),
    );
    expect(err.message).toContain('row 21001 (line 21002), column score: "n/a" is not a DOUBLE');
    // Spaces around an integer are padding (the cast accepts them); a no-break space is not.
    const out = path.join(dir, 'padded.parquet');
    await engine.ingest(
      {
        kind: 'file',
        path: await csv('padded.csv', 'a,b\n 1 ,\u00a01\n2 ,2\n'),
        format: 'csv',
      },
      out,
    );
    const p = await engine.profile(out);
    expect(p.columns.map((c) => [c.name, c.type, c.max])).toEqual([
      ['a', 'BIGINT', 2],
      ['b', 'VARCHAR', '\u00a01'],
    ]);
  });
});

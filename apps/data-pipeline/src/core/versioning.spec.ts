import { canonicalJson, dvcPointer, manifestSha256, type Manifest } from './versioning';

const file = (path: string, sha: string) => ({ path, size: 10, sha256: sha, md5: 'a'.repeat(32) });

describe('versioning', () => {
  it('addresses a manifest by its content, whatever the order of keys or files', () => {
    const a: Manifest = { format: 'parquet', rowCount: 3, files: [file('x', '1'), file('y', '2')] };
    const b: Manifest = { rowCount: 3, files: [file('y', '2'), file('x', '1')], format: 'parquet' };
    expect(manifestSha256(a)).toBe(manifestSha256(b));
    expect(manifestSha256(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(manifestSha256({ ...a, rowCount: 4 })).not.toBe(manifestSha256(a));
    expect(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }] })).toBe('{"a":[{"c":2,"d":1}],"b":1}');
  });

  it('exports a DVC pointer for the data file of a version', () => {
    const m: Manifest = { format: 'parquet', rowCount: 3, files: [file('data.parquet', '1')] };
    expect(dvcPointer(m, 'sales.parquet')).toBe(
      `outs:\n- md5: ${'a'.repeat(32)}\n  size: 10\n  hash: md5\n  path: sales.parquet\n`,
    );
    expect(() => dvcPointer({ ...m, files: [] }, 'x')).toThrow('needs a data file');
  });
});

import { parseManifest, schemaValidator } from './manifest';
import { memoryLimits, pagesToMb } from './wasm-inspect';

const valid = `
apiVersion: aionos/v1
kind: AgentPackage
metadata: { name: demo, version: 1.2.3 }
runtime: { type: wasm, wasi: preview1, module: build/demo.wasm, resources: { memory_mb: 8 } }
permissions: { filesystem: [data/a.txt], network: [], secrets: [] }
entrypoints:
  - name: run
    input_schema: { type: object }
    output_schema: { type: object }
intents: [demo]
policies: { timeout_ms: 100, retries: 1 }
`;

describe('parseManifest', () => {
  it('accepts a valid manifest', () => {
    const { manifest, problems } = parseManifest(valid);
    expect(problems).toEqual([]);
    expect(manifest?.metadata).toEqual({ name: 'demo', version: '1.2.3' });
  });

  it('reports YAML syntax errors', () => {
    expect(parseManifest('a: [unclosed').problems[0]!.message).toMatch(/not valid YAML/);
  });

  it('refuses absolute and escaping file permissions and any network grant', () => {
    const { problems } = parseManifest(
      valid
        .replace('[data/a.txt]', '[/etc/passwd, ../x]')
        .replace('network: []', 'network: [example.com]'),
    );
    expect(problems.map((p) => p.field).sort()).toEqual([
      'permissions.filesystem.0',
      'permissions.filesystem.1',
      'permissions.network',
    ]);
  });

  it('refuses duplicate entrypoints and invalid JSON Schemas', () => {
    const doubled = valid.replace(
      'intents:',
      '  - name: run\n    input_schema: { type: 12 }\n    output_schema: { type: object }\nintents:',
    );
    const fields = parseManifest(doubled).problems.map((p) => p.field);
    expect(fields).toEqual(
      expect.arrayContaining(['entrypoints.1.name', 'entrypoints.1.input_schema']),
    );
  });
});

/** Builds a minimal module binary: header + one memory section with the given limits. */
function moduleWithMemory(min: number, max?: number): Uint8Array {
  const limits = max === undefined ? [0x00, min] : [0x01, min, max];
  const section = [0x01, ...limits];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    0x05,
    section.length,
    ...section,
  ]);
}

describe('schemaValidator', () => {
  const schema = () => ({
    $id: 'https://example.test/summarize-input',
    type: 'object',
    required: ['text'],
    properties: { text: { type: 'string' } },
  });

  it('compiles a schema once per content: a package re-read from the database reuses it', () => {
    const first = schemaValidator(schema());
    // A fresh object with the same content (and the same $id, which ajv refuses to add twice).
    const again = schemaValidator(schema());
    expect(again).toBe(first);
    expect(again({ text: 'x' })).toBe(true);
    expect(again({})).toBe(false);
  });

  it('keeps schemas of different content apart', () => {
    const other = schemaValidator({ type: 'object', required: ['n'] });
    expect(other).not.toBe(schemaValidator({ type: 'object', required: ['m'] }));
    expect(other({ n: 1 })).toBe(true);
  });
});

describe('memoryLimits', () => {
  it('reads declared minimum and maximum pages', () => {
    expect(memoryLimits(moduleWithMemory(2, 16))).toEqual([{ minPages: 2, maxPages: 16 }]);
    expect(memoryLimits(moduleWithMemory(1))).toEqual([{ minPages: 1, maxPages: undefined }]);
    expect(pagesToMb(256)).toBe(16);
  });

  it('refuses bytes that are not a module', () => {
    expect(() => memoryLimits(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]))).toThrow(
      /not a WebAssembly module/,
    );
  });
});

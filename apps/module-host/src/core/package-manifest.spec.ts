import {
  BLUEPRINT_SCHEMAS,
  BLUEPRINT_TEMPLATE,
  blueprintPackageFiles,
} from '../../test/fixtures/blueprint-package';
import { parseManifest, type DeclaredManifest } from './manifest';
import { resolveManifest } from './package-manifest';

const inputSchema = BLUEPRINT_SCHEMAS['schemas/summarize_input.json'];
const outputSchema = BLUEPRINT_SCHEMAS['schemas/summarize_output.json'];

function declared(manifest = BLUEPRINT_TEMPLATE): DeclaredManifest {
  const parsed = parseManifest(manifest);
  if (!parsed.manifest) throw new Error(JSON.stringify(parsed.problems));
  return parsed.manifest;
}

/** The template's package plus a module and a data file; `overrides` replace or drop files. */
function packageFiles(overrides: Record<string, string | undefined> = {}) {
  const files = blueprintPackageFiles();
  files.set('summarize_text.wasm', Buffer.from('\0asm'));
  files.set('data/stopwords.txt', Buffer.from('the\n'));
  for (const [path, content] of Object.entries(overrides))
    if (content === undefined) files.delete(path);
    else files.set(path, Buffer.from(content));
  return files;
}

describe('resolveManifest', () => {
  it('takes the entrypoint schemas from their files and lets the module read its package files', () => {
    const { resolved, problems } = resolveManifest(declared(), packageFiles());
    expect(problems).toEqual([]);
    expect(resolved!.manifest.entrypoints).toEqual([
      { name: 'main', grpc: { port: 0 }, input_schema: inputSchema, output_schema: outputSchema },
    ]);
    // read-only: every package file but the module, which the host loads itself.
    expect(resolved!.manifest.permissions.filesystem).toEqual([
      'aion.yaml',
      'data/stopwords.txt',
      'schemas/summarize_input.json',
      'schemas/summarize_output.json',
    ]);
    expect([...resolved!.readable.keys()].sort()).toEqual(
      resolved!.manifest.permissions.filesystem,
    );
    expect(resolved!.schemaFiles).toEqual([
      'schemas/summarize_input.json',
      'schemas/summarize_output.json',
    ]);
  });

  it('gives the module no files with filesystem: none', () => {
    const { resolved } = resolveManifest(
      declared(BLUEPRINT_TEMPLATE.replace('filesystem: read-only', 'filesystem: none')),
      packageFiles(),
    );
    expect(resolved!.manifest.permissions.filesystem).toEqual([]);
    expect(resolved!.readable.size).toBe(0);
  });

  it('refuses schema files that are missing, not JSON, not an object or not a JSON Schema', () => {
    const cases: [Record<string, string | undefined>, RegExp][] = [
      [{ 'schemas/summarize_input.json': undefined }, /summarize_input.json is not in the package/],
      [{ 'schemas/summarize_input.json': '{ nope' }, /is not JSON/],
      [{ 'schemas/summarize_input.json': '[1, 2]' }, /must hold a JSON Schema object/],
      [{ 'schemas/summarize_input.json': '{"type": 12}' }, /not a valid JSON Schema/],
    ];
    for (const [overrides, message] of cases) {
      const { resolved, problems } = resolveManifest(declared(), packageFiles(overrides));
      expect(resolved).toBeUndefined();
      expect(problems).toEqual([
        { field: 'entrypoints.schema.input', message: expect.stringMatching(message) },
      ]);
    }
  });

  it('refuses a declared file the package lacks', () => {
    const listed = BLUEPRINT_TEMPLATE.replace(
      'filesystem: read-only',
      'filesystem: [data/stopwords.txt, data/gone.txt]',
    );
    const { problems } = resolveManifest(declared(listed), packageFiles());
    expect(problems).toEqual([
      {
        field: 'permissions.filesystem.1',
        message: 'data/gone.txt is declared but not in the package',
      },
    ]);
  });
});

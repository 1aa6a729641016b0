import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { BLUEPRINT_TEMPLATE } from '../../test/fixtures/blueprint-package';
import { DEFAULT_ENTRYPOINT, parseManifest, schemaValidator, storedManifest } from './manifest';
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

/** sha256 of the blueprint's template exactly as published (seed 004, section 2.1). */
const TEMPLATE_SHA256 = '979154ed5cfea92eb84ab5a4ed9e9a520388ae32617242d7870ff32beae8a391';

const problemsOf = (text: string) => parseManifest(text).problems;
/** The template with one line changed; fails the test if the line is not in it. */
function variant(from: string, to: string): string {
  expect(BLUEPRINT_TEMPLATE).toContain(from);
  return BLUEPRINT_TEMPLATE.replace(from, to);
}

describe('parseManifest', () => {
  it('accepts a valid manifest', () => {
    const { manifest, problems } = parseManifest(valid);
    expect(problems).toEqual([]);
    expect(manifest?.metadata).toEqual({ name: 'demo', version: '1.2.3' });
    expect(manifest?.runtime.resources).toEqual({ memory_bytes: 8 * 1024 * 1024 });
    expect(manifest?.permissions).toEqual({
      filesystem: ['data/a.txt'],
      network: [],
      secrets: [],
    });
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

describe('parseManifest: the blueprint template', () => {
  it('accepts the template verbatim and normalizes it', () => {
    // Guards the fixture itself: these are the template's bytes, not a reformatted copy.
    expect(createHash('sha256').update(BLUEPRINT_TEMPLATE).digest('hex')).toBe(TEMPLATE_SHA256);
    const { manifest, problems } = parseManifest(BLUEPRINT_TEMPLATE);
    expect(problems).toEqual([]);
    expect(manifest).toEqual({
      apiVersion: 'aionos/v1',
      kind: 'AgentPackage',
      metadata: {
        name: 'summarize_text',
        version: '1.3.0',
        authors: ['AION Core'],
        license: 'Apache-2.0',
        signatures: { cosign: 'sigstore://ghcr.io/aion/summarize_text@sha256:...' },
        sbom: 'oci://ghcr.io/aion/sbom/summarize_text:1.3.0',
      },
      runtime: {
        type: 'wasm',
        wasi: 'preview1',
        module: 'summarize_text.wasm',
        resources: {
          memory_bytes: 256 * 1024 * 1024,
          cpu_millis: 500,
          gpu: { required: false, vendor: 'none' },
        },
      },
      permissions: { filesystem: 'package', network: [], secrets: ['OPENAI_API_KEY?'] },
      entrypoints: [
        {
          name: DEFAULT_ENTRYPOINT,
          grpc: { port: 0 },
          input: { file: 'schemas/summarize_input.json', field: 'entrypoints.schema.input' },
          output: { file: 'schemas/summarize_output.json', field: 'entrypoints.schema.output' },
        },
      ],
      intents: ['summarize'],
      policies: { timeout_ms: 1500, retries: 0 },
    });
  });

  it.each([
    ['network: deny', 'network: allow', 'permissions.network', /cannot be granted network access/],
    [
      'network: deny',
      'network: ["api.openai.com"]',
      'permissions.network',
      /cannot be granted network access/,
    ],
    [
      'network: deny',
      'network: ["api.openai.com:443"]',
      'permissions.network',
      /WebAssembly modules cannot be granted network access/,
    ],
    [
      'filesystem: read-only',
      'filesystem: read-write',
      'permissions.filesystem',
      /never write to the host/,
    ],
    ['filesystem: read-only', 'filesystem: rw', 'permissions.filesystem', /read-write cannot/],
    ['required: false', 'required: true', 'runtime.resources.gpu.required', /cannot require a GPU/],
    ['memory: "256Mi"', 'memory: "-1Gi"', 'runtime.resources.memory', /must not be negative/],
    ['memory: "256Mi"', 'memory: "lots"', 'runtime.resources.memory', /"lots" is not a quantity/],
    ['memory: "256Mi"', 'memory: "8Gi"', 'runtime.resources.memory', /at most 4Gi/],
    ['memory: "256Mi"', 'memory: 0', 'runtime.resources.memory', /at least 1Mi/],
    ['memory: "256Mi"', 'memory: 0.5', 'runtime.resources.memory', /whole number of bytes/],
    ['cpu: "0.5"', 'cpu: "abc"', 'runtime.resources.cpu', /"abc" is not a quantity/],
    ['cpu: "0.5"', 'cpu: "-1"', 'runtime.resources.cpu', /must not be negative/],
    ['cpu: "0.5"', 'cpu: "100"', 'runtime.resources.cpu', /at most 64000m/],
    ['cpu: "0.5"', 'cpu: "0.0001"', 'runtime.resources.cpu', /whole number of millicores/],
    [
      'input: "schemas/summarize_input.json"',
      'input: "/etc/passwd"',
      'entrypoints.schema.input',
      /path inside the package/,
    ],
    [
      'output: "schemas/summarize_output.json"',
      'output: "schemas/../../secret.json"',
      'entrypoints.schema.output',
      /path inside the package/,
    ],
    ['port: 0', 'port: 70000', 'entrypoints.grpc.port', /0 to 65535/],
    ['port: 0', 'port: -1', 'entrypoints.grpc.port', /0 to 65535/],
    ['port: 0', 'port: 8080', 'entrypoints.grpc.port', /cannot listen on a port/],
    ['wasi: true', 'wasi: false', 'runtime.wasi', /WASI preview1/],
    ['vendor: none', 'vendor: metal', 'runtime.resources.gpu.vendor', /allowed values/],
    [
      'cpu: "0.5"',
      'cpu: "0.5"\n    accelerator: metal',
      'runtime.resources.accelerator',
      /must be one of cpu, cuda, rocm, oneapi, any-gpu: the module-host pool/,
    ],
    [
      'vendor: none',
      'vendor: cuda\n    accelerator: rocm',
      'runtime.resources.accelerator',
      /rocm contradicts gpu.vendor cuda/,
    ],
    [
      'secrets: ["OPENAI_API_KEY?"]',
      'secrets: ["OPENAI_API_KEY?", "OPENAI_API_KEY"]',
      'permissions.secrets.1',
      /listed twice/,
    ],
    [
      'secrets: ["OPENAI_API_KEY?"]',
      'secrets: ["openai key"]',
      'permissions.secrets.0',
      /environment-style name/,
    ],
    ['sbom: "oci://', 'sbom: "https://', 'metadata.sbom', /oci:\/\//],
    ['cosign: "sigstore://', 'cosign: "not a reference ', 'metadata.signatures.cosign', /sigstore/],
  ])('refuses %p -> %p at %s', (from, to, field, message) => {
    const problems = problemsOf(variant(from, to));
    expect(problems).toEqual([{ field, message: expect.stringMatching(message) }]);
  });

  it('reports every problem of a manifest at once, one line each', () => {
    const text = variant('network: deny', 'network: allow')
      .replace('filesystem: read-only', 'filesystem: read-write')
      .replace('memory: "256Mi"', 'memory: "lots"')
      .replace('required: false', 'required: true');
    expect(
      problemsOf(text)
        .map((p) => p.field)
        .sort(),
    ).toEqual([
      'permissions.filesystem',
      'permissions.network',
      'runtime.resources.gpu.required',
      'runtime.resources.memory',
    ]);
  });

  it('reads the accelerator a module needs, absent when it states none (cpu: any pool)', () => {
    expect(parseManifest(valid).manifest?.runtime.resources.accelerator).toBeUndefined();
    for (const need of ['cpu', 'cuda', 'rocm', 'oneapi', 'any-gpu'])
      expect(
        parseManifest(valid.replace('memory_mb: 8', `memory_mb: 8, accelerator: ${need}`)).manifest
          ?.runtime.resources.accelerator,
      ).toBe(need);
    // A GPU kind agreeing with gpu.vendor, or any GPU, is no contradiction.
    expect(problemsOf(variant('vendor: none', 'vendor: cuda\n    accelerator: cuda'))).toEqual([]);
    expect(problemsOf(variant('vendor: none', 'vendor: cuda\n    accelerator: any-gpu'))).toEqual(
      [],
    );
    expect(problemsOf(valid.replace('memory_mb: 8', 'memory_mb: 8, accelerator: [cuda]'))).toEqual([
      { field: 'runtime.resources.accelerator', message: expect.stringMatching(/must be one of/) },
    ]);
  });

  it('needs the memory limit exactly once, and cpu at most once', () => {
    expect(problemsOf(variant('    memory: "256Mi"\n', ''))).toEqual([
      { field: 'runtime.resources', message: expect.stringMatching(/memory limit once/) },
    ]);
    expect(problemsOf(variant('memory: "256Mi"', 'memory: "256Mi"\n    memory_mb: 256'))).toEqual([
      { field: 'runtime.resources', message: expect.stringMatching(/memory limit once/) },
    ]);
    expect(problemsOf(variant('cpu: "0.5"', 'cpu: "0.5"\n    cpu_millis: 500'))).toEqual([
      { field: 'runtime.resources', message: 'give cpu or cpu_millis, not both' },
    ]);
  });

  it('accepts the other spellings of quantities, permissions and an explicit module', () => {
    const { manifest, problems } = parseManifest(
      variant('memory: "256Mi"', 'memory: 2000000')
        .replace('cpu: "0.5"', 'cpu: 2')
        .replace('filesystem: read-only', 'filesystem: none')
        .replace('wasi: true', 'wasi: true\n  module: build/summarize.wasm')
        .replace('vendor: none', 'vendor: cuda'),
    );
    expect(problems).toEqual([]);
    expect(manifest?.runtime).toMatchObject({
      module: 'build/summarize.wasm',
      resources: {
        memory_bytes: 2_000_000,
        cpu_millis: 2000,
        gpu: { required: false, vendor: 'cuda' },
      },
    });
    expect(manifest?.permissions.filesystem).toEqual([]);
    expect(
      parseManifest(variant('memory: "256Mi"', 'memory: 512M')).manifest?.runtime.resources,
    ).toMatchObject({ memory_bytes: 512_000_000 });
    expect(
      parseManifest(variant('cpu: "0.5"', 'cpu: 500m')).manifest?.runtime.resources,
    ).toMatchObject({ cpu_millis: 500 });
  });

  it('mixes spellings field by field: the blueprint form with inline entrypoints and memory_mb', () => {
    const text = variant('memory: "256Mi"', 'memory_mb: 16')
      .replace('network: deny', 'network: []')
      .replace(
        /entrypoints:\n( {2}.*\n)+/,
        'entrypoints:\n  - name: summarize\n    input_schema: { type: object }\n    output_schema: { type: object }\n',
      );
    const { manifest, problems } = parseManifest(text);
    expect(problems).toEqual([]);
    expect(manifest?.runtime.resources.memory_bytes).toBe(16 * 1024 * 1024);
    expect(manifest?.entrypoints).toEqual([
      {
        name: 'summarize',
        input: { schema: { type: 'object' } },
        output: { schema: { type: 'object' } },
      },
    ]);
  });

  it('names the accepted forms when a field has none of them', () => {
    expect(problemsOf(variant('network: deny', 'network: 5'))).toEqual([
      { field: 'permissions.network', message: expect.stringMatching(/must be deny/) },
    ]);
    expect(
      problemsOf(variant('entrypoints:\n  grpc:', 'entrypoints: 3\nunused:\n  grpc:')),
    ).toEqual(
      expect.arrayContaining([
        { field: 'entrypoints', message: expect.stringMatching(/list of entrypoints/) },
      ]),
    );
  });
});

describe('storedManifest', () => {
  it('reads an install stored before memory quantities in the normalized shape', () => {
    const legacy = parseYaml(
      valid.replace('memory_mb: 8 }', 'memory_mb: 8, gpu: { vendor: cuda } }'),
    );
    const manifest = storedManifest(legacy);
    expect(manifest.runtime.resources).toEqual({
      memory_bytes: 8 * 1024 * 1024,
      gpu: { required: false, vendor: 'cuda' },
    });
    expect(manifest.entrypoints[0]!.input_schema).toEqual({ type: 'object' });
    const normalized = { ...manifest };
    expect(storedManifest(normalized)).toBe(normalized);
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

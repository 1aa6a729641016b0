import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parse as parseYaml } from 'yaml';

/** aion.yaml, as validated. */
export interface AgentManifest {
  apiVersion: 'aionos/v1';
  kind: 'AgentPackage';
  metadata: {
    name: string;
    version: string;
    description?: string;
    authors?: string[];
    license?: string;
  };
  runtime: {
    type: 'wasm';
    wasi: 'preview1';
    module: string;
    resources: { memory_mb: number; cpu_millis?: number; gpu?: { vendor: string } };
  };
  permissions: { filesystem: string[]; network: string[]; secrets: string[] };
  entrypoints: {
    name: string;
    description?: string;
    input_schema: Record<string, unknown>;
    output_schema: Record<string, unknown>;
  }[];
  intents: string[];
  policies: { timeout_ms: number; retries: number };
}

const NAME = '^[a-z][a-z0-9_-]{1,62}$';
const SEMVER =
  '^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)(-[0-9A-Za-z.-]+)?(\\+[0-9A-Za-z.-]+)?$';
const RELATIVE_PATH = '^(?!/)(?!.*(^|/)\\.\\.(/|$))[A-Za-z0-9._/-]{1,255}$';

/** The JSON Schema every aion.yaml is checked against (served with errors so authors can fix them). */
export const MANIFEST_SCHEMA = {
  $id: 'https://aion.dev/schemas/agent-package.json',
  type: 'object',
  additionalProperties: false,
  required: [
    'apiVersion',
    'kind',
    'metadata',
    'runtime',
    'permissions',
    'entrypoints',
    'intents',
    'policies',
  ],
  properties: {
    apiVersion: { const: 'aionos/v1' },
    kind: { const: 'AgentPackage' },
    metadata: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'version'],
      properties: {
        name: { type: 'string', pattern: NAME },
        version: { type: 'string', pattern: SEMVER },
        description: { type: 'string', maxLength: 1000 },
        authors: { type: 'array', items: { type: 'string', maxLength: 200 }, maxItems: 20 },
        license: { type: 'string', maxLength: 100 },
      },
    },
    runtime: {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'wasi', 'module', 'resources'],
      properties: {
        type: { const: 'wasm' },
        wasi: { const: 'preview1' },
        module: { type: 'string', pattern: RELATIVE_PATH },
        resources: {
          type: 'object',
          additionalProperties: false,
          required: ['memory_mb'],
          properties: {
            memory_mb: { type: 'integer', minimum: 1, maximum: 4096 },
            cpu_millis: { type: 'integer', minimum: 1, maximum: 64000 },
            gpu: {
              type: 'object',
              required: ['vendor'],
              properties: { vendor: { enum: ['cuda', 'rocm', 'oneapi'] } },
              additionalProperties: false,
            },
          },
        },
      },
    },
    permissions: {
      type: 'object',
      additionalProperties: false,
      required: ['filesystem', 'network', 'secrets'],
      properties: {
        filesystem: {
          type: 'array',
          items: { type: 'string', pattern: RELATIVE_PATH },
          maxItems: 256,
          uniqueItems: true,
        },
        // WebAssembly modules get no network: the host provides no sockets at all.
        network: { type: 'array', maxItems: 0 },
        secrets: {
          type: 'array',
          items: { type: 'string', pattern: '^[A-Z][A-Z0-9_]{0,63}$' },
          maxItems: 32,
        },
      },
    },
    entrypoints: {
      type: 'array',
      minItems: 1,
      maxItems: 32,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'input_schema', 'output_schema'],
        properties: {
          name: { type: 'string', pattern: NAME },
          description: { type: 'string', maxLength: 1000 },
          input_schema: { type: 'object' },
          output_schema: { type: 'object' },
        },
      },
    },
    intents: {
      type: 'array',
      minItems: 1,
      maxItems: 32,
      items: { type: 'string', pattern: NAME },
      uniqueItems: true,
    },
    policies: {
      type: 'object',
      additionalProperties: false,
      required: ['timeout_ms', 'retries'],
      properties: {
        timeout_ms: { type: 'integer', minimum: 1, maximum: 300000 },
        retries: { type: 'integer', minimum: 0, maximum: 5 },
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: true, strict: true });
const validateManifest = ajv.compile(MANIFEST_SCHEMA);

export interface ManifestProblem {
  field: string;
  message: string;
}

function describe(error: ErrorObject): ManifestProblem {
  const field = error.instancePath.replace(/^\//, '').replace(/\//g, '.') || '(root)';
  if (error.keyword === 'additionalProperties')
    return { field, message: `unknown field "${String(error.params['additionalProperty'])}"` };
  if (error.keyword === 'const')
    return { field, message: `must be ${JSON.stringify(error.params['allowedValue'])}` };
  if (error.keyword === 'maxItems' && field === 'permissions.network')
    return { field, message: 'WebAssembly modules cannot be granted network access' };
  return { field, message: error.message ?? 'is invalid' };
}

/** Parses and validates aion.yaml; every problem is reported, not just the first. */
export function parseManifest(
  text: string,
):
  { manifest: AgentManifest; problems: [] } | { manifest: undefined; problems: ManifestProblem[] } {
  let data: unknown;
  try {
    data = parseYaml(text, { maxAliasCount: 10 });
  } catch (err) {
    return {
      manifest: undefined,
      problems: [
        {
          field: '(file)',
          message: `aion.yaml is not valid YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
        },
      ],
    };
  }
  if (!validateManifest(data))
    return { manifest: undefined, problems: (validateManifest.errors ?? []).map(describe) };
  const manifest = data as unknown as AgentManifest;
  const problems: ManifestProblem[] = [];
  const seen = new Set<string>();
  manifest.entrypoints.forEach((entry, i) => {
    if (seen.has(entry.name))
      problems.push({
        field: `entrypoints.${i}.name`,
        message: `duplicate entrypoint "${entry.name}"`,
      });
    seen.add(entry.name);
    for (const key of ['input_schema', 'output_schema'] as const) {
      try {
        schemaValidator(entry[key]);
      } catch (err) {
        problems.push({
          field: `entrypoints.${i}.${key}`,
          message: `not a valid JSON Schema: ${err instanceof Error ? err.message : String(err)}`,
        });
      }
    }
  });
  return problems.length ? { manifest: undefined, problems } : { manifest, problems: [] };
}

const schemaAjv = new Ajv({ allErrors: true, strict: false });
/**
 * Validators by schema content: packages are re-read from the database every few seconds as new
 * objects, and compiling per object would redo ajv's (slow) compilation on every refresh and
 * grow ajv's own cache without bound.
 */
const compiled = new Map<string, ValidateFunction>();
const MAX_COMPILED_SCHEMAS = 1000;

/** Compiles (once per distinct schema) a package's input or output JSON Schema. */
export function schemaValidator(schema: Record<string, unknown>): ValidateFunction {
  const key = JSON.stringify(schema);
  let validate = compiled.get(key);
  if (!validate) {
    if (compiled.size >= MAX_COMPILED_SCHEMAS) {
      compiled.clear();
      schemaAjv.removeSchema();
    }
    validate = schemaAjv.compile(schema);
    compiled.set(key, validate);
  }
  return validate;
}

export function schemaErrors(validate: ValidateFunction): { field: string; message: string }[] {
  return (validate.errors ?? []).map((e) => ({
    field: e.instancePath.replace(/^\//, '').replace(/\//g, '.') || '(root)',
    message: e.message ?? 'is invalid',
  }));
}

import { Ajv, type ErrorObject, type SchemaValidateFunction, type ValidateFunction } from 'ajv';
import { parse as parseYaml } from 'yaml';
import type { AcceleratorNeed } from '@aion/config';
import { CPU_LIMITS, MANIFEST_SCHEMA, MEMORY_LIMITS, NETWORK_PROBLEM } from './manifest-schema';
import { formatBytes, quantityIn } from './quantity';

export { MANIFEST_SCHEMA } from './manifest-schema';

/** As written: nvidia, amd, intel, or the older cuda, rocm, oneapi (the same vendors). */
export type GpuVendor = 'none' | 'nvidia' | 'amd' | 'intel' | 'cuda' | 'rocm' | 'oneapi';

const ACCELERATOR_VENDOR: Record<string, string> = { cuda: 'nvidia', rocm: 'amd', oneapi: 'intel' };

/** The vendor a GPU request names, whichever spelling the manifest used. */
export function gpuVendorOf(vendor: GpuVendor): 'nvidia' | 'amd' | 'intel' | undefined {
  const map = { cuda: 'nvidia', rocm: 'amd', oneapi: 'intel' } as const;
  return vendor === 'none'
    ? undefined
    : vendor in map
      ? map[vendor as keyof typeof map]
      : (vendor as 'nvidia' | 'amd' | 'intel');
}

export interface GpuNeed {
  required: boolean;
  vendor: GpuVendor;
  /** Devices wanted (default 1 when required). */
  count?: number;
  /** Device memory each must have, bytes. */
  memory_bytes?: number;
}

export interface Entrypoint {
  name: string;
  description?: string;
  input_schema: Record<string, unknown>;
  output_schema: Record<string, unknown>;
  /** Declared by the blueprint's form; always 0 (module-host serves every module itself). */
  grpc?: { port: number };
}

/**
 * A package's manifest in the one shape the host uses, whichever spelling its aion.yaml chose:
 * what is stored, described and enforced.
 */
export interface AgentManifest {
  apiVersion: 'aionos/v1';
  kind: 'AgentPackage';
  metadata: {
    name: string;
    version: string;
    description?: string;
    authors?: string[];
    license?: string;
    /** Recorded as declared; not verified yet. */
    signatures?: { cosign: string };
    /** Recorded as declared; not fetched or checked yet. */
    sbom?: string;
  };
  runtime: {
    /** wasm: a WASI module in the worker pool; subprocess: a native executable under bubblewrap. */
    type: 'wasm' | 'subprocess';
    /** Set for wasm only. */
    wasi?: 'preview1';
    /** The WebAssembly module, or the executable a subprocess module runs (a package path). */
    module: string;
    resources: {
      /** The module's memory limit, exact (a quantity such as 512M need not be whole MiB). */
      memory_bytes: number;
      cpu_millis?: number;
      /**
       * The module-host pool the module must run in (absent: cpu, any pool). A placement: the
       * WebAssembly sandbox itself gives a module no device access in any pool.
       */
      accelerator?: AcceleratorNeed;
      /** Processes a subprocess module may run at once. */
      pids?: number;
      gpu?: GpuNeed;
    };
  };
  permissions: {
    /** Package files the module may read (read-only); empty when it may read none. */
    filesystem: string[];
    /** `host:port` a subprocess module may reach (through the egress proxy); empty: none. */
    network: string[];
    /** Secret names as declared; a trailing `?` marks one the module can do without. */
    secrets: string[];
  };
  entrypoints: Entrypoint[];
  intents: string[];
  policies: { timeout_ms: number; retries: number };
}

/** Where an entrypoint's schema comes from: inline in aion.yaml, or a file of the package. */
export type SchemaSource = { schema: Record<string, unknown> } | { file: string; field: string };

/**
 * The manifest as parsed, before the package's files are consulted: schema files are still
 * paths, and `filesystem: read-only` still means "the package's files" ('package').
 */
export interface DeclaredManifest extends Omit<AgentManifest, 'permissions' | 'entrypoints'> {
  permissions: Omit<AgentManifest['permissions'], 'filesystem'> & {
    filesystem: string[] | 'package';
  };
  entrypoints: (Omit<Entrypoint, 'input_schema' | 'output_schema'> & {
    input: SchemaSource;
    output: SchemaSource;
  })[];
}

/** aion.yaml as written, once MANIFEST_SCHEMA accepted it (either spelling of each field). */
interface ManifestDocument {
  apiVersion: 'aionos/v1';
  kind: 'AgentPackage';
  metadata: AgentManifest['metadata'];
  runtime: {
    type: 'wasm' | 'subprocess';
    wasi?: true | 'preview1';
    module?: string;
    resources: {
      memory?: string | number;
      memory_mb?: number;
      cpu?: string | number;
      cpu_millis?: number;
      accelerator?: AcceleratorNeed;
      pids?: number;
      gpu?: { required?: boolean; vendor?: GpuVendor; count?: number; memory?: string | number };
    };
  };
  permissions: {
    filesystem: 'read-only' | 'none' | string[];
    network: 'deny' | string[];
    secrets: string[];
  };
  entrypoints:
    | Omit<Entrypoint, 'grpc'>[]
    | { grpc?: { port: number }; schema: { input: string; output: string } };
  intents: string[];
  policies: { timeout_ms: number; retries: number };
}

/** A destination a subprocess module may reach: a DNS name or IPv4 address, and a port. */
const HOST_PORT =
  /^(?=.{1,253}:)[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$/;

/** The entrypoint name of the blueprint's single-entrypoint form (it names none). */
export const DEFAULT_ENTRYPOINT = 'main';
const MIB = 1024 * 1024;

const QUANTITY_RULES = {
  memory: {
    unitsPerBase: 1n,
    unit: 'bytes',
    min: BigInt(MEMORY_LIMITS.minBytes),
    max: BigInt(MEMORY_LIMITS.maxBytes),
    show: formatBytes,
    hint: 'give bytes or a quantity such as 256Mi, 1Gi or 512M',
    why: ' (wasm32 memory cannot be larger)',
  },
  gpuMemory: {
    unitsPerBase: 1n,
    unit: 'bytes',
    min: BigInt(MIB),
    max: 1n << 40n,
    show: formatBytes,
    hint: 'give bytes or a quantity such as 8Gi',
    why: '',
  },
  cpu: {
    unitsPerBase: 1000n,
    unit: 'millicores',
    min: BigInt(CPU_LIMITS.minMillis),
    max: BigInt(CPU_LIMITS.maxMillis),
    show: (millis: bigint) => `${millis}m`,
    hint: 'give cores such as 0.5, 500m or 2',
    why: '',
  },
};

/** The value of a quantity field already accepted by the schema. */
function quantityValue(rule: keyof typeof QUANTITY_RULES, input: unknown): number {
  const parsed = quantityIn(input, QUANTITY_RULES[rule].unitsPerBase, QUANTITY_RULES[rule].unit);
  if (!parsed.ok) throw new Error(`unchecked quantity: ${parsed.reason}`);
  return Number(parsed.value);
}

const checkQuantity: SchemaValidateFunction = (name: keyof typeof QUANTITY_RULES, data) => {
  const rule = QUANTITY_RULES[name];
  const parsed = quantityIn(data, rule.unitsPerBase, rule.unit);
  let message: string | undefined;
  if (!parsed.ok) message = `${parsed.reason}; ${rule.hint}`;
  else if (parsed.value < rule.min) message = `must be at least ${rule.show(rule.min)}`;
  else if (parsed.value > rule.max) message = `must be at most ${rule.show(rule.max)}${rule.why}`;
  checkQuantity.errors = message ? [{ keyword: 'quantity', message, params: {} }] : [];
  return !message;
};

// verbose: errors carry their schema, whose `problem` is what the author is told.
const ajv = new Ajv({ allErrors: true, strict: true, verbose: true, allowUnionTypes: true });
ajv.addKeyword({ keyword: 'problem', schemaType: 'string' });
ajv.addKeyword({
  keyword: 'quantity',
  schemaType: 'string',
  errors: true,
  validate: checkQuantity,
});
const validateManifest = ajv.compile<ManifestDocument>(MANIFEST_SCHEMA);

export interface ManifestProblem {
  field: string;
  message: string;
}

const fieldOf = (instancePath: string) =>
  instancePath.replace(/^\//, '').replace(/\//g, '.') || '(root)';

function describe(error: ErrorObject): ManifestProblem {
  const field = fieldOf(error.instancePath);
  const problem = (error.parentSchema as { problem?: unknown } | undefined)?.problem;
  if (typeof problem === 'string') return { field, message: problem };
  if (error.keyword === 'additionalProperties')
    return { field, message: `unknown field "${String(error.params['additionalProperty'])}"` };
  if (error.keyword === 'const')
    return { field, message: `must be ${JSON.stringify(error.params['allowedValue'])}` };
  return { field, message: error.message ?? 'is invalid' };
}

/**
 * Schema errors as an author can act on them. When a field accepts several forms (anyOf), the
 * form whose JSON type the value has is the one the author meant, and its errors are the useful
 * ones ("permissions.filesystem.0 must be a path inside the package"); when the value has none
 * of the forms' types, the field's own problem says what is accepted.
 */
function problemsOf(errors: ErrorObject[]): ManifestProblem[] {
  const hidden = new Set<ErrorObject>();
  for (const anyOf of errors.filter((e) => e.keyword === 'anyOf')) {
    const branches = new Map<string, ErrorObject[]>();
    for (const e of errors) {
      if (!e.schemaPath.startsWith(`${anyOf.schemaPath}/`)) continue;
      const branch = e.schemaPath.slice(anyOf.schemaPath.length + 1).split('/')[0]!;
      branches.set(branch, [...(branches.get(branch) ?? []), e]);
    }
    const fitting = [...branches.values()].filter(
      (list) => !list.some((e) => e.keyword === 'type' && e.instancePath === anyOf.instancePath),
    );
    for (const list of branches.values())
      if (fitting.length !== 1 || list !== fitting[0]) list.forEach((e) => hidden.add(e));
    if (fitting.length === 1) hidden.add(anyOf);
  }
  const seen = new Set<string>();
  return errors
    .filter((e) => !hidden.has(e))
    .map(describe)
    .filter((p) => {
      const key = `${p.field}\n${p.message}`;
      return !seen.has(key) && Boolean(seen.add(key));
    });
}

export type ParsedManifest =
  | { manifest: DeclaredManifest; document: unknown; problems: [] }
  | { manifest: undefined; problems: ManifestProblem[] };

/** Parses and validates aion.yaml; every problem is reported, not just the first. */
export function parseManifest(text: string): ParsedManifest {
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
  // Both kinds of problem at once, so an author fixes a manifest in one round.
  const problems = [
    ...(validateManifest(data) ? [] : problemsOf(validateManifest.errors ?? [])),
    ...crossFieldProblems(data),
  ];
  if (problems.length) return { manifest: undefined, problems };
  // No problem means the schema accepted it: it is a ManifestDocument.
  return { manifest: declared(data as ManifestDocument), document: data, problems: [] };
}

const objectAt = (value: unknown): Record<string, unknown> | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;

/**
 * What one field's schema cannot see: pairs of fields, duplicates, and what wasm cannot do.
 * Runs on documents the schema refused too, so it reads every value defensively.
 */
function crossFieldProblems(data: unknown): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  const doc = objectAt(data) ?? {};
  const runtime = objectAt(doc['runtime']);
  const runtimeType = runtime?.['type'];
  if (runtimeType === 'wasm' && runtime && !('wasi' in runtime))
    problems.push({ field: 'runtime.wasi', message: 'is required for wasm: true (or preview1)' });
  if (runtimeType === 'subprocess' && runtime && 'wasi' in runtime)
    problems.push({
      field: 'runtime.wasi',
      message: 'applies to wasm only; a subprocess module is a native executable',
    });
  if (runtimeType === 'subprocess' && runtime && !('module' in runtime))
    problems.push({
      field: 'runtime.module',
      message: 'is required for subprocess: the executable to run, a path in the package',
    });
  const network = objectAt(doc['permissions'])?.['network'];
  if (
    Array.isArray(network) &&
    network.length &&
    (runtimeType !== 'subprocess' ||
      !network.every((n) => typeof n === 'string' && HOST_PORT.test(n)))
  )
    problems.push({ field: 'permissions.network', message: NETWORK_PROBLEM });
  const gpuVendor = objectAt(objectAt(runtime?.['resources'])?.['gpu'])?.['vendor'];
  if (
    runtimeType === 'subprocess' &&
    objectAt(objectAt(runtime?.['resources'])?.['gpu'])?.['required'] === true &&
    (gpuVendor === undefined || gpuVendor === 'none')
  )
    problems.push({
      field: 'runtime.resources.gpu.vendor',
      message: 'a required GPU needs a vendor: nvidia, amd or intel',
    });
  const resources = objectAt(runtime?.['resources']);
  if (resources) {
    if ('memory' in resources === 'memory_mb' in resources)
      problems.push({
        field: 'runtime.resources',
        message: 'give the memory limit once: memory (e.g. 256Mi) or memory_mb',
      });
    if ('cpu' in resources && 'cpu_millis' in resources)
      problems.push({ field: 'runtime.resources', message: 'give cpu or cpu_millis, not both' });
    const vendor = objectAt(resources['gpu'])?.['vendor'];
    const need = resources['accelerator'];
    if (
      typeof vendor === 'string' &&
      vendor !== 'none' &&
      typeof need === 'string' &&
      need !== vendor &&
      ACCELERATOR_VENDOR[need] !== gpuVendorOf(vendor as GpuVendor) &&
      need !== 'any-gpu' &&
      need !== 'cpu'
    )
      problems.push({
        field: 'runtime.resources.accelerator',
        message: `${need} contradicts gpu.vendor ${vendor}: name one GPU kind (or any-gpu)`,
      });
    if (
      objectAt(resources['gpu'])?.['required'] === true &&
      runtimeType === 'subprocess' &&
      (need === undefined || need === 'cpu')
    )
      problems.push({
        field: 'runtime.resources.accelerator',
        message:
          'a required GPU needs accelerator cuda, rocm, oneapi or any-gpu, so the module is sent to a GPU pool',
      });
    if (objectAt(resources['gpu'])?.['required'] === true && runtimeType !== 'subprocess')
      problems.push({
        field: 'runtime.resources.gpu.required',
        message:
          'a WebAssembly package cannot require a GPU: the sandbox gives modules no GPU access',
      });
  }
  const secrets = objectAt(doc['permissions'])?.['secrets'];
  const secretNames = new Set<string>();
  if (Array.isArray(secrets))
    secrets.forEach((secret: unknown, i) => {
      if (typeof secret !== 'string') return;
      const name = secret.replace(/\?$/, '');
      if (secretNames.has(name))
        problems.push({ field: `permissions.secrets.${i}`, message: `${name} is listed twice` });
      secretNames.add(name);
    });
  const entrypoints = doc['entrypoints'];
  if (Array.isArray(entrypoints)) {
    const names = new Set<unknown>();
    entrypoints.forEach((value: unknown, i) => {
      const entry = objectAt(value) ?? {};
      if (typeof entry['name'] === 'string' && names.has(entry['name']))
        problems.push({
          field: `entrypoints.${i}.name`,
          message: `duplicate entrypoint "${entry['name']}"`,
        });
      names.add(entry['name']);
      for (const key of ['input_schema', 'output_schema']) {
        const schema = objectAt(entry[key]);
        const invalid = schema && jsonSchemaProblem(schema);
        if (invalid) problems.push({ field: `entrypoints.${i}.${key}`, message: invalid });
      }
    });
  } else {
    const port = objectAt(objectAt(entrypoints)?.['grpc'])?.['port'];
    // Out-of-range ports are the schema's to report; a valid nonzero one is refused here.
    if (typeof port === 'number' && Number.isInteger(port) && port > 0 && port <= 65535)
      problems.push({
        field: 'entrypoints.grpc.port',
        message:
          'must be 0: a WebAssembly module cannot listen on a port (the sandbox has no sockets); module-host serves it through its own gRPC ModuleService',
      });
  }
  return problems;
}

/** Why `schema` cannot serve as a JSON Schema, or undefined when it can. */
export function jsonSchemaProblem(schema: Record<string, unknown>): string | undefined {
  try {
    schemaValidator(schema);
    return undefined;
  } catch (err) {
    return `not a valid JSON Schema: ${err instanceof Error ? err.message : String(err)}`;
  }
}

function declared(doc: ManifestDocument): DeclaredManifest {
  const { resources } = doc.runtime;
  const filesystem = doc.permissions.filesystem;
  return {
    apiVersion: doc.apiVersion,
    kind: doc.kind,
    metadata: doc.metadata,
    runtime: {
      type: doc.runtime.type,
      ...(doc.runtime.type === 'wasm' ? { wasi: 'preview1' as const } : {}),
      module: doc.runtime.module ?? `${doc.metadata.name}.wasm`,
      resources: {
        memory_bytes:
          resources.memory !== undefined
            ? quantityValue('memory', resources.memory)
            : resources.memory_mb! * MIB,
        ...(resources.cpu !== undefined ? { cpu_millis: quantityValue('cpu', resources.cpu) } : {}),
        ...(resources.cpu_millis !== undefined ? { cpu_millis: resources.cpu_millis } : {}),
        ...(resources.accelerator ? { accelerator: resources.accelerator } : {}),
        ...(resources.pids !== undefined ? { pids: resources.pids } : {}),
        ...(resources.gpu
          ? {
              gpu: {
                required: resources.gpu.required ?? false,
                vendor: resources.gpu.vendor ?? 'none',
                ...(resources.gpu.count !== undefined ? { count: resources.gpu.count } : {}),
                ...(resources.gpu.memory !== undefined
                  ? { memory_bytes: quantityValue('gpuMemory', resources.gpu.memory) }
                  : {}),
              },
            }
          : {}),
      },
    },
    permissions: {
      filesystem:
        filesystem === 'read-only' ? 'package' : filesystem === 'none' ? [] : [...filesystem],
      network: doc.permissions.network === 'deny' ? [] : [...doc.permissions.network],
      secrets: [...doc.permissions.secrets],
    },
    entrypoints: Array.isArray(doc.entrypoints)
      ? doc.entrypoints.map(({ input_schema, output_schema, ...entry }) => ({
          ...entry,
          input: { schema: input_schema },
          output: { schema: output_schema },
        }))
      : [
          {
            name: DEFAULT_ENTRYPOINT,
            ...(doc.entrypoints.grpc ? { grpc: { port: doc.entrypoints.grpc.port } } : {}),
            input: { file: doc.entrypoints.schema.input, field: 'entrypoints.schema.input' },
            output: { file: doc.entrypoints.schema.output, field: 'entrypoints.schema.output' },
          },
        ],
    intents: doc.intents,
    policies: doc.policies,
  };
}

/**
 * A manifest as read back from the store. Installs made before memory quantities existed stored
 * the manifest as written (memory_mb, gpu without `required`); they are read in today's shape.
 */
export function storedManifest(stored: unknown): AgentManifest {
  const manifest = stored as AgentManifest;
  const resources = manifest.runtime.resources as AgentManifest['runtime']['resources'] & {
    memory_mb?: number;
    gpu?: { required?: boolean; vendor: GpuVendor };
  };
  if (typeof resources.memory_bytes === 'number') return manifest;
  const { memory_mb, gpu, ...rest } = resources;
  return {
    ...manifest,
    runtime: {
      ...manifest.runtime,
      resources: {
        ...rest,
        memory_bytes: (memory_mb ?? 0) * MIB,
        ...(gpu ? { gpu: { required: gpu.required ?? false, vendor: gpu.vendor } } : {}),
      },
    },
  };
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
    field: fieldOf(e.instancePath),
    message: e.message ?? 'is invalid',
  }));
}

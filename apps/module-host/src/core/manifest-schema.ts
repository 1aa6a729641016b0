/**
 * The JSON Schema every aion.yaml is checked against. Two spellings are accepted for several
 * fields: the blueprint's (Kubernetes-style quantities, permission words, an entrypoint object
 * with schema files) and the original one the sample packages use (memory_mb, lists, inline
 * schemas). Two keywords of our own carry what JSON Schema cannot say:
 *   - `quantity`: the value is a Kubernetes quantity within a rule of QUANTITY_RULES;
 *   - `problem`: what an author is told when the value fails this (sub)schema.
 */

import { ACCELERATOR_NEEDS } from '@aion/config';

export const NAME = '^[a-z][a-z0-9_-]{1,62}$';
const SEMVER =
  '^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)(-[0-9A-Za-z.-]+)?(\\+[0-9A-Za-z.-]+)?$';
const RELATIVE_PATH = '^(?!/)(?!.*(^|/)\\.\\.(/|$))[A-Za-z0-9._/-]{1,255}$';
const MIB = 1024 * 1024;

/** wasm32 addresses at most 4 GiB; the smallest limit worth running is 1 MiB. */
export const MEMORY_LIMITS = { minBytes: MIB, maxBytes: 4096 * MIB };
export const CPU_LIMITS = { minMillis: 1, maxMillis: 64_000 };

const PATH_PROBLEM =
  'must be a path inside the package: relative, without ".." (absolute paths and escapes are refused)';
export const NETWORK_PROBLEM =
  'must be deny (or an empty list): WebAssembly modules cannot be granted network access, the sandbox has no sockets; a subprocess module may list the host:port it reaches';
const FILESYSTEM_PROBLEM =
  'must be read-only, none, or a list of package files: the sandbox lets a module read its own package files, never write to the host (read-write cannot be granted)';

const relativePath = { type: 'string', pattern: RELATIVE_PATH, problem: PATH_PROBLEM } as const;

const inlineEntrypoints = {
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
} as const;

const entrypointObject = {
  type: 'object',
  additionalProperties: false,
  required: ['schema'],
  properties: {
    grpc: {
      type: 'object',
      additionalProperties: false,
      required: ['port'],
      properties: {
        port: {
          type: 'integer',
          minimum: 0,
          maximum: 65535,
          problem: 'must be a port number from 0 to 65535 (0: assigned by the host)',
        },
      },
    },
    schema: {
      type: 'object',
      additionalProperties: false,
      required: ['input', 'output'],
      properties: { input: relativePath, output: relativePath },
    },
  },
} as const;

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
        signatures: {
          type: 'object',
          additionalProperties: false,
          required: ['cosign'],
          properties: {
            cosign: {
              type: 'string',
              maxLength: 2048,
              pattern: '^[a-z][a-z0-9+.-]*://\\S+$',
              problem:
                'must be a signature reference such as sigstore://registry/repository@sha256:…',
            },
          },
        },
        sbom: {
          type: 'string',
          maxLength: 2048,
          pattern: '^oci://\\S+$',
          problem: 'must be an oci:// reference to the package SBOM',
        },
      },
    },
    runtime: {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'resources'],
      properties: {
        type: {
          enum: ['wasm', 'subprocess'],
          problem:
            'must be wasm (a WASI module, the default runtime) or subprocess (a native executable in the bubblewrap sandbox)',
        },
        wasi: {
          enum: [true, 'preview1'],
          problem: 'must be true (or preview1): module-host runs WASI preview1 command modules',
        },
        module: relativePath,
        resources: {
          type: 'object',
          additionalProperties: false,
          properties: {
            memory: { quantity: 'memory' },
            memory_mb: { type: 'integer', minimum: 1, maximum: 4096 },
            cpu: { quantity: 'cpu' },
            cpu_millis: { type: 'integer', minimum: 1, maximum: CPU_LIMITS.maxMillis },
            accelerator: {
              enum: [...ACCELERATOR_NEEDS],
              problem: `must be one of ${ACCELERATOR_NEEDS.join(', ')}: the module-host pool the module must run in (cpu runs in any pool)`,
            },
            /** Processes and threads a subprocess module may run at once (an rlimit). */
            pids: { type: 'integer', minimum: 1, maximum: 1024 },
            gpu: {
              type: 'object',
              additionalProperties: false,
              properties: {
                required: { type: 'boolean' },
                // nvidia, amd, intel; cuda, rocm and oneapi (the first spelling) name the same.
                vendor: { enum: ['none', 'nvidia', 'amd', 'intel', 'cuda', 'rocm', 'oneapi'] },
                count: { type: 'integer', minimum: 1, maximum: 16 },
                memory: { quantity: 'gpuMemory' },
              },
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
          problem: FILESYSTEM_PROBLEM,
          anyOf: [
            { type: 'string', enum: ['read-only', 'none'], problem: FILESYSTEM_PROBLEM },
            {
              type: 'array',
              items: relativePath,
              maxItems: 256,
              uniqueItems: true,
            },
          ],
        },
        // WebAssembly modules get no network: the host provides no sockets at all. Subprocess
        // modules may list host:port destinations (their form and the runtime: manifest.ts).
        network: {
          problem: NETWORK_PROBLEM,
          anyOf: [
            { type: 'string', const: 'deny', problem: NETWORK_PROBLEM },
            {
              type: 'array',
              maxItems: 32,
              uniqueItems: true,
              items: { type: 'string', maxLength: 260 },
              problem: NETWORK_PROBLEM,
            },
          ],
        },
        secrets: {
          type: 'array',
          items: {
            type: 'string',
            pattern: '^[A-Z][A-Z0-9_]{0,63}\\??$',
            problem:
              'must be an environment-style name (A-Z, 0-9, _), ending in ? when the secret is optional',
          },
          maxItems: 32,
        },
      },
    },
    entrypoints: {
      problem:
        'must be a list of entrypoints with inline input_schema and output_schema, or one entrypoint {grpc, schema: {input, output}}',
      anyOf: [inlineEntrypoints, entrypointObject],
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

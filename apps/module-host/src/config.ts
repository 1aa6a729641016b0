import os from 'node:os';
import { z } from 'zod';
import { accelerator, bool, csv, field, poolName, positiveInt } from '@aion/config';
import { loadConfigFor } from '@aion/runtime';

/** What the module-host service needs in distributed mode; embedded mode stands in for all of it. */
export const moduleHostInfraNeeds = { database: true, kafka: true };

const P = 'AION_MODULE_HOST_';

export const moduleHostConfigSpec = {
  workers: field(
    `${P}WORKERS`,
    positiveInt(Math.max(1, os.availableParallelism())),
    'Worker threads that run modules',
  ),
  maxQueue: field(
    `${P}MAX_QUEUE`,
    z.coerce.number().int().min(0).default(256),
    'Invocations that may wait for a worker before new ones are refused (503)',
  ),
  maxOutputBytes: field(
    `${P}MAX_OUTPUT_BYTES`,
    positiveInt(1024 * 1024),
    'Most a module may write to stdout',
  ),
  packageRoots: field(
    `${P}PACKAGE_ROOTS`,
    csv(),
    'Directories packages may be installed from by path (others are refused)',
  ),
  pool: field(
    `${P}POOL`,
    poolName('default'),
    'Name of the module-host pool this instance belongs to (the chart sets it per pool Deployment)',
  ),
  accelerator: field(
    `${P}ACCELERATOR`,
    accelerator('cpu'),
    "The pool's accelerator: cpu, cuda, rocm or oneapi; the orchestrator sends a module only to a pool whose accelerator the module's manifest accepts",
  ),
  trustPolicy: field(
    `${P}TRUST_POLICY`,
    z.string().optional(),
    'YAML file of the signing keys and keyless identities (under a sigstore trusted_root.json) each tenant trusts and the SBOM components it denies; without it, every install from a registry is refused',
  ),
  requireSigned: field(
    `${P}REQUIRE_SIGNED`,
    bool(false),
    'true: packages are installed only from a registry, signed and with an SBOM (uploads and paths are refused; AION_MODULE_HOST_PRELOAD still installs at startup)',
  ),
  subprocess: field(
    `${P}SUBPROCESS`,
    z.enum(['auto', 'off']).default('auto'),
    'auto: run runtime.type subprocess packages under bubblewrap where it is installed; off: refuse them on this host',
  ),
  secretsDir: field(
    `${P}SECRETS_DIR`,
    z.string().optional(),
    "Directory of tenants' secrets (<dir>/<tenant>/<NAME>) injected into subprocess modules that declare them",
  ),
  registryCredentials: field(
    `${P}REGISTRY_CREDENTIALS`,
    z
      .string()
      .regex(/^[^:]+:.+$/, 'must be user:password')
      .optional(),
    'user:password for registries (basic authentication, or what their token service is asked with); without it, anonymous',
    { sensitive: true },
  ),
  registries: field(
    `${P}REGISTRIES`,
    csv(),
    'OCI registries packages may be installed from (host or host:port, comma-separated); none when unset: module-host contacts no registry it was not told to',
  ),
  registryTimeoutMs: field(
    `${P}REGISTRY_TIMEOUT_MS`,
    positiveInt(15_000),
    'Most one request to an OCI registry may take',
  ),
  preload: field(
    `${P}PRELOAD`,
    csv(),
    'Package directories installed at startup when not yet installed',
  ),
};

/** Validated at startup from AION_MODULE_HOST_* and the shared variables; one error lists every problem. */
export function loadModuleHostConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfigFor('module-host', moduleHostConfigSpec, moduleHostInfraNeeds, env);
}

export type ModuleHostConfig = ReturnType<typeof loadModuleHostConfig>;

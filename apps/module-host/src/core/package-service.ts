import { createHash, randomUUID } from 'node:crypto';
import { AionError, type ErrorDetail } from '@aion/errors';
import { currentTenant, SYSTEM_TENANT } from '@aion/tenancy';
import { parseManifest, schemaErrors, schemaValidator, type AgentManifest } from './manifest';
import { resolveManifest } from './package-manifest';
import { gpuVendorOf } from './manifest';
import type {
  NativeRunner,
  PackageRepository,
  SecretSource,
  PackageSummary,
  SandboxResult,
  SandboxRunner,
  StoredPackage,
} from './ports';
import { describeBytes, memoryLimits, pagesToBytes } from './wasm-inspect';

/** A package's files as read from a directory or an archive, before validation. */
export interface RawPackage {
  files: Map<string, Uint8Array>;
}

export interface InvokeInput {
  name: string;
  version?: string | undefined;
  entrypoint?: string | undefined;
  input: unknown;
  onPartial?: (text: string) => void;
}

export interface InvokeOutput {
  output: unknown;
  durationMs: number;
  memoryPeakBytes: number;
  package: { name: string; version: string };
}

const STDERR_DETAIL_LIMIT = 500;

/**
 * Installs, describes, removes and invokes agent packages. Everything a package claims is checked
 * at install: the manifest against its schema, the module against WebAssembly and against the
 * manifest's memory limit, every declared file against the package's contents.
 */
export class PackageService {
  private readonly compiled = new Map<string, Promise<WebAssembly.Module>>();
  /**
   * Resolved packages by "name@version" (or "name@" for the newest), kept for `cacheTtlMs`:
   * loading a package's bytes costs far more than running it. Changes made through this replica
   * take effect at once; those made through another replica within the TTL.
   */
  private readonly cache = new Map<string, { pkg: StoredPackage; until: number }>();
  /** Lookups in flight by the same key: callers arriving together share one. */
  private readonly loading = new Map<string, Promise<StoredPackage>>();
  /** Bumped by every install and uninstall here, so a lookup that overlapped one is not kept. */
  private generation = 0;

  constructor(
    private readonly repository: PackageRepository,
    private readonly sandbox: SandboxRunner,
    private readonly cacheTtlMs = 5000,
    /** Runs `runtime.type: subprocess` packages; without it they are refused at install. */
    private readonly native?: NativeRunner,
    /** Tenants' secrets for subprocess modules that declare them. */
    private readonly secrets?: SecretSource,
  ) {}

  /** `source` says where a verified package came from; it is kept in the install's audit record. */
  async install(
    raw: RawPackage,
    options: { ifAbsent?: boolean; source?: Record<string, unknown> } = {},
  ): Promise<PackageSummary> {
    const { manifest, wasm, files, digest } = await this.inspect(raw);
    const existing = await this.repository.find(manifest.metadata.name, manifest.metadata.version);
    if (existing) {
      if (options.ifAbsent && existing.digestSha256 === digest) return summary(existing);
      throw new AionError(
        'state.conflict',
        `${manifest.metadata.name}@${manifest.metadata.version} is already installed${existing.digestSha256 === digest ? '' : ' with different contents; publish a new version'}`,
      );
    }
    const stored: StoredPackage = {
      id: randomUUID(),
      name: manifest.metadata.name,
      version: manifest.metadata.version,
      manifest,
      wasm,
      files,
      digestSha256: digest,
      installedAt: new Date(),
    };
    await this.repository.insert(stored, {
      action: 'modules.install',
      resourceId: `${stored.name}@${stored.version}`,
      details: {
        digest_sha256: digest,
        intents: manifest.intents,
        ...(options.source ? { source: options.source } : {}),
      },
    });
    this.forget();
    return summary(stored);
  }

  /** Checks everything a package claims against its files; throws listing every problem. */
  private async inspect(raw: RawPackage) {
    const manifestFile = raw.files.get('aion.yaml') ?? raw.files.get('aion.yml');
    if (!manifestFile)
      throw new AionError('validation.unprocessable', 'package has no aion.yaml at its root');
    const parsed = parseManifest(Buffer.from(manifestFile).toString('utf8'));
    if (!parsed.manifest)
      throw new AionError('validation.unprocessable', 'aion.yaml is invalid', {
        details: parsed.problems.map((p) => ({ field: p.field, message: p.message })),
      });
    const declared = parsed.manifest;
    const { module } = declared.runtime;
    const problems: ErrorDetail[] = [];
    const wasm = raw.files.get(module);
    if (!wasm)
      problems.push({
        field: 'runtime.module',
        message: `${module} is not in the package${module === `${declared.metadata.name}.wasm` ? ' (without runtime.module, the module is <name>.wasm at the package root)' : ''}`,
      });
    const { resolved, problems: fileProblems } = resolveManifest(declared, raw.files);
    problems.push(...fileProblems);
    if (declared.runtime.type === 'subprocess' && !this.native)
      problems.push({
        field: 'runtime.type',
        message:
          'this module host has no subprocess sandbox (bubblewrap); install the package where one runs',
      });
    if (wasm && declared.runtime.type === 'wasm')
      problems.push(...(await this.checkModule(wasm, declared.runtime.resources)));
    if (problems.length || !resolved || !wasm)
      throw new AionError(
        'validation.unprocessable',
        `package ${declared.metadata.name}@${declared.metadata.version} was refused`,
        { details: problems },
      );
    // Over the manifest as written (not as normalized), so a package installed before the
    // normalized form existed keeps its digest and `ifAbsent` still recognises it.
    const hash = createHash('sha256').update(wasm).update(JSON.stringify(parsed.document));
    for (const file of resolved.schemaFiles)
      hash.update(`\0${file}\0`).update(raw.files.get(file)!);
    return {
      manifest: resolved.manifest,
      wasm,
      files: resolved.readable,
      digest: hash.digest('hex'),
    };
  }

  async describe(name: string, version?: string): Promise<StoredPackage> {
    const key = `${name}@${version ?? ''}`;
    const cached = this.cache.get(key);
    if (cached && cached.until > Date.now()) return cached.pkg;
    let loading = this.loading.get(key);
    if (!loading) {
      const started = this.load(key, name, version, cached?.pkg).finally(() => {
        if (this.loading.get(key) === started) this.loading.delete(key);
      });
      this.loading.set(key, (loading = started));
    }
    return loading;
  }

  private forget(): void {
    this.generation++;
    this.cache.clear();
    this.loading.clear();
  }

  /** When the cached install is still the one to use, only its id is read, not its bytes. */
  private async load(
    key: string,
    name: string,
    version: string | undefined,
    previous: StoredPackage | undefined,
  ): Promise<StoredPackage> {
    const generation = this.generation;
    const id = await this.repository.resolve(name, version);
    const pkg = id && previous?.id === id ? previous : id && (await this.repository.findById(id));
    if (!pkg) {
      this.cache.delete(key);
      throw AionError.notFound('module', version ? `${name}@${version}` : name);
    }
    if (this.cacheTtlMs > 0 && generation === this.generation)
      this.cache.set(key, { pkg, until: Date.now() + this.cacheTtlMs });
    return pkg;
  }

  list(options: { intent?: string; limit: number; offset: number }) {
    return this.repository.list(options);
  }

  async uninstall(name: string, version?: string): Promise<void> {
    const resourceId = version ? `${name}@${version}` : name;
    const removed = await this.repository.remove(name, version, {
      action: 'modules.uninstall',
      resourceId,
      details: {},
    });
    this.forget();
    if (removed === 0) throw AionError.notFound('module', resourceId);
  }

  async invoke(request: InvokeInput): Promise<InvokeOutput> {
    const pkg = await this.describe(request.name, request.version);
    const entry = request.entrypoint
      ? pkg.manifest.entrypoints.find((e) => e.name === request.entrypoint)
      : pkg.manifest.entrypoints[0];
    if (!entry)
      throw new AionError(
        'validation.invalid_argument',
        `module ${pkg.name} has no entrypoint ${request.entrypoint}; it has ${pkg.manifest.entrypoints.map((e) => e.name).join(', ')}`,
      );
    const validateInput = schemaValidator(entry.input_schema);
    if (!validateInput(request.input))
      throw new AionError(
        'validation.invalid_argument',
        `input does not match ${pkg.name}.${entry.name}'s input schema`,
        { details: schemaErrors(validateInput) },
      );
    const stdin = Buffer.from(JSON.stringify(request.input));
    const started = performance.now();
    let attempt = 0;
    for (;;) {
      const result = await this.runOnce(pkg, entry.name, stdin, request.onPartial);
      const retryable = !result.ok && result.kind === 'trap';
      if (retryable && attempt++ < pkg.manifest.policies.retries) continue;
      const durationMs = Math.round(performance.now() - started);
      if (!result.ok)
        throw new AionError(
          'validation.unprocessable',
          `module ${pkg.name} failed: ${result.kind === 'trap' ? `it trapped (${result.message})` : result.message}`,
        );
      if (result.exitCode !== 0) {
        throw new AionError(
          'validation.unprocessable',
          `module ${pkg.name} exited with code ${result.exitCode}`,
          {
            details: [
              {
                field: 'stderr',
                message: result.stderr
                  .split('\n')
                  .filter((l) => !l.startsWith('aion:partial '))
                  .join('\n')
                  .slice(0, STDERR_DETAIL_LIMIT),
              },
            ],
          },
        );
      }
      let output: unknown;
      try {
        output = JSON.parse(Buffer.from(result.stdout).toString('utf8'));
      } catch {
        throw new AionError(
          'validation.unprocessable',
          `module ${pkg.name} did not write one JSON document to stdout`,
        );
      }
      const validateOutput = schemaValidator(entry.output_schema);
      if (!validateOutput(output))
        throw new AionError(
          'validation.unprocessable',
          `module ${pkg.name} returned output that does not match its output schema`,
          { details: schemaErrors(validateOutput) },
        );
      return {
        output,
        durationMs,
        memoryPeakBytes: result.memoryBytes,
        package: { name: pkg.name, version: pkg.version },
      };
    }
  }

  /** One run in the package's runtime: the WebAssembly worker pool or the subprocess sandbox. */
  private async runOnce(
    pkg: StoredPackage,
    entry: string,
    stdin: Uint8Array,
    onPartial?: (text: string) => void,
  ): Promise<SandboxResult> {
    const { runtime, policies } = pkg.manifest;
    if (runtime.type === 'subprocess') {
      if (!this.native)
        throw new AionError('service.unavailable', 'this module host has no subprocess sandbox');
      const secrets = await this.secretsFor(pkg);
      const gpu = runtime.resources.gpu;
      const vendor = gpu?.required ? gpuVendorOf(gpu.vendor) : undefined;
      const tenant = currentTenant();
      return this.native.run({
        packageKey: pkg.id,
        owner: { tenantId: tenant?.tenantId ?? SYSTEM_TENANT, runId: tenant?.requestId ?? 'run' },
        modulePath: runtime.module,
        module: pkg.wasm,
        files: pkg.files,
        args: [entry],
        stdin,
        timeoutMs: policies.timeout_ms,
        memoryBytes: runtime.resources.memory_bytes,
        maxProcesses: runtime.resources.pids ?? 32,
        ...(runtime.resources.cpu_millis ? { cpuMillis: runtime.resources.cpu_millis } : {}),
        secrets,
        network: pkg.manifest.permissions.network ?? [],
        ...(vendor
          ? {
              gpu: {
                vendor,
                count: gpu?.count ?? 1,
                ...(gpu?.memory_bytes ? { memoryBytes: gpu.memory_bytes } : {}),
              },
            }
          : {}),
      });
    }
    return this.sandbox.run({
      packageKey: pkg.id,
      module: await this.moduleOf(pkg),
      args: [pkg.name, entry],
      stdin,
      files: pkg.files,
      timeoutMs: policies.timeout_ms,
      ...(onPartial ? { onPartial } : {}),
    });
  }

  /**
   * The calling tenant's values of the secrets the manifest declares (a trailing `?`: optional);
   * a required one the tenant has not set fails the invocation before anything runs.
   */
  private async secretsFor(pkg: StoredPackage): Promise<Record<string, string>> {
    const declared = pkg.manifest.permissions.secrets;
    if (!declared.length) return {};
    const names = declared.map((s) => s.replace(/\?$/, ''));
    const tenantId = currentTenant()?.tenantId ?? SYSTEM_TENANT;
    const values = this.secrets ? await this.secrets.read(tenantId, names) : {};
    const missing = declared.filter((s) => !s.endsWith('?') && values[s] === undefined);
    if (missing.length)
      throw new AionError(
        'validation.unprocessable',
        `module ${pkg.name} needs secrets this tenant has not set: ${missing.join(', ')}`,
        { details: missing.map((name) => ({ field: 'permissions.secrets', message: name })) },
      );
    return values;
  }

  /** Compiles once per module digest; later invocations reuse the compiled module. */
  private moduleOf(pkg: StoredPackage): Promise<WebAssembly.Module> {
    let module = this.compiled.get(pkg.digestSha256);
    if (!module) {
      module = WebAssembly.compile(pkg.wasm);
      this.compiled.set(pkg.digestSha256, module);
    }
    return module;
  }

  private async checkModule(
    wasm: Uint8Array,
    resources: AgentManifest['runtime']['resources'],
  ): Promise<ErrorDetail[]> {
    let module: WebAssembly.Module;
    try {
      module = await WebAssembly.compile(wasm);
    } catch (err) {
      return [
        {
          field: 'runtime.module',
          message: `not a valid WebAssembly module: ${err instanceof Error ? err.message : String(err)}`,
        },
      ];
    }
    const problems: ErrorDetail[] = [];
    const exports = WebAssembly.Module.exports(module);
    if (
      !exports.some((e) => e.name === '_start' && e.kind === 'function') ||
      !exports.some((e) => e.name === 'memory' && e.kind === 'memory')
    ) {
      problems.push({
        field: 'runtime.module',
        message: 'module must be a WASI command exporting _start and memory',
      });
    }
    const foreign = WebAssembly.Module.imports(module).filter(
      (i) => i.module !== 'wasi_snapshot_preview1',
    );
    if (foreign.length)
      problems.push({
        field: 'runtime.module',
        message: `module imports from outside WASI preview1: ${foreign.map((i) => `${i.module}.${i.name}`).join(', ')}`,
      });
    const limit = resources.memory_bytes;
    for (const memory of memoryLimits(wasm)) {
      if (memory.maxPages === undefined)
        problems.push({
          field: 'runtime.module',
          message:
            "module declares no memory maximum; build it with one (e.g. -Wl,--max-memory) within the manifest's memory limit",
        });
      else if (pagesToBytes(memory.maxPages) > limit)
        problems.push({
          field: 'runtime.resources',
          message: `module declares up to ${describeBytes(pagesToBytes(memory.maxPages))} of memory, more than the manifest's limit of ${describeBytes(limit)}`,
        });
    }
    return problems;
  }
}

function summary(pkg: StoredPackage): PackageSummary {
  return {
    id: pkg.id,
    name: pkg.name,
    version: pkg.version,
    manifest: pkg.manifest,
    digestSha256: pkg.digestSha256,
    installedAt: pkg.installedAt,
  };
}

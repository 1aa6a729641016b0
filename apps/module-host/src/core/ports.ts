import type { TrustPolicy, VerifiedArtifact } from '@aion/supply-chain';
import type { AgentManifest } from './manifest';

/** One invocation, as the sandbox needs it. */
export interface SandboxRun {
  /** Names this module and these files for good (a package install); runners may cache by it. */
  packageKey: string;
  module: WebAssembly.Module;
  args: string[];
  stdin: Uint8Array;
  files: ReadonlyMap<string, Uint8Array>;
  timeoutMs: number;
  onPartial?: (text: string) => void;
}

export type SandboxResult =
  | { ok: true; exitCode: number; stdout: Uint8Array; stderr: string; memoryBytes: number }
  | {
      ok: false;
      kind: 'trap' | 'output_limit' | 'invalid_module';
      message: string;
      stderr: string;
      memoryBytes: number;
    };

/** Runs modules in isolation (the worker pool); rejects with AionError on timeout or overload. */
export interface SandboxRunner {
  run(run: SandboxRun): Promise<SandboxResult>;
}

/** A package as stored: manifest, module bytes, declared files. */
export interface StoredPackage {
  id: string;
  name: string;
  version: string;
  manifest: AgentManifest;
  wasm: Uint8Array;
  files: Map<string, Uint8Array>;
  digestSha256: string;
  installedAt: Date;
}

export type PackageSummary = Omit<StoredPackage, 'wasm' | 'files'>;

/** An admin action, recorded (as an audit.recorded event) in the same transaction as its change. */
export interface AuditEntry {
  action: string;
  resourceId: string;
  details: Record<string, unknown>;
  /** success unless said: a refusal is denied. */
  outcome?: 'success' | 'denied' | 'failure';
}

/** Platform-wide package store (packages are installed by operators for every tenant). */
export interface PackageRepository {
  /** Inserts; throws AionError state.conflict when name@version exists. */
  insert(pkg: StoredPackage, audit: AuditEntry): Promise<void>;
  find(name: string, version?: string): Promise<StoredPackage | undefined>;
  /** The id of the install `find` would return, without reading its bytes. */
  resolve(name: string, version?: string): Promise<string | undefined>;
  findById(id: string): Promise<StoredPackage | undefined>;
  list(options: {
    intent?: string;
    limit: number;
    offset: number;
  }): Promise<{ items: PackageSummary[]; total: number }>;
  /** Removes one version, or every version when none is given; returns how many were removed. */
  remove(name: string, version: string | undefined, audit: AuditEntry): Promise<number>;
}

/** A package an install refused, as kept in quarantine (never its bytes: nothing here runs). */
export interface QuarantineEntry {
  id: string;
  reference: string;
  digest: string | undefined;
  name: string | undefined;
  version: string | undefined;
  reason: string;
  message: string;
  config: Record<string, unknown> | undefined;
  sbom: Record<string, unknown> | undefined;
  quarantinedAt: Date;
}

/** The acting tenant's quarantine; every change is recorded on audit.activity with it. */
export interface QuarantineRepository {
  /** Records the refusal (outcome denied) in the same transaction. */
  add(entry: QuarantineEntry, audit: AuditEntry): Promise<void>;
  list(options: {
    limit: number;
    offset: number;
  }): Promise<{ items: QuarantineEntry[]; total: number }>;
  get(id: string): Promise<QuarantineEntry | undefined>;
  remove(id: string, audit: AuditEntry): Promise<boolean>;
}

/** Where packages are pulled from by reference (an OCI registry), verified against a policy. */
export interface PackageRegistry {
  /** Throws ArtifactRefused for what the policy refuses, AionError for registry faults. */
  pull(reference: string, policy: TrustPolicy): Promise<VerifiedArtifact>;
}

/** The keys each tenant trusts and the components it denies. */
export interface TrustPolicies {
  forTenant(tenantId: string): TrustPolicy;
}

/** One invocation of a native (subprocess) module. */
export interface NativeRun {
  /** Names this package's files for good; runners may keep them on disk by it. */
  packageKey: string;
  /** Package path of the executable, and its bytes. */
  modulePath: string;
  module: Uint8Array;
  files: ReadonlyMap<string, Uint8Array>;
  args: string[];
  stdin: Uint8Array;
  timeoutMs: number;
  memoryBytes: number;
  cpuMillis?: number;
  maxProcesses: number;
  gpu?: { vendor: 'nvidia' | 'amd' | 'intel'; count: number; memoryBytes?: number };
  /** `host:port` the module may reach; empty or absent: no network. */
  network?: string[];
  /** The tenant's secrets the manifest declares, as environment variables. */
  secrets?: Record<string, string>;
  /** Whose run this is (names its cgroup). */
  owner?: { tenantId: string; runId: string };
}

/** How a native run was limited: a cgroup of its own (v2, or v1 on hybrid hosts) or rlimits. */
export interface AppliedLimits {
  mechanism: 'cgroup2' | 'cgroup1' | 'rlimit';
  /** Processes the cgroup's memory limit killed. */
  oomKills?: number;
  /** Forks the cgroup's process limit refused. */
  pidsLimitHits?: number;
}

export type NativeResult = SandboxResult & { devices?: string[]; limits?: AppliedLimits };

/**
 * Runs native modules in the subprocess sandbox; rejects with AionError on timeout, or when the
 * GPUs asked for are not here (`validation.unprocessable`, saying why).
 */
export interface NativeRunner {
  run(run: NativeRun): Promise<NativeResult>;
}

/** A tenant's secrets by name; only names a module declares are ever asked for. */
export interface SecretSource {
  /** The values of those of `names` the tenant has set. */
  read(tenantId: string, names: readonly string[]): Promise<Record<string, string>>;
}

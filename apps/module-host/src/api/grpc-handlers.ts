import {
  fromJson,
  toJson,
  type JsonObject,
  type JsonValue,
  type MessageInitShape,
} from '@bufbuild/protobuf';
import { timestampFromDate, ValueSchema } from '@bufbuild/protobuf/wkt';
import { ModuleService, type ModuleSchema, type QuarantinedModuleSchema } from '@aion/contracts';
import { AionError } from '@aion/errors';
import { nextPageToken, pageWindow, type GrpcServer } from '@aion/grpc';
import type { PackageService, RawPackage } from '../core/package-service';
import type { PackageSummary, QuarantineEntry } from '../core/ports';
import type { RegistryInstaller } from '../core/registry-install';

export interface PackageSources {
  /** Reads a package directory, only under the configured package roots. */
  fromPath(path: string): Promise<RawPackage>;
  fromTarball(bytes: Uint8Array): Promise<RawPackage>;
}

function toModule(pkg: PackageSummary): MessageInitShape<typeof ModuleSchema> {
  const m = pkg.manifest;
  return {
    id: pkg.id,
    name: pkg.name,
    version: pkg.version,
    description: m.metadata.description ?? '',
    runtime: m.runtime.type,
    intents: m.intents,
    entrypoints: m.entrypoints.map((e) => ({
      name: e.name,
      inputSchema: e.input_schema as JsonObject,
      outputSchema: e.output_schema as JsonObject,
    })),
    permissions: m.permissions,
    resources: {
      // Whole MiB within the limit (the contract's unit); the exact bytes are in the manifest.
      memoryMb: Math.floor(m.runtime.resources.memory_bytes / (1024 * 1024)),
      cpuMillis: m.runtime.resources.cpu_millis ?? 0,
      gpuVendor:
        m.runtime.resources.gpu?.vendor === 'none' ? '' : (m.runtime.resources.gpu?.vendor ?? ''),
      // Packages installed before the field existed declared none: they run anywhere.
      accelerator: m.runtime.resources.accelerator ?? 'cpu',
    },
    timeoutMs: m.policies.timeout_ms,
    retries: m.policies.retries,
    digestSha256: pkg.digestSha256,
    installedAt: timestampFromDate(pkg.installedAt),
  };
}

function toQuarantined(entry: QuarantineEntry): MessageInitShape<typeof QuarantinedModuleSchema> {
  return {
    id: entry.id,
    reference: entry.reference,
    digest: entry.digest ?? '',
    name: entry.name ?? '',
    version: entry.version ?? '',
    reason: entry.reason,
    message: entry.message,
    ...(entry.sbom ? { sbom: entry.sbom as JsonObject } : {}),
    quarantinedAt: timestampFromDate(entry.quarantinedAt),
  };
}

function required(value: string, field: string): string {
  if (!value)
    throw new AionError('validation.invalid_argument', `${field} is required`, {
      details: [{ field, message: 'is required' }],
    });
  return value;
}

/** The pool this module host serves in, told in every invocation's answer. */
export interface HostPlacement {
  pool: string;
  accelerator: string;
}

/** Maps aion.v1.ModuleService onto the package service: parse, check, call, map back. */
export function registerModuleService(
  server: GrpcServer,
  packages: PackageService,
  sources: PackageSources,
  placement: HostPlacement,
  registry: RegistryInstaller,
  options: { requireSigned: boolean } = { requireSigned: false },
): void {
  server.add(
    ModuleService,
    {
      installModule: async (req) => {
        if (req.source.case === 'ociReference')
          return { module: toModule(await registry.install(req.source.value)) };
        if (options.requireSigned && req.source.case)
          throw new AionError(
            'auth.forbidden',
            'this module host installs only signed packages from a registry: give an oci_reference',
          );
        const raw =
          req.source.case === 'path'
            ? await sources.fromPath(req.source.value)
            : req.source.case === 'tarball'
              ? await sources.fromTarball(req.source.value)
              : undefined;
        if (!raw)
          throw new AionError(
            'validation.invalid_argument',
            'give a path, a tarball or an oci_reference',
            {
              details: [{ field: 'source', message: 'is required' }],
            },
          );
        return { module: toModule(await packages.install(raw)) };
      },
      listModules: async (req) => {
        const { limit, offset } = pageWindow(req.page);
        const { items, total } = await packages.list({
          limit,
          offset,
          ...(req.intent ? { intent: req.intent } : {}),
        });
        return {
          modules: items.map(toModule),
          page: {
            nextPageToken: nextPageToken(offset, items.length, total),
            totalSize: BigInt(total),
          },
        };
      },
      describeModule: async (req) => {
        const pkg = await packages.describe(required(req.name, 'name'), req.version || undefined);
        return { module: toModule(pkg), manifest: pkg.manifest as unknown as JsonObject };
      },
      invokeModule: async (req) => {
        const result = await packages.invoke({
          name: required(req.name, 'name'),
          version: req.version || undefined,
          entrypoint: req.entrypoint || undefined,
          input: req.input ? toJson(ValueSchema, req.input) : null,
        });
        return {
          output: fromJson(ValueSchema, result.output as JsonValue),
          durationMs: result.durationMs,
          memoryPeakBytes: BigInt(result.memoryPeakBytes),
          ...placement,
        };
      },
      invokeModuleStream: async function* (req) {
        const partials: string[] = [];
        let wake: (() => void) | undefined;
        let done = false;
        const invocation = packages
          .invoke({
            name: required(req.name, 'name'),
            version: req.version || undefined,
            entrypoint: req.entrypoint || undefined,
            input: req.input ? toJson(ValueSchema, req.input) : null,
            onPartial: (text) => {
              partials.push(text);
              wake?.();
            },
          })
          .finally(() => {
            done = true;
            wake?.();
          });
        // Observed below; this keeps an abandoned stream (client gone) from leaving it unhandled.
        invocation.catch(() => undefined);
        while (!done || partials.length) {
          if (partials.length)
            yield { event: { case: 'partial' as const, value: partials.shift()! } };
          else await new Promise<void>((resolve) => (wake = resolve));
        }
        const result = await invocation;
        yield {
          event: {
            case: 'done' as const,
            value: {
              output: fromJson(ValueSchema, result.output as JsonValue),
              durationMs: result.durationMs,
              memoryPeakBytes: BigInt(result.memoryPeakBytes),
              ...placement,
            },
          },
        };
      },
      uninstallModule: async (req) => {
        await packages.uninstall(required(req.name, 'name'), req.version || undefined);
        return {};
      },
      listQuarantinedModules: async (req) => {
        const { limit, offset } = pageWindow(req.page);
        const { items, total } = await registry.listQuarantine({ limit, offset });
        return {
          modules: items.map(toQuarantined),
          page: {
            nextPageToken: nextPageToken(offset, items.length, total),
            totalSize: BigInt(total),
          },
        };
      },
      getQuarantinedModule: async (req) => ({
        module: toQuarantined(await registry.inspectQuarantined(required(req.id, 'id'))),
      }),
      deleteQuarantinedModule: async (req) => {
        await registry.deleteQuarantined(required(req.id, 'id'));
        return {};
      },
    },
    {
      installModule: 'operations:manage',
      listModules: 'platform:read',
      describeModule: 'platform:read',
      invokeModule: 'tasks:submit',
      invokeModuleStream: 'tasks:submit',
      uninstallModule: 'operations:manage',
      listQuarantinedModules: 'operations:manage',
      getQuarantinedModule: 'operations:manage',
      deleteQuarantinedModule: 'operations:manage',
    },
  );
}

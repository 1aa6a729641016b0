import {
  defineService,
  resolveMigrationsFolder,
  type EmbeddedShared,
  type ServiceLifecycle,
} from '@aion/runtime';
import { AionError } from '@aion/errors';
import { runWithTenant, SYSTEM_TENANT } from '@aion/tenancy';
import { PostgresPackageRepository } from './adapters/db/package-repository';
import { outbox } from './adapters/db/schema';
import { registerGpuMetrics } from './adapters/gpu/gpu-metrics';
import { SysfsGpuDiscovery } from './adapters/gpu/sysfs-gpus';
import { PostgresQuarantineRepository } from './adapters/db/quarantine-repository';
import {
  readPackageDirectory,
  readPackageTarball,
  PACKAGE_LIMITS,
} from './adapters/packages/package-reader';
import { OciPackageRegistry } from './adapters/registry/oci-registry';
import { trustPoliciesFromFile } from './adapters/registry/trust-file';
import { packageSources } from './adapters/packages/package-sources';
import { SecretDirectory } from './adapters/secrets/secret-directory';
import { BubblewrapRunner } from './adapters/sandbox/native-runner';
import { registerSandboxMetrics } from './adapters/sandbox/sandbox-metrics';
import { probeSandbox } from './adapters/sandbox/probe';
import { sandboxCapabilities } from './adapters/sandbox/subprocess';
import { WorkerPool } from './adapters/sandbox/worker-pool';
import { registerModuleService } from './api/grpc-handlers';
import { moduleHostInfraNeeds, type ModuleHostConfig } from './config';
import { PackageService } from './core/package-service';
import { RegistryInstaller } from './core/registry-install';

/**
 * Composition root of the module-host service: agent packages in WebAssembly sandboxes.
 * Tests, the embedded launcher and main.ts all start it through here.
 */
export function createModuleHostService(
  config: ModuleHostConfig,
  embedded?: { shared: EmbeddedShared; internalTokenSecret: string },
): ServiceLifecycle {
  return defineService({
    service: 'module-host',
    config,
    needs: {
      database: { migrationsFolder: resolveMigrationsFolder(__dirname) },
      bus: moduleHostInfraNeeds.kafka,
    },
    outbox,
    ...(embedded ? { embedded } : {}),
    wire: async ({ infrastructure, outbox: box, logger, metrics }) => {
      const pool = new WorkerPool({
        size: config.workers,
        maxQueue: config.maxQueue,
        maxStdoutBytes: config.maxOutputBytes,
        maxStderrBytes: 256 * 1024,
      });
      const gpus = new SysfsGpuDiscovery();
      const capabilities = sandboxCapabilities();
      const sandboxMetrics = registerSandboxMetrics(metrics.registry, config.pool, {
        queued: () => pool.queued,
        limits: capabilities.limits,
      });
      // Installed is not usable (a container's seccomp profile or masked /proc): one real run says.
      const probe =
        capabilities.bubblewrap && config.subprocess === 'auto' ? await probeSandbox() : undefined;
      if (probe && !probe.ok)
        logger.warn('subprocess sandbox unusable here: subprocess packages are refused', {
          reason: probe.reason,
        });
      const native =
        probe?.ok === true
          ? new BubblewrapRunner({
              gpus,
              pool: config.pool,
              maxStdoutBytes: config.maxOutputBytes,
              onLimits: (mechanism) => sandboxMetrics.subprocessRun(mechanism),
            })
          : undefined;
      logger.info('subprocess sandbox', { ...capabilities, usable: native !== undefined });
      const packages = new PackageService(
        new PostgresPackageRepository(infrastructure.database!.db, box!.writer),
        pool,
        undefined,
        native,
        new SecretDirectory(config.secretsDir),
      );
      const registry = new RegistryInstaller(
        packages,
        new OciPackageRegistry({
          timeoutMs: config.registryTimeoutMs,
          maxBlobBytes: PACKAGE_LIMITS.maxTotalBytes,
          ...(config.registryCredentials ? { basicAuth: config.registryCredentials } : {}),
        }),
        trustPoliciesFromFile(config.trustPolicy),
        new PostgresQuarantineRepository(infrastructure.database!.db, box!.writer),
        readPackageTarball,
        config.registries,
      );
      const system = {
        tenantId: SYSTEM_TENANT,
        subject: 'module-host',
        roles: ['admin'],
        requestId: 'startup',
      };
      for (const dir of config.preload) {
        const pkg = await runWithTenant(system, async () =>
          packages.install(await readPackageDirectory(dir), { ifAbsent: true }),
        ).catch((err: unknown) => {
          // A native sample on a host without bubblewrap (npm start anywhere): skipped, said so.
          if (
            !native &&
            err instanceof AionError &&
            err.details?.some((d) => d.field === 'runtime.type')
          ) {
            logger.warn('package skipped: it needs the subprocess sandbox (bubblewrap)', { dir });
            return undefined;
          }
          throw err;
        });
        if (!pkg) continue;
        logger.info('package available', {
          package: `${pkg.name}@${pkg.version}`,
          digest_sha256: pkg.digestSha256,
        });
      }
      const placement = { pool: config.pool, accelerator: config.accelerator };
      registerGpuMetrics(metrics.registry, config.pool, gpus, () => native?.devicesInUse() ?? {});
      logger.info('module-host pool', placement);
      return {
        registerGrpc: (server) =>
          registerModuleService(
            server,
            packages,
            packageSources(config.packageRoots),
            placement,
            registry,
            { requireSigned: config.requireSigned },
          ),
        // What limits subprocess modules here (cgroup2, cgroup1, rlimit; none: no sandbox).
        details: { ...placement, subprocess_limits: native ? capabilities.limits : 'none' },
        workers: [
          { name: 'sandbox-pool', start: () => undefined, stop: () => pool.close() },
          { name: 'subprocess-sandbox', start: () => undefined, stop: async () => native?.close() },
        ],
      };
    },
  });
}

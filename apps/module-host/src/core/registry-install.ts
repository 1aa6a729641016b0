import { randomUUID } from 'node:crypto';
import { AionError } from '@aion/errors';
import { ArtifactRefused, parseReference, sbomFileMismatches } from '@aion/supply-chain';
import { currentTenant, SYSTEM_TENANT } from '@aion/tenancy';
import type { PackageService, RawPackage } from './package-service';
import type {
  PackageRegistry,
  PackageSummary,
  QuarantineEntry,
  QuarantineRepository,
  TrustPolicies,
} from './ports';

/**
 * Installs packages from an OCI registry under the acting tenant's trust policy. A package the
 * policy refuses (unsigned, untrusted key, tampered, no SBOM, SBOM not matching the files, a
 * denied component) goes to the tenant's quarantine, recorded as a denied audit.activity event
 * in the same transaction; an accepted one is installed (audited as any install). A registry
 * fault (unreachable, timeout, garbage) installs nothing and quarantines nothing.
 */
export class RegistryInstaller {
  constructor(
    private readonly packages: PackageService,
    private readonly registry: PackageRegistry,
    private readonly trust: TrustPolicies,
    private readonly quarantine: QuarantineRepository,
    private readonly readTarball: (bytes: Uint8Array) => Promise<RawPackage>,
    /** Registries (host or host:port) packages may come from: no other is ever contacted. */
    private readonly allowedRegistries: readonly string[],
  ) {}

  async install(reference: string): Promise<PackageSummary> {
    this.checkRegistry(reference);
    const tenantId = currentTenant()?.tenantId ?? SYSTEM_TENANT;
    const policy = this.trust.forTenant(tenantId);
    try {
      const artifact = await this.registry.pull(reference, policy);
      const raw = await this.readTarball(artifact.layer);
      const mismatches = sbomFileMismatches(artifact.sbom, raw.files);
      if (mismatches.length)
        throw new ArtifactRefused(
          'sbom_invalid',
          `the SBOM does not describe the package's files: ${mismatches.slice(0, 5).join('; ')}`,
          artifact.digest,
          artifact.config,
          artifact.sbom,
        );
      return await this.packages.install(raw, {
        source: {
          reference,
          digest: artifact.digest,
          signed_by: artifact.signedBy,
          sbom_components: artifact.sbom.components.length,
        },
      });
    } catch (err) {
      if (!(err instanceof ArtifactRefused)) throw err;
      const entry: QuarantineEntry = {
        id: randomUUID(),
        reference,
        digest: err.digest,
        name: err.config?.name,
        version: err.config?.version,
        reason: err.reason,
        message: err.message,
        config: err.config as unknown as Record<string, unknown> | undefined,
        sbom: err.sbom as unknown as Record<string, unknown> | undefined,
        quarantinedAt: new Date(),
      };
      await this.quarantine.add(entry, {
        action: 'modules.install',
        resourceId: reference,
        outcome: 'denied',
        details: {
          reason: err.reason,
          message: err.message,
          digest: err.digest ?? null,
          quarantine_id: entry.id,
        },
      });
      throw new AionError(
        'validation.unprocessable',
        `${reference} was refused and quarantined: ${err.message}`,
        {
          details: [
            { field: 'reason', message: err.reason },
            { field: 'quarantine_id', message: entry.id },
          ],
        },
      );
    }
  }

  /** Refuses, before any connection, a reference that is malformed or names an unlisted registry. */
  private checkRegistry(reference: string): void {
    const refuse = (message: string, code = 'validation.unprocessable') =>
      new AionError(code, message, { details: [{ field: 'oci_reference', message }] });
    let host: string;
    try {
      host = parseReference(reference)
        .registry.replace(/^https?:\/\//, '')
        .toLowerCase();
    } catch (err) {
      throw refuse(err instanceof Error ? err.message : String(err), 'validation.invalid_argument');
    }
    // Forbidden, not unprocessable: the deployment's policy, not the package, says no.
    if (!this.allowedRegistries.some((allowed) => allowed.toLowerCase() === host))
      throw refuse(
        `registry ${host} is not one this module host installs from (AION_MODULE_HOST_REGISTRIES: ${this.allowedRegistries.join(', ') || 'none'})`,
        'auth.forbidden',
      );
  }

  listQuarantine(options: { limit: number; offset: number }) {
    return this.quarantine.list(options);
  }

  async inspectQuarantined(id: string): Promise<QuarantineEntry> {
    const entry = await this.quarantine.get(id);
    if (!entry) throw AionError.notFound('quarantined package', id);
    return entry;
  }

  async deleteQuarantined(id: string): Promise<void> {
    const removed = await this.quarantine.remove(id, {
      action: 'modules.quarantine.delete',
      resourceId: id,
      details: {},
    });
    if (!removed) throw AionError.notFound('quarantined package', id);
  }
}

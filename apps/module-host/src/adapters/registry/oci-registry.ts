import { AionError } from '@aion/errors';
import {
  parseReference,
  pullVerified,
  RegistryClient,
  type TrustPolicy,
  type VerifiedArtifact,
} from '@aion/supply-chain';
import type { PackageRegistry } from '../../core/ports';

/** Packages from OCI registries (any that speaks the distribution API), by tag or digest. */
export class OciPackageRegistry implements PackageRegistry {
  private readonly client: RegistryClient;

  constructor(options: { timeoutMs: number; maxBlobBytes: number; basicAuth?: string }) {
    this.client = new RegistryClient(options);
  }

  pull(reference: string, policy: TrustPolicy): Promise<VerifiedArtifact> {
    let ref;
    try {
      ref = parseReference(reference);
    } catch (err) {
      throw new AionError('validation.invalid_argument', (err as Error).message, {
        details: [{ field: 'oci_reference', message: 'registry/repository[:tag|@sha256:…]' }],
      });
    }
    return pullVerified(this.client, ref, policy);
  }
}

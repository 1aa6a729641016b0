import { AionError } from '@aion/errors';
import { MEDIA_TYPES, type Descriptor, type Reference } from './oci';
import { packageParts, type PackageConfig } from './package-artifact';
import type { RegistryClient } from './registry-client';
import { deniedComponents, parseSbom, type CycloneDxSbom } from './sbom';
import type { KeylessRefusal, KeylessTrust } from './keyless';
import { verifyBundle } from './signing';

/**
 * What a tenant trusts: signing keys by key id (PEM); keyless signers (identities under a
 * Sigstore trusted root), if any; and components its packages may not hold.
 */
export interface TrustPolicy {
  keys: ReadonlyMap<string, string>;
  keyless?: KeylessTrust;
  denyComponents: readonly string[];
}

export type SignatureRefusal = 'unsigned' | 'untrusted_key' | 'invalid_signature' | KeylessRefusal;

export type RefusalReason =
  | SignatureRefusal
  | 'tampered'
  | 'sbom_missing'
  | 'sbom_invalid'
  | 'component_denied'
  | 'not_a_package';

export interface VerifiedArtifact {
  digest: string;
  config: PackageConfig;
  layer: Uint8Array;
  sbom: CycloneDxSbom;
  signedBy: string;
}

/** A package the policy refuses, with what was learnt about it (for quarantine). */
export class ArtifactRefused extends AionError {
  constructor(
    readonly reason: RefusalReason,
    message: string,
    readonly digest: string | undefined,
    readonly config: PackageConfig | undefined,
    readonly sbom: CycloneDxSbom | undefined,
  ) {
    super('validation.unprocessable', message, {
      details: [{ field: 'package', message: reason }],
    });
  }
}

/**
 * Pulls a package artifact and checks everything it claims: the manifest, config and layer
 * against their digests, a signature by a key the policy trusts over the manifest, an SBOM
 * referrer (itself signed by a trusted key) that names the package and no denied component.
 * Registry faults (unreachable, timeouts, garbage) throw AionError and are not refusals.
 */
export async function pullVerified(
  client: RegistryClient,
  ref: Reference,
  policy: TrustPolicy,
): Promise<VerifiedArtifact> {
  let digest: string | undefined = undefined;
  let config: PackageConfig | undefined;
  let sbom: CycloneDxSbom | undefined;
  const refuse = (reason: RefusalReason, message: string): never => {
    throw new ArtifactRefused(reason, message, digest, config, sbom);
  };
  const tampering = async <T>(read: () => Promise<T>): Promise<T> => {
    try {
      return await read();
    } catch (err) {
      if (err instanceof AionError && /tampered/.test(err.message)) refuse('tampered', err.message);
      throw err;
    }
  };

  const fetched = await tampering(() => client.fetchManifest(ref, ref.reference));
  digest = fetched.digest;
  let parts: ReturnType<typeof packageParts>;
  try {
    parts = packageParts(fetched.manifest);
  } catch (err) {
    return refuse('not_a_package', (err as Error).message);
  }
  const configBytes = await tampering(() => client.fetchBlob(ref, parts.config));
  try {
    config = JSON.parse(Buffer.from(configBytes).toString('utf8')) as PackageConfig;
  } catch {
    return refuse('not_a_package', 'the package config is not JSON');
  }
  if (typeof config?.name !== 'string' || typeof config.version !== 'string')
    return refuse('not_a_package', 'the package config names no package');

  const referrers = await client.referrers(ref, fetched.digest);
  const signedBy = await signature(client, ref, fetched.digest, fetched.bytes, referrers, policy);
  if (!signedBy.ok) return refuse(signedBy.reason, `package ${signedBy.message}`);

  const sboms = referrers.filter((d) => d.artifactType === MEDIA_TYPES.cyclonedx);
  if (!sboms.length) return refuse('sbom_missing', 'package has no SBOM attached');
  let sbomProblem = '';
  for (const descriptor of sboms) {
    const sbomManifest = await tampering(() => client.fetchManifest(ref, descriptor.digest));
    const layer = sbomManifest.manifest.layers[0];
    if (!layer) continue;
    const sbomSigned = await signature(
      client,
      ref,
      sbomManifest.digest,
      sbomManifest.bytes,
      await client.referrers(ref, sbomManifest.digest),
      policy,
    );
    if (!sbomSigned.ok) {
      sbomProblem = `the SBOM ${sbomSigned.message}`;
      continue;
    }
    const parsed = parseSbom(await tampering(() => client.fetchBlob(ref, layer)));
    if (!parsed) {
      sbomProblem = 'the SBOM is not CycloneDX JSON';
      continue;
    }
    const named = parsed.metadata.component;
    if (named.name !== config.name || named.version !== config.version) {
      sbomProblem = `the SBOM describes ${named.name}@${named.version ?? '?'}, not ${config.name}@${config.version}`;
      continue;
    }
    sbom = parsed;
    break;
  }
  if (!sbom) return refuse('sbom_invalid', sbomProblem || 'no usable SBOM');
  const denied = deniedComponents(sbom, policy.denyComponents);
  if (denied.length)
    return refuse('component_denied', `the SBOM lists denied components: ${denied.join(', ')}`);

  const layer = await tampering(() => client.fetchBlob(ref, parts.layer));
  return { digest: fetched.digest, config, layer, sbom, signedBy: signedBy.signedBy };
}

type SignatureVerdict =
  { ok: true; signedBy: string } | { ok: false; reason: SignatureRefusal; message: string };

/** Refusals that say only "not a signer we trust"; any other says more about the package. */
const NOT_TRUSTED: ReadonlySet<SignatureRefusal> = new Set(['untrusted_key', 'untrusted_identity']);

/** The first signature referrer that verifies; else why none did (the most telling reason). */
async function signature(
  client: RegistryClient,
  ref: Reference,
  digest: string,
  signed: Uint8Array,
  referrers: Descriptor[],
  policy: TrustPolicy,
): Promise<SignatureVerdict> {
  const bundles = referrers.filter((d) => d.artifactType === MEDIA_TYPES.sigstoreBundle);
  if (!bundles.length) return { ok: false, reason: 'unsigned', message: `${digest} is not signed` };
  let worst: SignatureVerdict = {
    ok: false,
    reason: 'untrusted_key',
    message: `${digest} is signed by no trusted key`,
  };
  for (const descriptor of bundles) {
    const { manifest } = await client.fetchManifest(ref, descriptor.digest);
    const layer = manifest.layers[0];
    if (!layer) continue;
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(await client.fetchBlob(ref, layer)).toString('utf8'));
    } catch (err) {
      if (err instanceof AionError) throw err;
      continue;
    }
    const verdict = verifyBundle(json, signed, policy.keys, policy.keyless);
    if (verdict.ok) return verdict;
    if (verdict.reason === 'invalid_signature' || verdict.reason === 'malformed')
      worst = {
        ok: false,
        reason: 'invalid_signature',
        message: `${digest} has a signature that does not verify: ${verdict.message}`,
      };
    else if (NOT_TRUSTED.has(worst.reason) || !NOT_TRUSTED.has(verdict.reason))
      worst = { ok: false, reason: verdict.reason, message: `${digest}: ${verdict.message}` };
  }
  return worst;
}

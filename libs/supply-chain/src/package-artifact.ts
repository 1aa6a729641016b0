import { create as createTar } from 'tar';
import { AionError } from '@aion/errors';
import { MEDIA_TYPES, type Descriptor, type ImageManifest, type Reference } from './oci';
import type { RegistryClient } from './registry-client';
import type { CycloneDxSbom } from './sbom';
import { signBundle } from './signing';

/** What the artifact's config says about the package: enough to list it without the layer. */
export interface PackageConfig {
  name: string;
  version: string;
  /** aion.yaml as parsed. */
  manifest: unknown;
}

/**
 * A package directory as a deterministic tar.gz (sorted names, no owners, a fixed mtime), so the
 * same files always give the same layer digest.
 */
export async function packLayer(dir: string, files: readonly string[]): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  const stream = createTar(
    { cwd: dir, gzip: { level: 9 }, portable: true, mtime: new Date(0), noDirRecurse: true },
    [...files].sort(),
  );
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return new Uint8Array(Buffer.concat(chunks));
}

export interface PushedPackage {
  digest: string;
  descriptor: Descriptor;
}

/** Pushes config, layer and manifest; the manifest under `ref.reference` (a tag). */
export async function pushPackage(
  client: RegistryClient,
  ref: Reference,
  config: PackageConfig,
  layer: Uint8Array,
): Promise<PushedPackage> {
  const configDesc = await client.pushBlob(
    ref,
    MEDIA_TYPES.packageConfig,
    new TextEncoder().encode(JSON.stringify(config)),
  );
  const layerDesc = await client.pushBlob(ref, MEDIA_TYPES.packageLayer, layer);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    artifactType: MEDIA_TYPES.packageArtifact,
    config: configDesc,
    layers: [{ ...layerDesc, annotations: { 'org.opencontainers.image.title': 'package.tar.gz' } }],
    annotations: {
      'org.opencontainers.image.title': config.name,
      'org.opencontainers.image.version': config.version,
    },
  };
  const bytes = new TextEncoder().encode(JSON.stringify(manifest));
  const tag = ref.reference.startsWith('sha256:') ? undefined : ref.reference;
  const digest = await client.pushManifest(ref, MEDIA_TYPES.manifest, bytes, tag);
  return {
    digest,
    descriptor: { mediaType: MEDIA_TYPES.manifest, digest, size: bytes.byteLength },
  };
}

/** Attaches an SBOM to the package (a referrer). */
export function attachSbom(
  client: RegistryClient,
  ref: Reference,
  subject: Descriptor,
  sbom: CycloneDxSbom,
): Promise<Descriptor> {
  return client.pushReferrer(
    ref,
    subject,
    MEDIA_TYPES.cyclonedx,
    new TextEncoder().encode(JSON.stringify(sbom)),
  );
}

/**
 * Signs a manifest already in the registry (the package's, or its SBOM's) and attaches the bundle
 * as a referrer. The bytes signed are those the registry serves for the digest.
 */
export function attachSignature(
  client: RegistryClient,
  ref: Reference,
  digest: string,
  privateKeyPem: string,
): Promise<Descriptor> {
  return attachBundle(client, ref, digest, (bytes) => signBundle(bytes, privateKeyPem));
}

/**
 * Attaches the sigstore bundle `sign` makes over a manifest's bytes (as the registry serves
 * them): a key's, or a keyless one from a Sigstore deployment.
 */
export async function attachBundle(
  client: RegistryClient,
  ref: Reference,
  digest: string,
  sign: (bytes: Uint8Array) => object | Promise<object>,
): Promise<Descriptor> {
  const { bytes } = await client.fetchManifestBytes(ref, digest);
  const bundle = await sign(bytes);
  return client.pushReferrer(
    ref,
    { mediaType: MEDIA_TYPES.manifest, digest, size: bytes.byteLength },
    MEDIA_TYPES.sigstoreBundle,
    new TextEncoder().encode(JSON.stringify(bundle)),
  );
}

/** Checks that a fetched manifest is an Aion package artifact; its config and layer descriptors. */
export function packageParts(manifest: ImageManifest): { config: Descriptor; layer: Descriptor } {
  const layer = manifest.layers[0];
  if (
    manifest.artifactType !== MEDIA_TYPES.packageArtifact ||
    manifest.config.mediaType !== MEDIA_TYPES.packageConfig ||
    manifest.layers.length !== 1 ||
    !layer ||
    layer.mediaType !== MEDIA_TYPES.packageLayer
  )
    throw new AionError(
      'validation.unprocessable',
      `not an Aion package artifact (artifactType ${manifest.artifactType ?? 'none'}, config ${manifest.config.mediaType})`,
    );
  return { config: manifest.config, layer };
}

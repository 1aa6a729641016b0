import { createHash } from 'node:crypto';

/**
 * Agent packages as OCI artifacts, after the ORAS conventions: an image manifest whose
 * `artifactType` is Aion's own, whose config is the package's manifest (aion.yaml as JSON) and
 * whose one layer is the package as a tar.gz. Signatures and SBOMs are referrers: manifests whose
 * `subject` is the package's manifest, with the sigstore and CycloneDX artifact types.
 */
export const MEDIA_TYPES = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  empty: 'application/vnd.oci.empty.v1+json',
  packageArtifact: 'application/vnd.aion.module.v1',
  packageConfig: 'application/vnd.aion.module.config.v1+json',
  packageLayer: 'application/vnd.aion.module.layer.v1.tar+gzip',
  /** What cosign attaches as a referrer with its bundle format. */
  sigstoreBundle: 'application/vnd.dev.sigstore.bundle.v0.3+json',
  cyclonedx: 'application/vnd.cyclonedx+json',
} as const;

/** The empty config of referrers that carry everything in their layer (`{}`). */
export const EMPTY_CONFIG = new TextEncoder().encode('{}');

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType: typeof MEDIA_TYPES.manifest;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType: typeof MEDIA_TYPES.index;
  manifests: Descriptor[];
}

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export function describe(mediaType: string, bytes: Uint8Array): Descriptor {
  return { mediaType, digest: sha256Digest(bytes), size: bytes.byteLength };
}

export const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** `registry/repository[:tag][@digest]`, with `http://` or `https://` optionally in front. */
export interface Reference {
  /** Base URL of the registry, e.g. http://127.0.0.1:5000 */
  registry: string;
  repository: string;
  /** A tag or a digest. */
  reference: string;
}

const REPOSITORY =
  /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/**
 * Parses an artifact reference. Loopback registries are reached over plain HTTP (as docker and
 * oras do); any other over HTTPS unless the scheme says otherwise.
 */
export function parseReference(text: string): Reference {
  const schemeMatch = /^(https?):\/\//.exec(text);
  const rest = schemeMatch ? text.slice(schemeMatch[0].length) : text.replace(/^oci:\/\//, '');
  const slash = rest.indexOf('/');
  if (slash <= 0) throw new Error(`${text} is not a reference: registry/repository[:tag|@digest]`);
  const host = rest.slice(0, slash);
  let path = rest.slice(slash + 1);
  let reference = 'latest';
  const at = path.indexOf('@');
  if (at >= 0) {
    reference = path.slice(at + 1);
    path = path.slice(0, at);
    if (!DIGEST.test(reference)) throw new Error(`${reference} is not a sha256 digest`);
  } else {
    const colon = path.lastIndexOf(':');
    if (colon >= 0) {
      reference = path.slice(colon + 1);
      path = path.slice(0, colon);
      if (!TAG.test(reference)) throw new Error(`${reference} is not a valid tag`);
    }
  }
  if (!REPOSITORY.test(path)) throw new Error(`${path} is not a valid repository name`);
  const loopback = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(host);
  const scheme = schemeMatch?.[1] ?? (loopback ? 'http' : 'https');
  return { registry: `${scheme}://${host}`, repository: path, reference };
}

export function formatReference(ref: Reference, digest?: string): string {
  const host = ref.registry.replace(/^https?:\/\//, '');
  return `${host}/${ref.repository}${digest ? `@${digest}` : DIGEST.test(ref.reference) ? `@${ref.reference}` : `:${ref.reference}`}`;
}

import { AionError } from '@aion/errors';
import {
  DIGEST,
  MEDIA_TYPES,
  sha256Digest,
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  type Reference,
} from './oci';
import { RegistryAuth } from './registry-auth';

/**
 * A client of the OCI distribution API (blobs, manifests, referrers) over Node's fetch (undici).
 * Written here rather than taken from npm: the JavaScript OCI clients there are unmaintained or
 * drive a Docker engine, and the part of the API an artifact needs is six requests. Everything
 * read is checked against its digest, so a registry cannot hand back other bytes than were signed.
 */
export interface RegistryClientOptions {
  /** Per request. */
  timeoutMs?: number;
  /** `user:password`: basic authentication, or the credentials a token service is asked with. */
  basicAuth?: string;
  maxManifestBytes?: number;
  maxBlobBytes?: number;
}

export interface FetchedManifest {
  digest: string;
  bytes: Uint8Array;
  manifest: ImageManifest;
}

function unavailable(ref: Reference, what: string, cause?: unknown): AionError {
  return new AionError(
    'service.unavailable',
    `registry ${ref.registry} ${what}`,
    cause === undefined ? {} : { cause },
  );
}

function garbage(ref: Reference, what: string): AionError {
  return new AionError('validation.unprocessable', `registry ${ref.registry} ${what}`);
}

export class RegistryClient {
  private readonly timeoutMs: number;
  private readonly maxManifestBytes: number;
  private readonly maxBlobBytes: number;
  private readonly auth: RegistryAuth;

  constructor(options: RegistryClientOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxManifestBytes = options.maxManifestBytes ?? 4 * 1024 * 1024;
    this.maxBlobBytes = options.maxBlobBytes ?? 64 * 1024 * 1024;
    this.auth = new RegistryAuth(options.basicAuth, this.timeoutMs);
  }

  private async request(
    ref: Reference,
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: Uint8Array } = {},
    absolute?: string,
  ): Promise<Response> {
    const url = absolute ?? `${ref.registry}/v2/${ref.repository}${path}`;
    const send = (authorization: string | undefined) =>
      fetch(url, {
        method: init.method ?? 'GET',
        headers: { ...init.headers, ...(authorization ? { authorization } : {}) },
        ...(init.body ? { body: init.body } : {}),
        redirect: 'follow',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    try {
      const first = await send(this.auth.header(ref));
      if (first.status !== 401) return first;
      const token = await this.auth.answer(ref, first.headers.get('www-authenticate'));
      if (!token) return first;
      await first.arrayBuffer().catch(() => undefined);
      return await send(token);
    } catch (err) {
      if (err instanceof AionError) throw err;
      // By name: the DOMException may come from another realm than this module's Error.
      const timedOut = (err as { name?: unknown } | undefined)?.name === 'TimeoutError';
      throw unavailable(
        ref,
        timedOut ? `did not answer within ${this.timeoutMs} ms` : 'is unreachable',
        err,
      );
    }
  }

  /** Reads a body up to `limit` bytes; more is refused rather than buffered. */
  private async body(ref: Reference, res: Response, limit: number): Promise<Uint8Array> {
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > limit) throw garbage(ref, `sent ${declared} bytes, more than ${limit}`);
    try {
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (bytes.byteLength > limit)
        throw garbage(ref, `sent ${bytes.byteLength} bytes, more than ${limit}`);
      return bytes;
    } catch (err) {
      if (err instanceof AionError) throw err;
      throw unavailable(ref, 'broke off its answer', err);
    }
  }

  private async fail(ref: Reference, res: Response, what: string): Promise<never> {
    const text = (await res.text().catch(() => '')).slice(0, 300);
    if (res.status === 404) throw AionError.notFound(what, `in ${ref.repository}`);
    if (res.status === 401 || res.status === 403)
      throw new AionError(
        'auth.forbidden',
        `registry ${ref.registry} refused ${what} (${res.status})`,
      );
    if (res.status >= 500) throw unavailable(ref, `failed on ${what} (${res.status})`);
    throw garbage(ref, `refused ${what} (${res.status}): ${text}`);
  }

  async pushBlob(ref: Reference, mediaType: string, bytes: Uint8Array): Promise<Descriptor> {
    const digest = sha256Digest(bytes);
    const head = await this.request(ref, `/blobs/${digest}`, { method: 'HEAD' });
    if (head.ok) return { mediaType, digest, size: bytes.byteLength };
    const start = await this.request(ref, '/blobs/uploads/', { method: 'POST' });
    if (start.status !== 202) return this.fail(ref, start, 'a blob upload');
    const location = start.headers.get('location');
    if (!location) throw garbage(ref, 'started an upload without a Location');
    const url = new URL(location, ref.registry);
    url.searchParams.set('digest', digest);
    const put = await this.request(
      ref,
      '',
      {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        body: bytes,
      },
      url.toString(),
    );
    if (put.status !== 201) return this.fail(ref, put, `blob ${digest}`);
    return { mediaType, digest, size: bytes.byteLength };
  }

  /** Puts a manifest (or index) under a tag or its digest; returns its digest. */
  async pushManifest(
    ref: Reference,
    mediaType: string,
    bytes: Uint8Array,
    tag?: string,
  ): Promise<string> {
    const digest = sha256Digest(bytes);
    const res = await this.request(ref, `/manifests/${tag ?? digest}`, {
      method: 'PUT',
      headers: { 'content-type': mediaType },
      body: bytes,
    });
    if (res.status !== 201) return this.fail(ref, res, `manifest ${tag ?? digest}`);
    return digest;
  }

  /** A manifest by tag or digest; by digest, the bytes must hash to it. */
  async fetchManifestBytes(
    ref: Reference,
    reference: string,
  ): Promise<{ digest: string; bytes: Uint8Array; mediaType: string }> {
    const res = await this.request(ref, `/manifests/${reference}`, {
      headers: { accept: `${MEDIA_TYPES.manifest}, ${MEDIA_TYPES.index}` },
    });
    if (!res.ok) return this.fail(ref, res, `manifest ${reference}`);
    const bytes = await this.body(ref, res, this.maxManifestBytes);
    const digest = sha256Digest(bytes);
    if (DIGEST.test(reference) && digest !== reference)
      throw new AionError(
        'validation.unprocessable',
        `manifest ${reference} from ${ref.registry} hashes to ${digest}: it was tampered with`,
        { details: [{ field: 'digest', message: 'digest mismatch' }] },
      );
    return { digest, bytes, mediaType: res.headers.get('content-type') ?? '' };
  }

  async fetchManifest(ref: Reference, reference: string): Promise<FetchedManifest> {
    const { digest, bytes } = await this.fetchManifestBytes(ref, reference);
    let manifest: ImageManifest;
    try {
      manifest = JSON.parse(Buffer.from(bytes).toString('utf8')) as ImageManifest;
    } catch {
      throw garbage(ref, `answered ${reference} with something that is not JSON`);
    }
    if (
      manifest?.schemaVersion !== 2 ||
      !isDescriptor(manifest.config) ||
      !Array.isArray(manifest.layers) ||
      !manifest.layers.every(isDescriptor)
    )
      throw garbage(ref, `answered ${reference} with something that is not an OCI image manifest`);
    return { digest, bytes, manifest };
  }

  /** A blob, checked against its descriptor's digest and size. */
  async fetchBlob(ref: Reference, descriptor: Descriptor): Promise<Uint8Array> {
    if (!DIGEST.test(descriptor.digest)) throw garbage(ref, `named a blob ${descriptor.digest}`);
    if (descriptor.size > this.maxBlobBytes)
      throw new AionError(
        'validation.payload_too_large',
        `blob ${descriptor.digest} is ${descriptor.size} bytes, more than ${this.maxBlobBytes}`,
      );
    const res = await this.request(ref, `/blobs/${descriptor.digest}`);
    if (!res.ok) return this.fail(ref, res, `blob ${descriptor.digest}`);
    const bytes = await this.body(ref, res, this.maxBlobBytes);
    if (sha256Digest(bytes) !== descriptor.digest || bytes.byteLength !== descriptor.size)
      throw new AionError(
        'validation.unprocessable',
        `blob ${descriptor.digest} from ${ref.registry} does not match its digest: it was tampered with`,
        { details: [{ field: 'digest', message: 'digest mismatch' }] },
      );
    return bytes;
  }

  /**
   * The referrers of a manifest: the referrers API where the registry has it, else the OCI 1.1
   * fallback tag (`sha256-<hex>`) that `pushReferrer` keeps (Debian's distribution 2.8 has no API).
   */
  async referrers(ref: Reference, digest: string): Promise<Descriptor[]> {
    const api = await this.request(ref, `/referrers/${digest}`, {
      headers: { accept: MEDIA_TYPES.index },
    });
    if (api.ok) return this.indexOf(ref, await this.body(ref, api, this.maxManifestBytes));
    await api.arrayBuffer().catch(() => undefined);
    if (api.status !== 404) return this.fail(ref, api, `referrers of ${digest}`);
    try {
      const { bytes } = await this.fetchManifestBytes(ref, fallbackTag(digest));
      return this.indexOf(ref, bytes);
    } catch (err) {
      if (err instanceof AionError && err.code === 'resource.not_found') return [];
      throw err;
    }
  }

  private indexOf(ref: Reference, bytes: Uint8Array): Descriptor[] {
    let index: ImageIndex;
    try {
      index = JSON.parse(Buffer.from(bytes).toString('utf8')) as ImageIndex;
    } catch {
      throw garbage(ref, 'answered a referrers query with something that is not JSON');
    }
    if (!Array.isArray(index?.manifests) || !index.manifests.every(isDescriptor))
      throw garbage(ref, 'answered a referrers query with something that is not an OCI index');
    return index.manifests;
  }

  /**
   * Pushes an artifact (empty config, one layer) whose subject is `subject`, and lists it under
   * the subject's fallback tag. Returns the referrer manifest's descriptor.
   */
  async pushReferrer(
    ref: Reference,
    subject: Descriptor,
    artifactType: string,
    content: Uint8Array,
    annotations: Record<string, string> = {},
  ): Promise<Descriptor> {
    const config = await this.pushBlob(ref, MEDIA_TYPES.empty, new TextEncoder().encode('{}'));
    const layer = await this.pushBlob(ref, artifactType, content);
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.manifest,
      artifactType,
      config,
      layers: [layer],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations,
    };
    const bytes = new TextEncoder().encode(JSON.stringify(manifest));
    const digest = await this.pushManifest(ref, MEDIA_TYPES.manifest, bytes);
    const descriptor: Descriptor = {
      mediaType: MEDIA_TYPES.manifest,
      digest,
      size: bytes.byteLength,
      artifactType,
      annotations,
    };
    const existing = await this.referrers(ref, subject.digest);
    if (!existing.some((d) => d.digest === digest)) {
      const index: ImageIndex = {
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.index,
        manifests: [...existing, descriptor],
      };
      await this.pushManifest(
        ref,
        MEDIA_TYPES.index,
        new TextEncoder().encode(JSON.stringify(index)),
        fallbackTag(subject.digest),
      );
    }
    return descriptor;
  }

  /** The repository's tags (`GET /v2/<name>/tags/list`). */
  async tags(ref: Reference): Promise<string[]> {
    const res = await this.request(ref, '/tags/list');
    if (!res.ok) return this.fail(ref, res, 'the tag list');
    const bytes = await this.body(ref, res, this.maxManifestBytes);
    try {
      const tags = (JSON.parse(Buffer.from(bytes).toString('utf8')) as { tags?: unknown }).tags;
      return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
    } catch {
      throw garbage(ref, 'answered the tag list with something that is not JSON');
    }
  }
}

export function fallbackTag(digest: string): string {
  return digest.replace(':', '-');
}

function isDescriptor(value: unknown): value is Descriptor {
  const d = value as Descriptor | undefined;
  return (
    typeof d === 'object' &&
    d !== null &&
    typeof d.mediaType === 'string' &&
    typeof d.digest === 'string' &&
    typeof d.size === 'number'
  );
}

import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  sign,
  type KeyObject,
} from 'node:crypto';
import {
  bundleFromJSON,
  bundleToJSON,
  isBundleWithPublicKey,
  toMessageSignatureBundle,
  type SerializedBundle,
} from '@sigstore/bundle';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { verifyKeyless, type KeylessRefusal, type KeylessTrust } from './keyless';

/**
 * Signatures in the sigstore bundle format (v0.3), as cosign attaches them: a message signature
 * over the signed manifest's bytes, the key named by a hint. Verification is @sigstore/verify's
 * with key-based, offline trust (no Rekor or Fulcio: air-gapped installs), or keyless (a Fulcio
 * certificate and a Rekor entry, see keyless.ts) where the caller trusts a Sigstore deployment;
 * the trusted keys and identities are the caller's (a tenant's).
 */

/** The hint a key is named by: the SHA-256 of its SubjectPublicKeyInfo (sigstore's key id). */
export function keyId(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex');
}

/** A new ECDSA P-256 key pair (cosign's default), PEM-encoded. */
export function generateSigningKey(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** A bundle (JSON) signing `content` with the private key. */
export function signBundle(content: Uint8Array, privateKeyPem: string): SerializedBundle {
  const publicKeyPem = createPublicKey(privateKeyPem)
    .export({ type: 'spki', format: 'pem' })
    .toString();
  const data = Buffer.from(content);
  const bundle = toMessageSignatureBundle({
    digest: createHash('sha256').update(data).digest(),
    signature: sign('sha256', data, privateKeyPem),
    keyHint: keyId(publicKeyPem),
  });
  return bundleToJSON(bundle);
}

export type BundleVerdict =
  | { ok: true; signedBy: string }
  | {
      ok: false;
      reason: 'untrusted_key' | 'invalid_signature' | 'malformed' | KeylessRefusal;
      message: string;
    };

/**
 * Checks a bundle against `content`: one signed with a key against the trusted keys (by key id;
 * the key's hint is only a name: a bundle naming a trusted key but signed by another fails on
 * the signature), one carrying a certificate against `keyless` (refused when there is none).
 */
export function verifyBundle(
  bundleJson: unknown,
  content: Uint8Array,
  trustedKeys: ReadonlyMap<string, string>,
  keyless?: KeylessTrust,
): BundleVerdict {
  let bundle: ReturnType<typeof bundleFromJSON>;
  try {
    bundle = bundleFromJSON(bundleJson);
  } catch (err) {
    return { ok: false, reason: 'malformed', message: `not a sigstore bundle: ${message(err)}` };
  }
  if (!isBundleWithPublicKey(bundle)) {
    if (keyless) return verifyKeyless(bundle, content, keyless);
    return {
      ok: false,
      reason: 'untrusted_identity',
      message:
        'the bundle is signed keyless (a certificate) and no Sigstore trusted root is configured',
    };
  }
  const hint = bundle.verificationMaterial.content.publicKey.hint;
  const pem = trustedKeys.get(hint);
  if (!pem)
    return { ok: false, reason: 'untrusted_key', message: `signed by key ${hint}, not trusted` };
  const key: KeyObject = createPublicKey(pem);
  const root = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  } as unknown as Parameters<typeof toTrustMaterial>[0]; // an empty root: trust is the keys alone
  const verifier = new Verifier(
    toTrustMaterial(root, (h) => {
      if (h !== hint) throw new Error(`key ${h} is not trusted`);
      return { publicKey: key, validFor: () => true };
    }),
    { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 },
  );
  try {
    verifier.verify(toSignedEntity(bundle, Buffer.from(content)));
    return { ok: true, signedBy: hint };
  } catch (err) {
    return { ok: false, reason: 'invalid_signature', message: message(err) };
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

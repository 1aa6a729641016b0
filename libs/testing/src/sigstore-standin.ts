import {
  createHash,
  generateKeyPairSync,
  KeyObject,
  randomBytes,
  sign,
  webcrypto,
  type KeyObject as NodeKeyObject,
} from 'node:crypto';
import 'reflect-metadata'; // @peculiar/x509's dependency injection (tsyringe) needs it first
import * as x509 from '@peculiar/x509';
import { json } from '@sigstore/core';
import { Utf8String } from 'asn1js';

/**
 * A stand-in for a private Sigstore deployment, for tests: Fulcio and Rekor cannot run here (they
 * need Trillian on MySQL and an OIDC issuer to exchange tokens with). What they would hand a
 * signer is produced locally with the same formats, so the real @sigstore/verify code path checks
 * it: a root CA as Fulcio's, a short-lived code-signing certificate carrying the identity (SAN)
 * and the Fulcio OIDC-issuer extensions, and a Rekor hashedrekord entry with a signed entry
 * timestamp (SET) and an RFC 6962 inclusion proof under a signed checkpoint, both by a log key.
 */

const ECDSA: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const OID_FULCIO_ISSUER_V1 = '1.3.6.1.4.1.57264.1.1';
const OID_FULCIO_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';
const b64 = (bytes: Uint8Array | ArrayBuffer) =>
  Buffer.from(bytes as Uint8Array).toString('base64');
const sha256 = (...parts: Uint8Array[]) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]); // Node's WebCrypto, not a browser's

/** A certificate authority playing Fulcio's root. */
export class FulcioStandIn {
  private constructor(
    readonly certificate: x509.X509Certificate,
    private readonly keys: webcrypto.CryptoKeyPair,
  ) {}

  static async create(name = 'fulcio.test'): Promise<FulcioStandIn> {
    const keys = (await webcrypto.subtle.generateKey(ECDSA, true, [
      'sign',
      'verify',
    ])) as webcrypto.CryptoKeyPair;
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomBytes(8).toString('hex'),
      name: `CN=${name}, O=Aion tests`,
      notBefore: new Date(Date.now() - 86_400_000),
      notAfter: new Date(Date.now() + 365 * 86_400_000),
      keys,
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(true, 1, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return new FulcioStandIn(certificate, keys);
  }

  /**
   * What Fulcio issues after checking an OIDC token: a certificate for the signer's ephemeral key,
   * `identity` as its SAN (an e-mail address, or a URI such as a CI workflow's), `issuer` in the
   * OIDC-issuer extensions, valid for `validMinutes` from `notBefore`.
   */
  async issue(
    publicKey: webcrypto.CryptoKey,
    identity: string,
    issuer: string,
    notBefore = new Date(Date.now() - 60_000),
    validMinutes = 10,
  ): Promise<x509.X509Certificate> {
    const san = identity.includes('://')
      ? { type: 'url' as const, value: identity }
      : { type: 'email' as const, value: identity };
    return x509.X509CertificateGenerator.create({
      serialNumber: randomBytes(8).toString('hex'),
      subject: '',
      issuer: this.certificate.subject,
      notBefore,
      notAfter: new Date(notBefore.getTime() + validMinutes * 60_000),
      publicKey,
      signingKey: this.keys.privateKey,
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.codeSigning]),
        new x509.SubjectAlternativeNameExtension([san], true),
        await x509.AuthorityKeyIdentifierExtension.create(this.certificate),
        await x509.SubjectKeyIdentifierExtension.create(publicKey),
        new x509.Extension(OID_FULCIO_ISSUER_V1, false, Buffer.from(issuer, 'ascii')),
        new x509.Extension(OID_FULCIO_ISSUER_V2, false, new Utf8String({ value: issuer }).toBER()),
      ],
    });
  }

  /** This CA as a TrustedRoot certificate authority. */
  trustedRootEntry(): Record<string, unknown> {
    return {
      subject: { organization: 'Aion tests', commonName: 'fulcio.test' },
      uri: 'https://fulcio.test',
      certChain: { certificates: [{ rawBytes: b64(this.certificate.rawData) }] },
      validFor: { start: this.certificate.notBefore.toISOString() },
    };
  }
}

/** A transparency log playing Rekor's: one earlier entry, then each entry it is handed. */
export class RekorStandIn {
  private readonly privateKey: NodeKeyObject;
  readonly publicKeyDer: Buffer;
  readonly logId: Buffer;
  readonly baseUrl: string;

  /** `impersonate`: claim another log's id and URL while signing with this log's own key. */
  constructor(impersonate?: RekorStandIn) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.privateKey = privateKey;
    this.publicKeyDer = publicKey.export({ type: 'spki', format: 'der' });
    this.logId = impersonate?.logId ?? sha256(this.publicKeyDer);
    this.baseUrl = impersonate?.baseUrl ?? `https://rekor-${randomBytes(3).toString('hex')}.test`;
  }

  /** A hashedrekord v0.0.1 entry as Rekor returns it, at index 1 of a two-entry tree. */
  entry(
    digest: Buffer,
    signature: Buffer,
    certificatePem: string,
    integratedTime: Date,
  ): Record<string, unknown> {
    const body = Buffer.from(
      json.canonicalize({
        apiVersion: '0.0.1',
        kind: 'hashedrekord',
        spec: {
          data: { hash: { algorithm: 'sha256', value: digest.toString('hex') } },
          signature: {
            content: b64(signature),
            publicKey: { content: b64(Buffer.from(certificatePem)) },
          },
        },
      }),
    );
    const time = Math.floor(integratedTime.getTime() / 1000);
    const logIndex = 1;
    const promise = json.canonicalize({
      body: b64(body),
      integratedTime: time,
      logIndex,
      logID: this.logId.toString('hex'),
    });
    const earlierLeaf = sha256(Buffer.from([0]), randomBytes(64));
    const leaf = sha256(Buffer.from([0]), body);
    const root = sha256(Buffer.from([1]), earlierLeaf, leaf);
    const note = `${new URL(this.baseUrl).host} - 1\n2\n${b64(root)}\n`;
    const noteSignature = Buffer.concat([
      this.logId.subarray(0, 4),
      sign('sha256', Buffer.from(note), this.privateKey),
    ]);
    return {
      logIndex: String(logIndex),
      logId: { keyId: b64(this.logId) },
      kindVersion: { kind: 'hashedrekord', version: '0.0.1' },
      integratedTime: String(time),
      inclusionPromise: {
        signedEntryTimestamp: b64(sign('sha256', Buffer.from(promise), this.privateKey)),
      },
      inclusionProof: {
        logIndex: String(logIndex),
        rootHash: b64(root),
        treeSize: '2',
        hashes: [b64(earlierLeaf)],
        checkpoint: {
          envelope: `${note}\n\u2014 ${new URL(this.baseUrl).host} ${b64(noteSignature)}\n`,
        },
      },
      canonicalizedBody: b64(body),
    };
  }

  /** This log as a TrustedRoot transparency log. */
  trustedRootEntry(): Record<string, unknown> {
    return {
      baseUrl: this.baseUrl,
      hashAlgorithm: 'SHA2_256',
      publicKey: {
        rawBytes: b64(this.publicKeyDer),
        keyDetails: 'PKIX_ECDSA_P256_SHA_256',
        validFor: { start: new Date(Date.now() - 86_400_000).toISOString() },
      },
      logId: { keyId: b64(this.logId) },
    };
  }
}

/** A sigstore TrustedRoot (trusted_root.json) naming these CAs and logs. */
export function trustedRootJson(
  cas: readonly FulcioStandIn[],
  logs: readonly RekorStandIn[],
): Record<string, unknown> {
  return {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: logs.map((l) => l.trustedRootEntry()),
    certificateAuthorities: cas.map((c) => c.trustedRootEntry()),
    ctlogs: [],
    timestampAuthorities: [],
  };
}

export interface KeylessSigning {
  fulcio: FulcioStandIn;
  /** The log to record in; none leaves the bundle without a transparency-log entry. */
  rekor: RekorStandIn | undefined;
  identity: string;
  issuer: string;
  /** When the log integrated the entry (default now; later than the certificate: expired). */
  integratedAt?: Date;
  /** A v0.2 bundle with an x509CertificateChain, as older cosign writes; default v0.3. */
  chain?: boolean;
}

/** What `cosign sign-blob --bundle` writes for `content` against this deployment. */
export async function signKeyless(
  content: Uint8Array,
  options: KeylessSigning,
): Promise<Record<string, unknown>> {
  const keys = (await webcrypto.subtle.generateKey(ECDSA, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const certificate = await options.fulcio.issue(keys.publicKey, options.identity, options.issuer);
  const digest = sha256(content);
  const signature = sign('sha256', content, KeyObject.from(keys.privateKey));
  const rawCertificate = b64(certificate.rawData);
  const tlogEntries = options.rekor
    ? [
        options.rekor.entry(
          digest,
          signature,
          certificate.toString('pem'),
          options.integratedAt ?? new Date(),
        ),
      ]
    : [];
  return {
    mediaType: options.chain
      ? 'application/vnd.dev.sigstore.bundle+json;version=0.2'
      : 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: {
      ...(options.chain
        ? { x509CertificateChain: { certificates: [{ rawBytes: rawCertificate }] } }
        : { certificate: { rawBytes: rawCertificate } }),
      tlogEntries,
      timestampVerificationData: { rfc3161Timestamps: [] },
    },
    messageSignature: {
      messageDigest: { algorithm: 'SHA2_256', digest: b64(digest) },
      signature: b64(signature),
    },
  };
}

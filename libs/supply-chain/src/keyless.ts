import type { Bundle } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import {
  toSignedEntity,
  toTrustMaterial,
  VerificationError,
  Verifier,
  type TrustMaterial,
} from '@sigstore/verify';

/**
 * Keyless signatures, as `cosign sign` makes them against a Sigstore deployment: the signer holds
 * a short-lived Fulcio certificate naming its OIDC identity, and the signature is recorded in
 * Rekor. Verification (@sigstore/verify) checks the certificate chains to a trusted CA, the log's
 * promise and inclusion proof under a trusted log key, that the certificate was valid when the
 * log integrated the entry, the signature, and then that the identity is one the tenant trusts.
 * The CAs and logs come from a sigstore TrustedRoot (trusted_root.json): the public good
 * instance's, or a private deployment's (air-gapped installs bring their own).
 */

/** An identity a tenant trusts, as cosign's --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp]. */
export interface IdentityRule {
  identity?: string;
  identityRegExp?: string;
  issuer?: string;
  issuerRegExp?: string;
}

/** A compiled identity rule. */
export interface TrustedIdentity {
  description: string;
  matches(subjectAlternativeName: string, issuer: string): boolean;
}

/** What keyless verification trusts: the deployment's CAs and logs, and the signers' identities. */
export interface KeylessTrust {
  material: TrustMaterial;
  /** Certificates must carry an SCT when the trusted root names CT logs. */
  ctlogThreshold: number;
  identities: readonly TrustedIdentity[];
}

export type KeylessRefusal =
  | 'untrusted_identity'
  | 'untrusted_ca'
  | 'certificate_expired'
  | 'tlog_missing'
  | 'tlog_invalid'
  | 'invalid_signature';

/**
 * Compiles a rule: exactly one of identity / identityRegExp and one of issuer / issuerRegExp;
 * expressions match the whole value (anchored), so `.*@acme\.com` cannot match `x@acme.com.evil`.
 * Throws on a rule that is not one.
 */
export function trustedIdentity(rule: IdentityRule): TrustedIdentity {
  const part = (exact: string | undefined, pattern: string | undefined, what: string) => {
    if ((exact === undefined) === (pattern === undefined))
      throw new Error(`an identity rule needs exactly one of ${what} and ${what}_regexp`);
    if (exact !== undefined) return { test: (value: string) => value === exact, text: exact };
    const source = pattern ?? ''; // set: exactly one of the two is
    let compiled: RegExp;
    try {
      new RegExp(source, 'u'); // alone first: an unbalanced `a)|(b` must not escape the anchors
      compiled = new RegExp(`^(?:${source})$`, 'u');
    } catch (err) {
      throw new Error(`${what}_regexp ${source}: ${(err as Error).message}`);
    }
    return { test: (value: string) => compiled.test(value), text: `/${source}/` };
  };
  const identity = part(rule.identity, rule.identityRegExp, 'identity');
  const issuer = part(rule.issuer, rule.issuerRegExp, 'issuer');
  return {
    description: `${identity.text} (issuer ${issuer.text})`,
    matches: (san, iss) => identity.test(san) && issuer.test(iss),
  };
}

/**
 * Reads a sigstore TrustedRoot (the JSON of trusted_root.json). Keyless verification needs at
 * least one certificate authority and one transparency log; throws when it is not such a root.
 */
export function keylessTrust(
  trustedRootJson: unknown,
  identities: readonly IdentityRule[],
): KeylessTrust {
  const mediaType = (trustedRootJson as { mediaType?: unknown } | null)?.mediaType;
  if (
    typeof mediaType !== 'string' ||
    !mediaType.startsWith('application/vnd.dev.sigstore.trustedroot')
  )
    throw new Error(
      'not a sigstore trusted root (mediaType application/vnd.dev.sigstore.trustedroot+json)',
    );
  let root: TrustedRoot;
  let material: TrustMaterial;
  try {
    root = TrustedRoot.fromJSON(trustedRootJson);
    material = toTrustMaterial(root, (hint) => {
      throw new Error(`keyless verification trusts no key (${hint})`);
    });
  } catch (err) {
    throw new Error(`the trusted root does not parse: ${(err as Error).message}`);
  }
  if (!material.certificateAuthorities.length || !material.tlogs.length)
    throw new Error(
      'the trusted root names no certificate authority or no transparency log (keyless needs both)',
    );
  return {
    material,
    ctlogThreshold: material.ctlogs.length ? 1 : 0,
    identities: identities.map(trustedIdentity),
  };
}

export type KeylessVerdict =
  { ok: true; signedBy: string } | { ok: false; reason: KeylessRefusal; message: string };

/** Verifies a certificate-carrying bundle over `content`; why not, in one of the refusal reasons. */
export function verifyKeyless(
  bundle: Bundle,
  content: Uint8Array,
  trust: KeylessTrust,
): KeylessVerdict {
  if (!bundle.verificationMaterial.tlogEntries.length)
    return {
      ok: false,
      reason: 'tlog_missing',
      message: 'the keyless signature has no transparency-log entry',
    };
  const verifier = new Verifier(trust.material, {
    tlogThreshold: 1,
    ctlogThreshold: trust.ctlogThreshold,
    // The log's integration time (or a TSA's) is when the short-lived certificate must be valid.
    timestampThreshold: 1,
  });
  let identity: { san: string; issuer: string };
  try {
    const signer = verifier.verify(toSignedEntity(bundle, Buffer.from(content)));
    identity = {
      san: signer.identity?.subjectAlternativeName ?? '',
      issuer: signer.identity?.extensions?.issuer ?? '',
    };
  } catch (err) {
    return { ok: false, ...refusal(err) };
  }
  const rule = identity.issuer
    ? trust.identities.find((r) => r.matches(identity.san, identity.issuer))
    : undefined; // a certificate without the Fulcio issuer extension names no OIDC identity
  if (!rule)
    return {
      ok: false,
      reason: 'untrusted_identity',
      message: `signed by ${identity.san || '(no SAN)'} (issuer ${identity.issuer || 'none'}), not a trusted identity`,
    };
  return { ok: true, signedBy: `${identity.san} (${identity.issuer})` };
}

/** Maps @sigstore/verify's error codes to a refusal reason. */
function refusal(err: unknown): { reason: KeylessRefusal; message: string } {
  const message = describe(err);
  if (!(err instanceof VerificationError)) return { reason: 'invalid_signature', message };
  switch (err.code) {
    case 'CERTIFICATE_ERROR':
      return /expired|not valid/.test(message)
        ? {
            reason: 'certificate_expired',
            message: `the certificate was not valid when logged: ${message}`,
          }
        : {
            reason: 'untrusted_ca',
            message: `the certificate is not from a trusted CA: ${message}`,
          };
    case 'TIMESTAMP_ERROR':
    case 'TLOG_ERROR':
    case 'TLOG_MISSING_INCLUSION_ERROR':
      return {
        reason: 'tlog_missing',
        message: `no verifiable transparency-log entry: ${message}`,
      };
    case 'TLOG_INCLUSION_PROOF_ERROR':
    case 'TLOG_INCLUSION_PROMISE_ERROR':
    case 'TLOG_BODY_ERROR':
      return {
        reason: 'tlog_invalid',
        message: `the transparency-log entry does not verify: ${message}`,
      };
    default:
      return { reason: 'invalid_signature', message };
  }
}

/** The error's message with its causes (the chain check names the real one in `cause`). */
function describe(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current && depth < 4; depth++) {
    parts.push(current instanceof Error ? current.message : String(current));
    current = (current as { cause?: unknown }).cause;
  }
  return parts.join(': ');
}

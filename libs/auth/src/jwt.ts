import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
} from 'jose';
import { AionError } from '@aion/errors';
import { isValidTenantId } from '@aion/tenancy';
import type { Principal } from './principal';
import { isRole, type Role } from './rbac';

export type AsymmetricAlg = 'RS256' | 'ES256' | 'EdDSA';

export interface JwtVerifierOptions {
  issuer: string;
  audience: string;
  /** Public keys, selected by `kid`: a JWKS document or the URL that serves one. */
  jwks?: JSONWebKeySet;
  jwksUrl?: string;
  /** Accepted asymmetric algorithms (default RS256, ES256, EdDSA). */
  algorithms?: AsymmetricAlg[];
  /** Enables HS256 with this shared secret; off unless configured. */
  hs256Secret?: string;
  /** Allowed clock difference, capped at 60 s (default 30 s). */
  clockToleranceSeconds?: number;
  /** Claim carrying the tenant (default "tenant_id") and roles (default "roles"). */
  tenantClaim?: string;
  rolesClaim?: string;
}

const MAX_CLOCK_TOLERANCE = 60;

/**
 * Verifies bearer JWTs with jose. Algorithms are an allowlist; `alg: none` is never accepted;
 * asymmetric tokens must name a `kid` found in the key set, and HS256 is verified only with the
 * configured secret, so a token signed with a public key as an HMAC secret (algorithm confusion)
 * fails. Expiry, not-before, issuer and audience are enforced with bounded clock skew.
 */
export class JwtVerifier {
  private readonly keySet: ReturnType<typeof createLocalJWKSet> | undefined;
  private readonly secret: Uint8Array | undefined;
  private readonly algorithms: string[];
  private readonly tolerance: number;

  constructor(private readonly options: JwtVerifierOptions) {
    if (!options.jwks && !options.jwksUrl && !options.hs256Secret)
      throw new Error('JwtVerifier needs a JWKS, a JWKS URL or an HS256 secret');
    if (options.hs256Secret !== undefined && options.hs256Secret.length < 32)
      throw new Error('HS256 secret must be at least 32 characters');
    this.keySet = options.jwks
      ? createLocalJWKSet(options.jwks)
      : options.jwksUrl
        ? createRemoteJWKSet(new URL(options.jwksUrl))
        : undefined;
    this.secret = options.hs256Secret ? new TextEncoder().encode(options.hs256Secret) : undefined;
    this.algorithms = [...(options.algorithms ?? ['RS256', 'ES256', 'EdDSA'])];
    this.tolerance = Math.min(
      MAX_CLOCK_TOLERANCE,
      Math.max(0, options.clockToleranceSeconds ?? 30),
    );
  }

  async verify(token: string): Promise<Principal> {
    let header;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw new AionError('auth.invalid_credentials', 'malformed token');
    }
    const common = {
      issuer: this.options.issuer,
      audience: this.options.audience,
      clockTolerance: this.tolerance,
      requiredClaims: ['exp', 'sub'],
    };
    let payload: JWTPayload;
    try {
      if (header.alg === 'HS256') {
        if (!this.secret)
          throw new AionError('auth.invalid_credentials', 'token algorithm is not accepted');
        ({ payload } = await jwtVerify(token, this.secret, { ...common, algorithms: ['HS256'] }));
      } else {
        if (!this.keySet || !header.alg || !this.algorithms.includes(header.alg))
          throw new AionError('auth.invalid_credentials', 'token algorithm is not accepted');
        if (!header.kid) throw new AionError('auth.invalid_credentials', 'token has no key id');
        ({ payload } = await jwtVerify(token, this.keySet, {
          ...common,
          algorithms: this.algorithms,
        }));
      }
    } catch (err) {
      throw toAuthError(err);
    }
    return this.principalOf(payload);
  }

  private principalOf(payload: JWTPayload): Principal {
    const tenantId = payload[this.options.tenantClaim ?? 'tenant_id'];
    if (typeof tenantId !== 'string' || !isValidTenantId(tenantId))
      throw new AionError('auth.invalid_credentials', 'token has no valid tenant');
    const rawRoles = payload[this.options.rolesClaim ?? 'roles'];
    const roles = (Array.isArray(rawRoles) ? rawRoles : []).filter(
      (r): r is Role => typeof r === 'string' && isRole(r),
    );
    const subject = String(payload.sub);
    return {
      kind: 'user',
      tenantId,
      subject,
      owner: idpOwner(this.options.issuer, subject),
      roles: roles.length ? roles : ['anonymous'],
    };
  }
}

/**
 * The owner of an identity provider's token: its `sub` within its issuer, so two providers'
 * `alice` are two people. The issuer is percent-encoded (no `:` left in it), which keeps the
 * form unambiguous whatever either part contains.
 */
export function idpOwner(issuer: string, subject: string): string {
  return `idp:${encodeURIComponent(issuer)}:${subject}`;
}

function toAuthError(err: unknown): AionError {
  if (err instanceof AionError) return err;
  if (err instanceof errors.JWTExpired)
    return new AionError('auth.token_expired', 'token has expired');
  if (err instanceof errors.JWTClaimValidationFailed)
    return new AionError('auth.invalid_credentials', `token claim "${err.claim}" is invalid`);
  if (err instanceof errors.JOSEAlgNotAllowed)
    return new AionError('auth.invalid_credentials', 'token algorithm is not accepted');
  return new AionError('auth.invalid_credentials', 'invalid token');
}

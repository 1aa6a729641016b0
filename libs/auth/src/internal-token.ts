import { jwtVerify, SignJWT } from 'jose';
import { AionError } from '@aion/errors';
import { isValidTenantId } from '@aion/tenancy';
import type { Principal } from './principal';
import { isRole } from './rbac';

const ISSUER = 'aion-internal';
const AUDIENCE = 'aion-services';
const CLOCK_TOLERANCE_SECONDS = 5;
/** Entries each cache holds before it starts over (one per active principal or token). */
const MAX_CACHED = 10_000;

type Verified = Principal & { caller: string };

/**
 * Short-lived (default 60 s) HS256 tokens that carry the caller's tenant, subject, owner and roles
 * from the gateway to services and between services. A token without `owner` (from a service of
 * an earlier release) is owned by its subject. The key is AION_INTERNAL_TOKEN_SECRET, shared
 * by the platform's services only; the public JWT verifier never accepts it.
 */
export class InternalTokens {
  private readonly key: Uint8Array;
  /**
   * A token is reused for calls on behalf of the same principal during the first half of its
   * life, and a verified token's principal is remembered until it expires: signing and checking
   * an HMAC on every call between services cost more than the call's own work.
   */
  private readonly issued = new Map<string, { token: string; reuseUntil: number }>();
  private readonly verified = new Map<string, { principal: Verified; validUntil: number }>();

  constructor(
    secret: string,
    /** The service these tokens name as caller (what a co-located call names too). */
    readonly service: string,
    private readonly ttlSeconds = 60,
  ) {
    if (secret.length < 32) throw new Error('internal token secret must be at least 32 characters');
    this.key = new TextEncoder().encode(secret);
  }

  async issue(principal: Principal): Promise<string> {
    const key = JSON.stringify([
      principal.kind,
      principal.tenantId,
      principal.subject,
      principal.owner,
      principal.roles,
      principal.keyId ?? '',
    ]);
    const now = Date.now();
    const reusable = this.issued.get(key);
    if (reusable && now < reusable.reuseUntil) return reusable.token;
    const token = await this.sign(principal);
    if (this.issued.size >= MAX_CACHED) this.issued.clear();
    this.issued.set(key, { token, reuseUntil: now + (this.ttlSeconds * 1000) / 2 });
    return token;
  }

  private sign(principal: Principal): Promise<string> {
    return new SignJWT({
      tenant_id: principal.tenantId,
      owner: principal.owner,
      roles: principal.roles,
      kind: principal.kind,
      caller: this.service,
      ...(principal.keyId ? { key_id: principal.keyId } : {}),
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'aion-internal+jwt' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(principal.subject)
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .setJti(crypto.randomUUID())
      .sign(this.key);
  }

  async verify(token: string): Promise<Verified> {
    const known = this.verified.get(token);
    if (known && Date.now() < known.validUntil) return known.principal;
    const principal = await this.check(token);
    if (this.verified.size >= MAX_CACHED) this.verified.clear();
    this.verified.set(token, principal);
    return principal.principal;
  }

  private async check(token: string): Promise<{ principal: Verified; validUntil: number }> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['HS256'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        typ: 'aion-internal+jwt',
      });
      const tenantId = payload['tenant_id'];
      if (typeof tenantId !== 'string' || !isValidTenantId(tenantId)) throw new Error('bad tenant');
      const roles = (Array.isArray(payload['roles']) ? payload['roles'] : []).filter(
        (r): r is Principal['roles'][number] => typeof r === 'string' && isRole(r),
      );
      const kind =
        payload['kind'] === 'api_key' || payload['kind'] === 'user' ? payload['kind'] : 'service';
      const subject = String(payload.sub);
      const owner = payload['owner'];
      return {
        // Shared by every call that presents this token, so nobody may change it.
        principal: Object.freeze({
          kind,
          tenantId,
          subject,
          owner: typeof owner === 'string' && owner ? owner : subject,
          roles: Object.freeze(roles) as Verified['roles'],
          caller: String(payload['caller'] ?? 'unknown'),
          ...(typeof payload['key_id'] === 'string' ? { keyId: payload['key_id'] } : {}),
        }),
        // jwtVerify requires exp within the tolerance; remember the token no longer than that.
        validUntil: ((payload.exp ?? 0) + CLOCK_TOLERANCE_SECONDS) * 1000,
      };
    } catch (err) {
      if (err instanceof Error && err.name === 'JWTExpired')
        throw new AionError('auth.token_expired', 'internal token has expired');
      throw new AionError('auth.unauthenticated', 'invalid internal token');
    }
  }
}

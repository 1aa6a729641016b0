import { jwtVerify, SignJWT } from 'jose';
import { AionError } from '@aion/errors';
import { isValidTenantId } from '@aion/tenancy';
import type { Principal } from './principal';
import { isRole } from './rbac';

const ISSUER = 'aion-internal';
const AUDIENCE = 'aion-services';

/**
 * Short-lived (default 60 s) HS256 tokens that carry the caller's tenant, subject and roles from
 * the gateway to services and between services. The key is AION_INTERNAL_TOKEN_SECRET, shared
 * by the platform's services only; the public JWT verifier never accepts it.
 */
export class InternalTokens {
  private readonly key: Uint8Array;

  constructor(
    secret: string,
    private readonly service: string,
    private readonly ttlSeconds = 60,
  ) {
    if (secret.length < 32) throw new Error('internal token secret must be at least 32 characters');
    this.key = new TextEncoder().encode(secret);
  }

  async issue(principal: Principal): Promise<string> {
    return new SignJWT({
      tenant_id: principal.tenantId,
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

  async verify(token: string): Promise<Principal & { caller: string }> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['HS256'],
        clockTolerance: 5,
        typ: 'aion-internal+jwt',
      });
      const tenantId = payload['tenant_id'];
      if (typeof tenantId !== 'string' || !isValidTenantId(tenantId)) throw new Error('bad tenant');
      const roles = (Array.isArray(payload['roles']) ? payload['roles'] : []).filter(
        (r): r is Principal['roles'][number] => typeof r === 'string' && isRole(r),
      );
      const kind =
        payload['kind'] === 'api_key' || payload['kind'] === 'user' ? payload['kind'] : 'service';
      return {
        kind,
        tenantId,
        subject: String(payload.sub),
        roles,
        caller: String(payload['caller'] ?? 'unknown'),
        ...(typeof payload['key_id'] === 'string' ? { keyId: payload['key_id'] } : {}),
      };
    } catch (err) {
      if (err instanceof Error && err.name === 'JWTExpired')
        throw new AionError('auth.token_expired', 'internal token has expired');
      throw new AionError('auth.unauthenticated', 'invalid internal token');
    }
  }
}

import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';

/** Who the tokens of a TestIdentityProvider are for: an Aion tenant and its roles. */
export interface TestTokenClaims {
  subject: string;
  tenantId: string;
  roles: string[];
  /** How long the token is valid, as jose reads it ("10m"); 10 minutes when omitted. */
  expiresIn?: string;
}

/** An identity provider a test gateway trusts: HS256 tokens of one issuer and audience. */
export interface TestIdentityProvider {
  issuer: string;
  audience: string;
  /** The gateway settings that make it accept this provider's tokens. */
  gatewayEnv: Record<string, string>;
  sign(claims: TestTokenClaims): Promise<string>;
}

export function testIdentityProvider(
  secret = randomBytes(32).toString('hex'),
): TestIdentityProvider {
  const issuer = 'https://idp.test';
  const audience = 'aion';
  const key = new TextEncoder().encode(secret);
  return {
    issuer,
    audience,
    gatewayEnv: {
      AION_GATEWAY_JWT_ISSUER: issuer,
      AION_GATEWAY_JWT_AUDIENCE: audience,
      AION_GATEWAY_JWT_HS256_SECRET: secret,
    },
    sign: ({ subject, tenantId, roles, expiresIn = '10m' }) =>
      new SignJWT({ tenant_id: tenantId, roles })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(subject)
        .setIssuer(issuer)
        .setAudience(audience)
        .setExpirationTime(expiresIn)
        .sign(key),
  };
}

import { decodeJwt, jwtVerify } from 'jose';
import { testIdentityProvider } from './jwt';

/** Seconds from now until the token expires. */
const lifetime = (exp: number | undefined) => exp! - Math.floor(Date.now() / 1000);

describe('testIdentityProvider', () => {
  it('signs tokens the gateway settings it gives accept', async () => {
    const idp = testIdentityProvider('s'.repeat(40));
    const token = await idp.sign({ subject: 'alice', tenantId: 't1', roles: ['developer'] });
    const { payload } = await jwtVerify(
      token,
      new TextEncoder().encode(idp.gatewayEnv['AION_GATEWAY_JWT_HS256_SECRET']),
      {
        issuer: idp.gatewayEnv['AION_GATEWAY_JWT_ISSUER']!,
        audience: idp.gatewayEnv['AION_GATEWAY_JWT_AUDIENCE']!,
      },
    );
    expect(payload).toMatchObject({ sub: 'alice', tenant_id: 't1', roles: ['developer'] });
    expect(lifetime(payload.exp)).toBeGreaterThan(590);
    expect(lifetime(payload.exp)).toBeLessThanOrEqual(600);
  });

  it('signs with its own secret: another provider does not verify its tokens', async () => {
    const token = await testIdentityProvider().sign({
      subject: 'mallory',
      tenantId: 't2',
      roles: ['admin'],
      expiresIn: '30m',
    });
    expect(lifetime(decodeJwt(token).exp)).toBeGreaterThan(1790);
    const other = testIdentityProvider();
    await expect(
      jwtVerify(token, new TextEncoder().encode(other.gatewayEnv['AION_GATEWAY_JWT_HS256_SECRET'])),
    ).rejects.toThrow(/signature/);
  });
});

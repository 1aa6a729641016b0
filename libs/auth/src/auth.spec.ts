import express from 'express';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK, type KeyLike } from 'jose';
import request from 'supertest';
import { AionError, errorMiddleware } from '@aion/errors';
import { currentTenant } from '@aion/tenancy';
import { ApiKeyService, MemoryApiKeyRepository } from './api-keys';
import { authenticate, requirePermission } from './express';
import { InternalTokens } from './internal-token';
import { idpOwner, JwtVerifier } from './jwt';
import { can, PERMISSIONS, permissionsOf, ROLE_PERMISSIONS, ROLES } from './rbac';

describe('RBAC', () => {
  it('has 5 roles over 17 permissions', () => {
    expect(ROLES).toHaveLength(5);
    expect(new Set(PERMISSIONS).size).toBe(17);
  });

  it('grants as the governance seed: admin 17, operator 11, developer 7, observer 4, anonymous 1', () => {
    expect(ROLES.map((r) => ROLE_PERMISSIONS[r].length)).toEqual([17, 11, 7, 4, 1]);
    expect(permissionsOf(['anonymous'])).toEqual(['health:read']);
    expect(permissionsOf(['observer'])).toEqual([
      'health:read',
      'tasks:read',
      'budget:read',
      'platform:read',
    ]);
    expect(ROLE_PERMISSIONS.observer.every((p) => p.endsWith(':read'))).toBe(true);
    expect(permissionsOf(['developer'])).toEqual(
      expect.arrayContaining(['tasks:submit', 'tasks:cancel', 'budget:read']),
    );
    for (const p of ['escalations:manage', 'dlq:read', 'tasks:manage', 'audit:read'] as const) {
      expect(can(['operator'], p)).toBe(true);
      expect(can(['developer'], p)).toBe(false);
    }
  });

  it('keeps recovery actions, approvals, money and credentials to admins', () => {
    for (const p of [
      'operations:manage', // dead letters resolved or replayed; every breaker reset
      'models:approve',
      'budget:manage',
      'sovereign:manage',
      'observability:manage',
      'auth:manage',
    ] as const) {
      expect(can(['admin'], p)).toBe(true);
      expect(ROLES.filter((r) => r !== 'admin').some((r) => can([r], p))).toBe(false);
    }
    expect(can(['superuser'], 'tasks:read')).toBe(false);
  });
});

describe('API keys', () => {
  let now = new Date('2026-01-01T00:00:00Z');
  const repository = new MemoryApiKeyRepository();
  const service = new ApiKeyService(repository, () => now);

  it('shows the key once and stores only its hash', async () => {
    const { key, record } = await service.create({
      tenantId: 'acme',
      role: 'developer',
      name: 'ci',
      owner: 'user:alice',
    });
    expect(key).toMatch(/^aion_[a-f0-9]{12}_[A-Za-z0-9_-]{43}$/);
    const stored = await repository.findByPrefix(record.prefix);
    // The secret is everything after aion_<prefix>_ (it may itself hold '_').
    expect(JSON.stringify(stored)).not.toContain(key.slice(`aion_${record.prefix}_`.length));
    expect(await service.verify(key)).toEqual({
      kind: 'api_key',
      tenantId: 'acme',
      subject: `key:${record.id}`,
      owner: 'user:alice',
      roles: ['developer'],
      keyId: record.id,
    });
    expect(stored?.owner).toBe('user:alice');
  });

  it('reads a key not cached yet once for concurrent requests, and caches it', async () => {
    const repository = new MemoryApiKeyRepository();
    const cached = new ApiKeyService(repository, undefined, { cacheTtlMs: 60_000 });
    const { key } = await cached.create({
      tenantId: 'acme',
      role: 'developer',
      name: 'burst',
      owner: 'user:alice',
    });
    const reads = jest.spyOn(repository, 'findByPrefix');
    const principals = await Promise.all(Array.from({ length: 20 }, () => cached.verify(key)));
    expect(principals.every((p) => p.tenantId === 'acme')).toBe(true);
    expect(reads).toHaveBeenCalledTimes(1);
    await cached.verify(key);
    expect(reads).toHaveBeenCalledTimes(1);
    // A wrong secret under the same prefix is refused from the cache too.
    await expect(cached.verify(`${key.slice(0, -4)}xxxx`)).rejects.toMatchObject({
      code: 'auth.invalid_credentials',
    });
  });

  it('names the owner it was created for, whichever key of that owner is used', async () => {
    const first = await service.create({
      tenantId: 'acme',
      role: 'admin',
      name: 'a',
      owner: 'bootstrap',
    });
    const second = await service.create({
      tenantId: 'acme',
      role: 'admin',
      name: 'b',
      owner: (await service.verify(first.key)).owner,
    });
    const [one, two] = [await service.verify(first.key), await service.verify(second.key)];
    expect(one.subject).not.toBe(two.subject);
    expect([one.owner, two.owner]).toEqual(['bootstrap', 'bootstrap']);
  });

  it('refuses to create a key without an owner, or with an oversized one', async () => {
    for (const owner of ['', 'x'.repeat(1025)])
      await expect(
        service.create({ tenantId: 'acme', role: 'developer', name: 'x', owner }),
      ).rejects.toMatchObject({ code: 'validation.invalid_argument' });
  });

  it('refuses a wrong secret for a real prefix, malformed keys and unknown prefixes', async () => {
    const { key } = await service.create({
      tenantId: 'acme',
      role: 'developer',
      name: 'x',
      owner: 'u',
    });
    const tampered = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
    await expect(service.verify(tampered)).rejects.toMatchObject({
      code: 'auth.invalid_credentials',
    });
    await expect(service.verify('not-a-key')).rejects.toMatchObject({
      code: 'auth.invalid_credentials',
    });
    await expect(service.verify(`aion_000000000000_${'a'.repeat(43)}`)).rejects.toMatchObject({
      code: 'auth.invalid_credentials',
    });
  });

  it('refuses revoked and expired keys; revocation is tenant-scoped', async () => {
    const { key, record } = await service.create({
      tenantId: 'acme',
      role: 'admin',
      name: 'x',
      owner: 'u',
      expiresAt: new Date('2026-02-01T00:00:00Z'),
    });
    await expect(service.revoke('other-tenant', record.id)).rejects.toMatchObject({
      code: 'resource.not_found',
    });
    await service.verify(key);
    now = new Date('2026-03-01T00:00:00Z');
    await expect(service.verify(key)).rejects.toMatchObject({ code: 'auth.token_expired' });
    now = new Date('2026-01-15T00:00:00Z');
    await service.revoke('acme', record.id);
    await expect(service.verify(key)).rejects.toThrow(/revoked/);
    expect((await service.list('acme')).find((r) => r.id === record.id)?.revokedAt).toBeTruthy();
  });

  it('reuses a looked-up key for its cache TTL, forgets it on local revoke, touches at most once a minute', async () => {
    const counting = new MemoryApiKeyRepository();
    let lookups = 0;
    let touches = 0;
    const findByPrefix = counting.findByPrefix.bind(counting);
    counting.findByPrefix = async (prefix) => (lookups++, findByPrefix(prefix));
    counting.touch = async () => void touches++;
    const clock = { at: new Date('2026-01-01T00:00:00Z') };
    const cached = new ApiKeyService(counting, () => clock.at, { cacheTtlMs: 60_000 });
    const other = new ApiKeyService(counting, () => clock.at, { cacheTtlMs: 60_000 });
    const { key, record } = await cached.create({
      tenantId: 'acme',
      role: 'developer',
      name: 'c',
      owner: 'u',
    });
    for (let i = 0; i < 5; i++) await cached.verify(key);
    expect(lookups).toBe(1);
    expect(touches).toBe(1);
    clock.at = new Date('2026-01-01T00:01:01Z');
    await cached.verify(key);
    expect(touches).toBe(2);
    await other.verify(key);
    await cached.revoke('acme', record.id);
    await expect(cached.verify(key)).rejects.toThrow(/revoked/);
    // Another replica's cache still holds the key until its TTL runs out: the documented bound.
    await expect(other.verify(key)).resolves.toMatchObject({ keyId: record.id });
  });

  it('validates what it creates', async () => {
    await expect(
      service.create({ tenantId: 'bad tenant!', role: 'admin', name: 'x', owner: 'u' }),
    ).rejects.toBeInstanceOf(AionError);
    await expect(
      service.create({ tenantId: 'acme', role: 'root' as never, name: 'x', owner: 'u' }),
    ).rejects.toThrow(/unknown role/);
    await expect(
      service.create({
        tenantId: 'acme',
        role: 'admin',
        name: 'x',
        owner: 'u',
        expiresAt: new Date('2000-01-01'),
      }),
    ).rejects.toThrow(/future/);
  });
});

describe('JwtVerifier', () => {
  const issuer = 'https://idp.example';
  const audience = 'aion';
  const keys: Record<string, { privateKey: KeyLike; jwk: JWK }> = {};
  let verifier: JwtVerifier;

  beforeAll(async () => {
    for (const [kid, alg] of [
      ['rsa-1', 'RS256'],
      ['ec-1', 'ES256'],
      ['ed-1', 'EdDSA'],
    ] as const) {
      const { privateKey, publicKey } = await generateKeyPair(
        alg,
        alg === 'EdDSA' ? { crv: 'Ed25519' } : {},
      );
      keys[kid] = { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg } };
    }
    verifier = new JwtVerifier({
      issuer,
      audience,
      jwks: { keys: Object.values(keys).map((k) => k.jwk) },
      clockToleranceSeconds: 30,
    });
  });

  const sign = (
    kid: string,
    alg: string,
    claims: Record<string, unknown> = {},
    opts: { exp?: number; nbf?: number; iss?: string; aud?: string } = {},
  ) => {
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT({ tenant_id: 'acme', roles: ['developer'], ...claims })
      .setProtectedHeader({ alg, kid })
      .setSubject('user-1')
      .setIssuer(opts.iss ?? issuer)
      .setAudience(opts.aud ?? audience)
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? now + 300);
    if (opts.nbf) jwt.setNotBefore(opts.nbf);
    return jwt.sign(keys[kid]!.privateKey);
  };

  it.each([
    ['rsa-1', 'RS256'],
    ['ec-1', 'ES256'],
    ['ed-1', 'EdDSA'],
  ])('accepts %s (%s) selected by kid', async (kid, alg) => {
    expect(await verifier.verify(await sign(kid, alg))).toEqual({
      kind: 'user',
      tenantId: 'acme',
      subject: 'user-1',
      owner: 'idp:https%3A%2F%2Fidp.example:user-1',
      roles: ['developer'],
    });
  });

  it("owns a token by its sub within its issuer, so two providers' subjects never meet", () => {
    expect(idpOwner('https://a.example', 'alice')).not.toBe(idpOwner('https://b.example', 'alice'));
    // A `:` in either part cannot make two different (issuer, sub) pairs one owner.
    expect(idpOwner('https://a', 'b:c')).not.toBe(idpOwner('https://a:b', 'c'));
  });

  it('rejects alg none', async () => {
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'x', tenant_id: 'acme', iss: issuer, aud: audience, exp: 9999999999 })}.`;
    await expect(verifier.verify(token)).rejects.toMatchObject({
      code: 'auth.invalid_credentials',
    });
  });

  it('rejects HS256 unless configured, and algorithm confusion with the public key as secret', async () => {
    const { publicKey } = await generateKeyPair('RS256');
    const pem = await exportSPKI(publicKey);
    const confused = await new SignJWT({ tenant_id: 'acme' })
      .setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' })
      .setSubject('x')
      .setIssuer(issuer)
      .setAudience(audience)
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(pem));
    await expect(verifier.verify(confused)).rejects.toThrow(/algorithm is not accepted/);
    const withHs = new JwtVerifier({
      issuer,
      audience,
      jwks: { keys: [keys['rsa-1']!.jwk] },
      hs256Secret: 'x'.repeat(40),
    });
    await expect(withHs.verify(confused)).rejects.toMatchObject({
      code: 'auth.invalid_credentials',
    });
    const good = await new SignJWT({ tenant_id: 'acme' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('svc')
      .setIssuer(issuer)
      .setAudience(audience)
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('x'.repeat(40)));
    expect((await withHs.verify(good)).roles).toEqual(['anonymous']);
  });

  it('rejects a token whose header alg does not match the key (RS256 header, EC key)', async () => {
    const token = await new SignJWT({ tenant_id: 'acme' })
      .setProtectedHeader({ alg: 'ES256', kid: 'rsa-1' })
      .setSubject('x')
      .setIssuer(issuer)
      .setAudience(audience)
      .setExpirationTime('5m')
      .sign(keys['ec-1']!.privateKey);
    await expect(verifier.verify(token)).rejects.toMatchObject({
      code: 'auth.invalid_credentials',
    });
  });

  it('rejects expired, not-yet-valid, wrong issuer, wrong audience, unknown kid, no tenant', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expect(
      verifier.verify(await sign('rsa-1', 'RS256', {}, { exp: now - 120 })),
    ).rejects.toMatchObject({ code: 'auth.token_expired' });
    await expect(
      verifier.verify(await sign('rsa-1', 'RS256', {}, { nbf: now + 600 })),
    ).rejects.toThrow(/nbf/);
    await expect(
      verifier.verify(await sign('rsa-1', 'RS256', {}, { iss: 'https://evil' })),
    ).rejects.toThrow(/iss/);
    await expect(
      verifier.verify(await sign('rsa-1', 'RS256', {}, { aud: 'other' })),
    ).rejects.toThrow(/aud/);
    const unknownKid = await new SignJWT({ tenant_id: 'acme' })
      .setProtectedHeader({ alg: 'RS256', kid: 'nope' })
      .setSubject('x')
      .setIssuer(issuer)
      .setAudience(audience)
      .setExpirationTime('5m')
      .sign(keys['rsa-1']!.privateKey);
    await expect(verifier.verify(unknownKid)).rejects.toMatchObject({
      code: 'auth.invalid_credentials',
    });
    await expect(
      verifier.verify(await sign('rsa-1', 'RS256', { tenant_id: undefined })),
    ).rejects.toThrow(/tenant/);
    await expect(verifier.verify('garbage')).rejects.toThrow(/malformed/);
  });

  it('tolerates bounded clock skew only', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expect(
      verifier.verify(await sign('rsa-1', 'RS256', {}, { exp: now - 10 })),
    ).resolves.toBeTruthy();
    const lax = new JwtVerifier({
      issuer,
      audience,
      jwks: { keys: [keys['rsa-1']!.jwk] },
      clockToleranceSeconds: 3600,
    });
    await expect(
      lax.verify(await sign('rsa-1', 'RS256', {}, { exp: now - 120 })),
    ).rejects.toMatchObject({ code: 'auth.token_expired' });
  });
});

describe('InternalTokens', () => {
  const tokens = new InternalTokens('s'.repeat(48), 'gateway', 60);
  const principal = {
    kind: 'api_key' as const,
    tenantId: 'acme',
    subject: 'key:1',
    owner: 'user:alice',
    roles: ['developer' as const],
    keyId: '1',
  };

  it('round-trips the principal, its owner included, and names the caller', async () => {
    expect(await tokens.verify(await tokens.issue(principal))).toEqual({
      ...principal,
      caller: 'gateway',
    });
  });

  it('reads a token without an owner (an earlier release signed it) as owned by its subject', async () => {
    const earlier = await new SignJWT({ tenant_id: 'acme', roles: ['admin'], kind: 'api_key' })
      .setProtectedHeader({ alg: 'HS256', typ: 'aion-internal+jwt' })
      .setIssuer('aion-internal')
      .setAudience('aion-services')
      .setSubject('key:2')
      .setExpirationTime('60s')
      .sign(new TextEncoder().encode('s'.repeat(48)));
    expect(await tokens.verify(earlier)).toMatchObject({ subject: 'key:2', owner: 'key:2' });
  });

  it('refuses tokens from another secret, tampered or expired ones', async () => {
    const foreign = await new InternalTokens('t'.repeat(48), 'x').issue(principal);
    await expect(tokens.verify(foreign)).rejects.toMatchObject({ code: 'auth.unauthenticated' });
    const token = await tokens.issue(principal);
    const [h, p, s] = token.split('.');
    const forged = Buffer.from(
      JSON.stringify({
        ...JSON.parse(Buffer.from(p!, 'base64url').toString()),
        tenant_id: 'other',
      }),
    ).toString('base64url');
    await expect(tokens.verify(`${h}.${forged}.${s}`)).rejects.toMatchObject({
      code: 'auth.unauthenticated',
    });
    const short = new InternalTokens('s'.repeat(48), 'gateway', -10);
    await expect(tokens.verify(await short.issue(principal))).rejects.toMatchObject({
      code: 'auth.token_expired',
    });
  });
});

describe('InternalTokens reuse', () => {
  const principal = {
    kind: 'api_key' as const,
    tenantId: 'acme',
    subject: 'key:1',
    owner: 'user:alice',
    roles: ['developer' as const],
  };
  let tokens: InternalTokens;
  beforeEach(() => {
    jest.useFakeTimers({
      now: new Date('2026-11-23T10:00:00Z'),
      doNotFake: ['nextTick', 'setImmediate'],
    });
    tokens = new InternalTokens('s'.repeat(48), 'gateway', 60);
  });
  afterEach(() => jest.useRealTimers());

  it('reuses a token for the same principal during the first half of its life, then signs anew', async () => {
    const first = await tokens.issue(principal);
    expect(await tokens.issue({ ...principal })).toBe(first);
    expect(await tokens.issue({ ...principal, roles: ['admin'] })).not.toBe(first);
    expect(await tokens.issue({ ...principal, tenantId: 'globex' })).not.toBe(first);
    expect(await tokens.issue({ ...principal, owner: 'user:bob' })).not.toBe(first);
    jest.setSystemTime(new Date('2026-11-23T10:00:31Z'));
    expect(await tokens.issue(principal)).not.toBe(first);
  });

  it('remembers a verified token only until it expires, and never a refused one', async () => {
    const token = await tokens.issue(principal);
    const verified = await tokens.verify(token);
    expect(await tokens.verify(token)).toBe(verified);
    expect(Object.isFrozen(verified) && Object.isFrozen(verified.roles)).toBe(true);
    const [h, p, s] = token.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), roles: ['admin'] })).toString('base64url')}.${s}`;
    await expect(tokens.verify(forged)).rejects.toMatchObject({ code: 'auth.unauthenticated' });
    await expect(tokens.verify(forged)).rejects.toMatchObject({ code: 'auth.unauthenticated' });
    // Past expiry plus the clock tolerance the verifier allows, the remembered answer is gone too.
    jest.setSystemTime(new Date('2026-11-23T10:01:06Z'));
    await expect(tokens.verify(token)).rejects.toMatchObject({ code: 'auth.token_expired' });
  });
});

describe('Express authenticate + requirePermission', () => {
  const apiKeys = new ApiKeyService(new MemoryApiKeyRepository());
  let app: express.Express;
  let developerKey: string;
  let observerKey: string;
  let rsa: { privateKey: KeyLike; jwk: JWK };

  beforeAll(async () => {
    developerKey = (
      await apiKeys.create({ tenantId: 'acme', role: 'developer', name: 'dev', owner: 'user:dana' })
    ).key;
    observerKey = (
      await apiKeys.create({ tenantId: 'acme', role: 'observer', name: 'obs', owner: 'user:otto' })
    ).key;
    const pair = await generateKeyPair('RS256');
    rsa = {
      privateKey: pair.privateKey,
      jwk: { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256' },
    };
    const jwt = new JwtVerifier({ issuer: 'idp', audience: 'aion', jwks: { keys: [rsa.jwk] } });
    app = express();
    app.use(authenticate({ apiKeys, jwt }));
    app.post('/tasks', requirePermission('tasks:submit'), (_req, res) => {
      res.json({
        tenant: currentTenant()?.tenantId,
        subject: currentTenant()?.subject,
        owner: currentTenant()?.owner,
      });
    });
    app.use(errorMiddleware());
  });

  it('401 without a credential, 403 without the permission', async () => {
    expect((await request(app).post('/tasks')).status).toBe(401);
    const res = await request(app).post('/tasks').set('X-API-Key', observerKey);
    expect(res.status).toBe(403);
    expect(res.body.error_code).toBe('auth.forbidden');
  });

  it('accepts API keys as X-API-Key or bearer, in the tenant context', async () => {
    for (const headers of [
      { 'X-API-Key': developerKey },
      { Authorization: `Bearer ${developerKey}` },
    ]) {
      const res = await request(app).post('/tasks').set(headers);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ tenant: 'acme', owner: 'user:dana' });
    }
  });

  it('accepts a JWT through the passport strategy and refuses a bad one with 401', async () => {
    const token = await new SignJWT({ tenant_id: 'globex', roles: ['developer'] })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setSubject('alice')
      .setIssuer('idp')
      .setAudience('aion')
      .setExpirationTime('5m')
      .sign(rsa.privateKey);
    const ok = await request(app).post('/tasks').set('Authorization', `Bearer ${token}`);
    expect(ok.body).toEqual({ tenant: 'globex', subject: 'alice', owner: 'idp:idp:alice' });
    const bad = await request(app)
      .post('/tasks')
      .set('Authorization', `Bearer ${token.slice(0, -2)}xx`);
    expect(bad.status).toBe(401);
    expect(bad.body.error_code).toBe('auth.invalid_credentials');
    expect((await request(app).post('/tasks').set('X-API-Key', 'aion_bogus')).status).toBe(401);
  });
});

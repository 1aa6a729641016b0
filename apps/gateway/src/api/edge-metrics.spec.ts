import { SignJWT } from 'jose';
import { JwtVerifier } from '@aion/auth';
import { AionError } from '@aion/errors';
import { MemoryTokenBucketStore } from '@aion/resilience';
import { EdgeMetrics, ServiceMetrics } from '@aion/telemetry';
import { countingBuckets, countingVerifier } from './edge-metrics';

const secret = 'a-test-secret-of-at-least-32-characters!';

function setup() {
  const metrics = new ServiceMetrics('gateway', { defaultMetrics: false });
  const edge = new EdgeMetrics(metrics);
  /** Every `aion_*{…}` series of a metric, as `labels value` lines. */
  const series = async (name: string) =>
    (await metrics.render()).body
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`))
      .map((l) => l.slice(name.length));
  return { edge, series };
}

describe('edge metrics', () => {
  it('count each refusal by the bucket that refused, and no allowed request', async () => {
    const { edge, series } = setup();
    const buckets = countingBuckets(new MemoryTokenBucketStore(), edge);
    const ip = { capacity: 1, refillPerSecond: 0.001 };
    const key = { capacity: 5, refillPerSecond: 0.001 };
    const takes = [
      { key: 'ip:10.0.0.1', limit: ip },
      { key: 'principal:t:k', limit: key },
    ];
    expect((await buckets.takeAll(takes)).allowed).toBe(true);
    expect((await buckets.takeAll(takes)).allowed).toBe(false);
    expect((await buckets.take('principal:t:k', key, 100)).allowed).toBe(false);
    expect((await buckets.take('principal:t:k', key)).allowed).toBe(true);
    expect(await series('aion_rate_limited_total')).toEqual([
      '{scope="per-ip",service="gateway"} 1',
      '{scope="per-key",service="gateway"} 1',
    ]);
  });

  it('count refused credentials by reason, not good ones nor a verifier that could not answer', async () => {
    const { edge, series } = setup();
    const jwt = countingVerifier(
      new JwtVerifier({ hs256Secret: secret, issuer: 'aion', audience: 'aion' }),
      edge,
    );
    const good = await new SignJWT({ tenant_id: 'acme', roles: ['developer'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setIssuer('aion')
      .setAudience('aion')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(secret));
    await expect(jwt.verify(good)).resolves.toMatchObject({ subject: 'alice' });
    await expect(jwt.verify('not.a.token')).rejects.toMatchObject({
      code: 'auth.invalid_credentials',
    });
    const away = countingVerifier(
      { verify: () => Promise.reject(new AionError('service.unavailable', 'key store away')) },
      edge,
    );
    await expect(away.verify('k')).rejects.toMatchObject({ code: 'service.unavailable' });
    expect(await series('aion_auth_failures_total')).toEqual([
      '{reason="invalid_credentials",service="gateway"} 1',
    ]);
  });
});

import { Metadata } from '@grpc/grpc-js';
import type { Principal } from '@aion/auth';
import { AionError } from '@aion/errors';
import { MemoryTokenBucketStore } from '@aion/resilience';
import { edgeAuthenticator, peerIp } from './edge-auth';

const principal: Principal = {
  kind: 'api_key',
  tenantId: 'acme',
  subject: 'key:1',
  owner: 'user:someone',
  roles: ['developer'],
  keyId: '1',
};

describe('the public gRPC API authentication', () => {
  it('finds the client IP in every peer form grpc-js reports', () => {
    expect(peerIp('127.0.0.1:5000')).toBe('127.0.0.1');
    expect(peerIp('ipv4:10.1.2.3:443')).toBe('10.1.2.3');
    expect(peerIp('[::1]:5000')).toBe('::1');
    expect(peerIp('ipv6:[2001:db8::1]:5000')).toBe('2001:db8::1');
  });

  it('limits per IP before it checks a credential, then per key, on the shared buckets', async () => {
    const buckets = new MemoryTokenBucketStore(() => 0);
    const checked: string[] = [];
    const authenticate = edgeAuthenticator({
      credentials: async (metadata) => {
        checked.push(String(metadata.get('x-api-key')[0]));
        return principal;
      },
      buckets,
      limits: {
        perIp: { capacity: 3, refillPerSecond: 1 },
        perKey: { capacity: 1, refillPerSecond: 0.5 },
      },
    });
    const metadata = new Metadata();
    metadata.set('x-api-key', 'k');
    await expect(authenticate({ metadata, peer: '1.2.3.4:1' })).resolves.toBe(principal);
    const perKey = await authenticate({ metadata, peer: '1.2.3.4:2' }).catch((e: unknown) => e);
    expect(perKey).toMatchObject({ code: 'rate_limit.exceeded', retryAfterSeconds: 2 });
    await authenticate({ metadata, peer: '1.2.3.4:3' }).catch(() => undefined);
    expect(checked).toHaveLength(3);
    // The IP's bucket is empty: the credential is not even looked at.
    const perIp = await authenticate({ metadata, peer: '1.2.3.4:4' }).catch((e: unknown) => e);
    expect(perIp).toBeInstanceOf(AionError);
    expect(perIp).toMatchObject({ code: 'rate_limit.exceeded' });
    expect(checked).toHaveLength(3);
    // REST's key names: one budget for a key whichever API it calls.
    expect(
      (await buckets.take('principal:acme:1', { capacity: 1, refillPerSecond: 0.5 })).allowed,
    ).toBe(false);
    expect((await buckets.take('ip:1.2.3.4', { capacity: 3, refillPerSecond: 1 })).allowed).toBe(
      false,
    );
  });
});

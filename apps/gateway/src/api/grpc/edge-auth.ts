import type { Metadata } from '@grpc/grpc-js';
import type { GrpcAuthenticator, Principal } from '@aion/auth';
import { AionError } from '@aion/errors';
import type { BucketLimit, TokenBucketStore } from '@aion/resilience';

export interface EdgeRateLimits {
  perKey: BucketLimit;
  perIp: BucketLimit;
}

/** The client's IP from a grpc-js peer (`1.2.3.4:5678`, `ipv4:…`, `[::1]:5678`). */
export function peerIp(peer: string): string {
  const address = peer.replace(/^ipv[46]:/, '');
  const bracketed = /^\[([^\]]+)\]/.exec(address);
  if (bracketed) return bracketed[1]!;
  const colons = address.split(':').length - 1;
  return colons === 1 ? address.slice(0, address.lastIndexOf(':')) : address;
}

async function take(store: TokenBucketStore, key: string, limit: BucketLimit): Promise<void> {
  const result = await store.take(key, limit);
  if (result.allowed) return;
  const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
  throw new AionError('rate_limit.exceeded', `rate limit exceeded; retry in ${seconds} s`, {
    retryAfterSeconds: seconds,
  });
}

/**
 * Authentication of the public gRPC API, in REST's order and on REST's buckets (the same store,
 * the same keys, so a client has one budget whichever API it calls): the per-IP limit before
 * any work, then the credential, then the per-key limit.
 */
export function edgeAuthenticator(deps: {
  credentials: (metadata: Metadata) => Promise<Principal>;
  buckets: TokenBucketStore;
  limits: EdgeRateLimits;
}): GrpcAuthenticator {
  return async ({ metadata, peer }) => {
    await take(deps.buckets, `ip:${peerIp(peer)}`, deps.limits.perIp);
    const principal = await deps.credentials(metadata);
    await take(
      deps.buckets,
      `principal:${principal.tenantId}:${principal.keyId ?? principal.subject}`,
      deps.limits.perKey,
    );
    return principal;
  };
}

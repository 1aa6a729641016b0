import type { ApiKeyVerifier, Principal, TokenVerifier } from '@aion/auth';
import { AionError } from '@aion/errors';
import type { BucketLimit, BucketTake, TakeResult, TokenBucketStore } from '@aion/resilience';
import type { EdgeMetrics } from '@aion/telemetry';

/** The bucket's scope from its key (`ip:…`, `principal:…`, as REST, gRPC and WebSocket name them). */
const scopeOf = (key: string) =>
  key.startsWith('ip:') ? 'per-ip' : key.startsWith('principal:') ? 'per-key' : 'other';

/**
 * The edge's token buckets, counting each refusal by the bucket that refused
 * (`aion_rate_limited_total{scope}`). REST, gRPC and the WebSocket share the store, so every
 * API is counted in one place.
 */
export function countingBuckets(store: TokenBucketStore, edge: EdgeMetrics): TokenBucketStore {
  return {
    take: async (key: string, limit: BucketLimit, cost?: number): Promise<TakeResult> => {
      const result = await store.take(key, limit, cost);
      if (!result.allowed) edge.limited(scopeOf(key));
      return result;
    },
    takeAll: async (takes: readonly BucketTake[]) => {
      const answer = await store.takeAll(takes);
      // A refusal marks every result refused; the buckets short of tokens have a wait.
      if (!answer.allowed)
        answer.results.forEach((r, i) => {
          if (r.retryAfterMs > 0) edge.limited(scopeOf(takes[i]!.key));
        });
      return answer;
    },
  };
}

/**
 * A credential verifier counting the credentials it refuses by their error code
 * (`aion_auth_failures_total{reason}`: invalid_credentials, …). A verifier that could not
 * answer (its store is away) is not an authentication failure and is not counted.
 */
export function countingVerifier(
  verifier: ApiKeyVerifier | TokenVerifier,
  edge: EdgeMetrics,
): ApiKeyVerifier & TokenVerifier {
  return {
    verify: async (presented: string): Promise<Principal> => {
      try {
        return await verifier.verify(presented);
      } catch (err) {
        if (err instanceof AionError && err.code.startsWith('auth.')) edge.authFailed(err.code);
        throw err;
      }
    },
  };
}

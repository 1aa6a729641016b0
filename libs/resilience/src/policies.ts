import { bulkhead, timeout, TimeoutStrategy } from 'cockatiel';

/** A timeout that aborts the wrapped work's AbortSignal when it expires. */
export function timeoutPolicy(ms: number) {
  return timeout(ms, TimeoutStrategy.Aggressive);
}

/** At most `limit` concurrent executions and `queue` waiting; more fail with BulkheadRejectedError. */
export function bulkheadPolicy(limit: number, queue = 0) {
  return bulkhead(limit, queue);
}

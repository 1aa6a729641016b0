import { DelegateBackoff, handleWhen, retry, type IRetryBackoffContext } from 'cockatiel';

export interface RetryOptions {
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Which errors are worth retrying; all by default. */
  retryable?: (error: Error) => boolean;
  /** Source of randomness for jitter (tests pass a fixed one). */
  random?: () => number;
}

/** Seconds or milliseconds an error asks us to wait (HTTP Retry-After, gRPC retry-after trailer). */
export function retryAfterMsOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { retryAfterMs?: unknown; retryAfterSeconds?: unknown };
  if (typeof e.retryAfterMs === 'number' && e.retryAfterMs >= 0) return e.retryAfterMs;
  if (typeof e.retryAfterSeconds === 'number' && e.retryAfterSeconds >= 0)
    return e.retryAfterSeconds * 1000;
  return undefined;
}

/** Parses an HTTP Retry-After header (delta seconds or HTTP date) into milliseconds. */
export function parseRetryAfter(
  header: string | null | undefined,
  now = Date.now(),
): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * The delay before retry `attempt` (1-based): what the server asked for via Retry-After when it
 * said so (capped at maxDelayMs), otherwise exponential backoff with full jitter.
 */
export function backoffDelay(attempt: number, error: unknown, options: RetryOptions = {}): number {
  const max = options.maxDelayMs ?? 30_000;
  const asked = retryAfterMsOf(error);
  if (asked !== undefined) return Math.min(asked, max);
  const ceiling = Math.min(max, (options.baseDelayMs ?? 100) * 2 ** (attempt - 1));
  return Math.floor((options.random ?? Math.random)() * ceiling);
}

/** A cockatiel retry policy with jittered backoff that honours Retry-After. */
export function retryPolicy(options: RetryOptions = {}) {
  return retry(handleWhen(options.retryable ?? (() => true)), {
    maxAttempts: options.maxAttempts ?? 3,
    backoff: new DelegateBackoff((context: IRetryBackoffContext<unknown>) =>
      backoffDelay(
        context.attempt,
        'error' in context.result ? context.result.error : undefined,
        options,
      ),
    ),
  });
}

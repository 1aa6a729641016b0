import { AionError } from '@aion/errors';

/** Error families that describe the engine's own state; every other family is about the call. */
const ENGINE_FAMILIES = new Set(['internal', 'service']);

/**
 * Whether an engine's error counts toward opening its circuit breaker. Only errors that say the
 * engine is unhealthy do: unreachable, timed out, crashed, answered 5xx. The caller's mistakes
 * (bad input, a model the engine does not serve), refusals (auth, budget, residency) and load the
 * engine shed with a Retry-After do not: they say nothing about its health, and counting them
 * would let one tenant's bad requests, or one busy second, cut every tenant off the engine.
 */
export function countsAgainstEngine(error: unknown): boolean {
  if (!(error instanceof AionError)) return true;
  if (!ENGINE_FAMILIES.has(error.code.split('.')[0]!)) return false;
  return error.retryAfterSeconds === undefined;
}

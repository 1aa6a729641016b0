import { createHash } from 'node:crypto';

/** The stored outcome of the first request with an Idempotency-Key. */
export interface StoredResponse {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

export type IdempotencyRecord =
  | { state: 'in_progress'; requestHash: string }
  | { state: 'done'; requestHash: string; response: StoredResponse };

/**
 * Per tenant and principal: the first request with a key claims it; repeats get the stored
 * response; a different payload under the same key is refused (422); a repeat while the first
 * is still running gets 409. Implemented on Redis (shared by replicas) and in memory (embedded).
 */
export interface IdempotencyStore {
  /** Claims the key; returns the existing record when someone already holds it. */
  claim(key: string, requestHash: string, ttlMs: number): Promise<IdempotencyRecord | undefined>;
  complete(
    key: string,
    requestHash: string,
    response: StoredResponse,
    ttlMs: number,
  ): Promise<void>;
  /** Frees a claim whose request failed before producing a response worth replaying. */
  abandon(key: string): Promise<void>;
}

export function idempotencyKey(
  tenantId: string,
  subject: string,
  method: string,
  path: string,
  key: string,
): string {
  return `${tenantId}:${createHash('sha256').update(`${subject}\n${method} ${path}\n${key}`).digest('hex')}`;
}

export function requestHash(body: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(body ?? null))
    .digest('hex');
}

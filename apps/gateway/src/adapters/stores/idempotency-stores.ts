import type { Redis } from 'ioredis';
import type { IdempotencyRecord, IdempotencyStore, StoredResponse } from '../../core/idempotency';

/** Redis: SET NX claims atomically across gateway replicas; records expire with their TTL. */
export class RedisIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'aion:idem:',
  ) {}

  async claim(
    key: string,
    requestHash: string,
    ttlMs: number,
  ): Promise<IdempotencyRecord | undefined> {
    const record: IdempotencyRecord = { state: 'in_progress', requestHash };
    const claimed = await this.redis.set(
      this.prefix + key,
      JSON.stringify(record),
      'PX',
      ttlMs,
      'NX',
    );
    if (claimed === 'OK') return undefined;
    const existing = await this.redis.get(this.prefix + key);
    return existing
      ? (JSON.parse(existing) as IdempotencyRecord)
      : this.claim(key, requestHash, ttlMs);
  }

  async complete(
    key: string,
    requestHash: string,
    response: StoredResponse,
    ttlMs: number,
  ): Promise<void> {
    await this.redis.set(
      this.prefix + key,
      JSON.stringify({ state: 'done', requestHash, response } satisfies IdempotencyRecord),
      'PX',
      ttlMs,
    );
  }

  async abandon(key: string): Promise<void> {
    await this.redis.del(this.prefix + key);
  }
}

/** One process (embedded mode): the same semantics in a Map with expiry. */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly records = new Map<string, { record: IdempotencyRecord; expires: number }>();

  async claim(
    key: string,
    requestHash: string,
    ttlMs: number,
  ): Promise<IdempotencyRecord | undefined> {
    const now = Date.now();
    const existing = this.records.get(key);
    if (existing && existing.expires > now) return existing.record;
    this.records.set(key, { record: { state: 'in_progress', requestHash }, expires: now + ttlMs });
    if (this.records.size > 100_000)
      for (const [k, v] of this.records) if (v.expires <= now) this.records.delete(k);
    return undefined;
  }

  async complete(
    key: string,
    requestHash: string,
    response: StoredResponse,
    ttlMs: number,
  ): Promise<void> {
    this.records.set(key, {
      record: { state: 'done', requestHash, response },
      expires: Date.now() + ttlMs,
    });
  }

  async abandon(key: string): Promise<void> {
    this.records.delete(key);
  }
}

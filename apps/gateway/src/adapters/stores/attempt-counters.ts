import type { Redis } from 'ioredis';
import type { AttemptCounter } from '../../core/sessions';

/** Failed logins in Redis: INCR and EXPIRE in one MULTI, shared by every gateway replica. */
export class RedisAttemptCounter implements AttemptCounter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'aion:login-failures:',
  ) {}

  async count(key: string): Promise<number> {
    return Number((await this.redis.get(this.prefix + key)) ?? 0);
  }

  async increment(key: string, ttlSeconds: number): Promise<number> {
    const results = await this.redis
      .multi()
      .incr(this.prefix + key)
      .expire(this.prefix + key, ttlSeconds)
      .exec();
    return Number(results?.[0]?.[1] ?? 0);
  }

  async reset(key: string): Promise<void> {
    await this.redis.del(this.prefix + key);
  }
}

export class MemoryAttemptCounter implements AttemptCounter {
  private readonly counts = new Map<string, { n: number; until: number }>();

  async count(key: string): Promise<number> {
    const entry = this.counts.get(key);
    return entry && entry.until > Date.now() ? entry.n : 0;
  }

  async increment(key: string, ttlSeconds: number): Promise<number> {
    const n = (await this.count(key)) + 1;
    this.counts.set(key, { n, until: Date.now() + ttlSeconds * 1000 });
    return n;
  }

  async reset(key: string): Promise<void> {
    this.counts.delete(key);
  }
}

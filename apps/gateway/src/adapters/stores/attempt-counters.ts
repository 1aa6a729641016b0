import type { Redis } from 'ioredis';
import type { AttemptCounter, AttemptReservation } from '../../core/sessions';

/**
 * Check and take in one step, on the server: replicas sharing Redis cannot both see a free
 * attempt. A refused attempt is not counted and does not extend the lockout.
 * Returns {attempt, 0} when taken, {0, milliseconds left} when refused.
 */
const RESERVE = `
local taken = tonumber(redis.call('GET', KEYS[1]) or '0')
if taken >= tonumber(ARGV[1]) then
  return {0, redis.call('PTTL', KEYS[1])}
end
local attempt = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return {attempt, 0}
`;

/** Gives one attempt back without creating the key or going below zero. */
const RELEASE = `
local taken = tonumber(redis.call('GET', KEYS[1]) or '0')
if taken > 0 then redis.call('DECR', KEYS[1]) end
return 0
`;

type WithAttemptScripts = Redis & {
  aionReserveAttempt(key: string, max: number, ttlSeconds: number): Promise<[number, number]>;
  aionReleaseAttempt(key: string): Promise<number>;
};

/** Login attempts in Redis, shared by every gateway replica; Lua scripts keep each step atomic. */
export class RedisAttemptCounter implements AttemptCounter {
  private readonly redis: WithAttemptScripts;

  constructor(
    redis: Redis,
    private readonly prefix = 'aion:login-failures:',
  ) {
    // defineCommand sends EVALSHA and falls back to EVAL when the server lacks the script.
    if (!('aionReserveAttempt' in redis)) {
      redis.defineCommand('aionReserveAttempt', { numberOfKeys: 1, lua: RESERVE });
      redis.defineCommand('aionReleaseAttempt', { numberOfKeys: 1, lua: RELEASE });
    }
    this.redis = redis as WithAttemptScripts;
  }

  async reserve(key: string, max: number, windowSeconds: number): Promise<AttemptReservation> {
    const [attempt, msLeft] = await this.redis.aionReserveAttempt(
      this.prefix + key,
      max,
      windowSeconds,
    );
    return attempt > 0
      ? { allowed: true, attempt }
      : { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(msLeft / 1000)) };
  }

  async release(key: string): Promise<void> {
    await this.redis.aionReleaseAttempt(this.prefix + key);
  }

  async reset(key: string): Promise<void> {
    await this.redis.del(this.prefix + key);
  }
}

/** Embedded mode (one process): each step runs without awaiting, so it is atomic here too. */
export class MemoryAttemptCounter implements AttemptCounter {
  private readonly counts = new Map<string, { taken: number; until: number }>();
  private operations = 0;

  constructor(private readonly now: () => number = Date.now) {}

  async reserve(key: string, max: number, windowSeconds: number): Promise<AttemptReservation> {
    this.sweepNow();
    const entry = this.live(key);
    const taken = entry?.taken ?? 0;
    if (entry && taken >= max)
      return {
        allowed: false,
        retryAfterSeconds: Math.max(1, Math.ceil((entry.until - this.now()) / 1000)),
      };
    this.counts.set(key, { taken: taken + 1, until: this.now() + windowSeconds * 1000 });
    return { allowed: true, attempt: taken + 1 };
  }

  async release(key: string): Promise<void> {
    const entry = this.live(key);
    if (entry && entry.taken > 0) entry.taken -= 1;
  }

  async reset(key: string): Promise<void> {
    this.counts.delete(key);
  }

  private live(key: string) {
    const entry = this.counts.get(key);
    if (entry && entry.until <= this.now()) {
      this.counts.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Guesses at many names must not grow the map forever: drop expired entries now and then. */
  private sweepNow(): void {
    if (++this.operations % 1000 !== 0) return;
    const now = this.now();
    for (const [key, entry] of this.counts) if (entry.until <= now) this.counts.delete(key);
  }
}

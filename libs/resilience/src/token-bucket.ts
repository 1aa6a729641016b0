import type { Redis } from 'ioredis';
import { isDependencyUnavailable } from '@aion/errors';

export interface BucketLimit {
  /** Most tokens the bucket holds: the burst. */
  capacity: number;
  /** Tokens added per second: the sustained rate (e.g. 60/min = 1). */
  refillPerSecond: number;
}

export interface TakeResult {
  allowed: boolean;
  /** Whole tokens left after this take. */
  remaining: number;
  /** When the caller may try again (0 when allowed). */
  retryAfterMs: number;
  /** When the bucket will be full again. */
  resetMs: number;
}

/** Atomic token buckets shared by every replica (Redis) or within one process (memory). */
export interface TokenBucketStore {
  take(key: string, limit: BucketLimit, cost?: number): Promise<TakeResult>;
}

/**
 * Refill, check and take in one Lua script, so concurrent replicas can never both spend the
 * last token. Time comes from the Redis server (TIME), so replica clock skew does not matter.
 */
const TAKE_SCRIPT = `
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2]) / 1000
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate) + 1000)
local retry = 0
if allowed == 0 then retry = math.ceil((cost - tokens) / rate) end
return {allowed, math.floor(tokens), retry, math.ceil((capacity - tokens) / rate)}
`;

type TakeCommand = (
  key: string,
  capacity: number,
  rate: number,
  cost: number,
) => Promise<[number, number, number, number]>;

export class RedisTokenBucketStore implements TokenBucketStore {
  private readonly command: TakeCommand;

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix = 'aion:rl:',
  ) {
    // defineCommand uses EVALSHA and falls back to EVAL after a script cache flush.
    if (!(redis as unknown as Record<string, unknown>)['aionTakeToken'])
      redis.defineCommand('aionTakeToken', { numberOfKeys: 1, lua: TAKE_SCRIPT });
    const command = (redis as unknown as Record<string, TakeCommand>)['aionTakeToken']!;
    this.command = command.bind(redis);
  }

  async take(key: string, limit: BucketLimit, cost = 1): Promise<TakeResult> {
    validate(limit, cost);
    const [allowed, remaining, retryAfterMs, resetMs] = await this.command(
      `${this.keyPrefix}${key}`,
      limit.capacity,
      limit.refillPerSecond,
      cost,
    );
    return { allowed: allowed === 1, remaining, retryAfterMs, resetMs };
  }
}

/** The same algorithm in process memory, for the embedded default (one gateway, no Redis). */
export class MemoryTokenBucketStore implements TokenBucketStore {
  private readonly buckets = new Map<string, { tokens: number; ts: number }>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 100_000,
  ) {}

  async take(key: string, limit: BucketLimit, cost = 1): Promise<TakeResult> {
    validate(limit, cost);
    const now = this.now();
    const rate = limit.refillPerSecond / 1000;
    const state = this.buckets.get(key) ?? { tokens: limit.capacity, ts: now };
    let tokens = Math.min(limit.capacity, state.tokens + Math.max(0, now - state.ts) * rate);
    const allowed = tokens >= cost;
    if (allowed) tokens -= cost;
    this.buckets.delete(key);
    this.buckets.set(key, { tokens, ts: now });
    if (this.buckets.size > this.maxKeys) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    return {
      allowed,
      remaining: Math.floor(tokens),
      retryAfterMs: allowed ? 0 : Math.ceil((cost - tokens) / rate),
      resetMs: Math.ceil((limit.capacity - tokens) / rate),
    };
  }
}

function validate(limit: BucketLimit, cost: number): void {
  if (!(limit.capacity > 0) || !(limit.refillPerSecond > 0) || !(cost > 0)) {
    throw new Error('token bucket needs capacity > 0, refillPerSecond > 0 and cost > 0');
  }
}

/** The shared store did not answer in time: an outage, whatever isOutage says of its errors. */
class SharedStoreTimeout extends Error {
  override readonly name = 'SharedStoreTimeout';
  readonly code = 'ETIMEDOUT';
}

export interface DegradingTokenBucketOptions {
  /** The shared store (Redis). */
  shared: TokenBucketStore;
  /** Where takes go while the shared store is away (default: this process's memory). */
  local?: TokenBucketStore;
  /** Which failures mean "the shared store is away" (default: a lost connection). */
  isOutage?: (err: unknown) => boolean;
  /** A take the shared store has not answered within this is treated as an outage (ms). */
  timeoutMs?: number;
  /** After an outage, how long takes stay local before the shared store is tried again (ms). */
  retrySharedAfterMs?: number;
  /** Called when takes move to the local store (with the cause) and when they move back. */
  onChange?: (local: boolean, cause?: unknown) => void;
  now?: () => number;
}

/**
 * Rate limits that degrade instead of failing while the shared store (Redis) is unreachable:
 * takes go to an in-process bucket, so each replica enforces the limit on its own (the total
 * over the fleet is bounded by limit × replicas) and no request is refused because Redis is
 * away. The shared store is tried again every `retrySharedAfterMs`; once it answers, takes go
 * back to it. Errors that are not an outage (a bad limit, a script error) still throw.
 */
export class DegradingTokenBucketStore implements TokenBucketStore {
  private readonly local: TokenBucketStore;
  private readonly isOutage: (err: unknown) => boolean;
  private readonly timeoutMs: number;
  private readonly retrySharedAfterMs: number;
  private readonly now: () => number;
  private localUntil = 0;
  private degraded = false;

  constructor(private readonly options: DegradingTokenBucketOptions) {
    this.local = options.local ?? new MemoryTokenBucketStore();
    this.isOutage = options.isOutage ?? isDependencyUnavailable;
    this.timeoutMs = options.timeoutMs ?? 500;
    this.retrySharedAfterMs = options.retrySharedAfterMs ?? 1000;
    this.now = options.now ?? Date.now;
  }

  /** True while takes are served by the local store. */
  get isLocal(): boolean {
    return this.degraded;
  }

  async take(key: string, limit: BucketLimit, cost = 1): Promise<TakeResult> {
    if (this.degraded && this.now() < this.localUntil) return this.local.take(key, limit, cost);
    let result: TakeResult;
    try {
      result = await this.sharedTake(key, limit, cost);
    } catch (err) {
      if (!(err instanceof SharedStoreTimeout) && !this.isOutage(err)) throw err;
      this.localUntil = this.now() + this.retrySharedAfterMs;
      if (!this.degraded) {
        this.degraded = true;
        this.options.onChange?.(true, err);
      }
      return this.local.take(key, limit, cost);
    }
    if (this.degraded) {
      this.degraded = false;
      this.options.onChange?.(false);
    }
    return result;
  }

  private sharedTake(key: string, limit: BucketLimit, cost: number): Promise<TakeResult> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      this.options.shared.take(key, limit, cost),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new SharedStoreTimeout(`no answer within ${this.timeoutMs} ms`)),
          this.timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  }
}

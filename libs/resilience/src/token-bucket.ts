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

/** One bucket of a take: its key, its limit and what the request costs there. */
export interface BucketTake {
  key: string;
  limit: BucketLimit;
  cost?: number;
}

/** Atomic token buckets shared by every replica (Redis) or within one process (memory). */
export interface TokenBucketStore {
  take(key: string, limit: BucketLimit, cost?: number): Promise<TakeResult>;
  /**
   * Several buckets in one step (one Redis call): allowed only when every bucket has the
   * tokens, and then each pays; a refusal takes from none. Results in the order asked.
   */
  takeAll(takes: readonly BucketTake[]): Promise<{ allowed: boolean; results: TakeResult[] }>;
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

/**
 * TAKE_SCRIPT over several buckets: refill and check each, then take from all or from none.
 * ARGV holds capacity, rate and cost per key. Its keys must share a hash slot on Redis Cluster.
 */
const TAKE_ALL_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tokens = {}
local allowed = 1
for i = 1, #KEYS do
  local capacity = tonumber(ARGV[3 * i - 2])
  local rate = tonumber(ARGV[3 * i - 1]) / 1000
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'ts')
  local tk = tonumber(state[1]) or capacity
  local ts = tonumber(state[2]) or now
  tk = math.min(capacity, tk + math.max(0, now - ts) * rate)
  tokens[i] = tk
  if tk < tonumber(ARGV[3 * i]) then allowed = 0 end
end
local out = {allowed}
for i = 1, #KEYS do
  local capacity = tonumber(ARGV[3 * i - 2])
  local rate = tonumber(ARGV[3 * i - 1]) / 1000
  local cost = tonumber(ARGV[3 * i])
  local tk = tokens[i]
  if allowed == 1 then tk = tk - cost end
  redis.call('HSET', KEYS[i], 'tokens', tostring(tk), 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[i], math.ceil((capacity - tk) / rate) + 1000)
  local retry = 0
  if tk < cost then retry = math.ceil((cost - tk) / rate) end
  out[#out + 1] = math.floor(tk)
  out[#out + 1] = retry
  out[#out + 1] = math.ceil((capacity - tk) / rate)
end
return out
`;

type TakeAllCommand = (
  numberOfKeys: number,
  ...keysAndArgs: (string | number)[]
) => Promise<number[]>;

export class RedisTokenBucketStore implements TokenBucketStore {
  private readonly command: TakeCommand;

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix = 'aion:rl:',
  ) {
    // defineCommand uses EVALSHA and falls back to EVAL after a script cache flush.
    if (!(redis as unknown as Record<string, unknown>)['aionTakeToken'])
      redis.defineCommand('aionTakeToken', { numberOfKeys: 1, lua: TAKE_SCRIPT });
    // The number of keys varies per call: it comes first among the arguments.
    if (!(redis as unknown as Record<string, unknown>)['aionTakeTokens'])
      redis.defineCommand('aionTakeTokens', { lua: TAKE_ALL_SCRIPT });
    const command = (redis as unknown as Record<string, TakeCommand>)['aionTakeToken']!;
    this.command = command.bind(redis);
    const all = (redis as unknown as Record<string, TakeAllCommand>)['aionTakeTokens']!;
    this.allCommand = all.bind(redis);
  }

  private readonly allCommand: TakeAllCommand;

  async takeAll(
    takes: readonly BucketTake[],
  ): Promise<{ allowed: boolean; results: TakeResult[] }> {
    for (const t of takes) validate(t.limit, t.cost ?? 1);
    const reply = await this.allCommand(
      takes.length,
      ...takes.map((t) => `${this.keyPrefix}${t.key}`),
      ...takes.flatMap((t) => [t.limit.capacity, t.limit.refillPerSecond, t.cost ?? 1]),
    );
    const allowed = reply[0] === 1;
    const results = takes.map((_, i) => ({
      allowed,
      remaining: reply[1 + 3 * i]!,
      retryAfterMs: allowed ? 0 : reply[2 + 3 * i]!,
      resetMs: reply[3 + 3 * i]!,
    }));
    return { allowed, results };
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
    return (await this.takeAll([{ key, limit, cost }])).results[0]!;
  }

  async takeAll(
    takes: readonly BucketTake[],
  ): Promise<{ allowed: boolean; results: TakeResult[] }> {
    for (const t of takes) validate(t.limit, t.cost ?? 1);
    const now = this.now();
    const refilled = takes.map(({ key, limit }) => {
      const state = this.buckets.get(key) ?? { tokens: limit.capacity, ts: now };
      const rate = limit.refillPerSecond / 1000;
      return Math.min(limit.capacity, state.tokens + Math.max(0, now - state.ts) * rate);
    });
    const allowed = takes.every((t, i) => refilled[i]! >= (t.cost ?? 1));
    const results = takes.map(({ key, limit, cost = 1 }, i) => {
      const rate = limit.refillPerSecond / 1000;
      const tokens = allowed ? refilled[i]! - cost : refilled[i]!;
      this.buckets.delete(key);
      this.buckets.set(key, { tokens, ts: now });
      return {
        allowed,
        remaining: Math.floor(tokens),
        retryAfterMs: allowed || tokens >= cost ? 0 : Math.ceil((cost - tokens) / rate),
        resetMs: Math.ceil((limit.capacity - tokens) / rate),
      };
    });
    while (this.buckets.size > this.maxKeys) {
      const oldest = this.buckets.keys().next().value;
      if (oldest === undefined) break;
      this.buckets.delete(oldest);
    }
    return { allowed, results };
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

  take(key: string, limit: BucketLimit, cost = 1): Promise<TakeResult> {
    return this.either((store) => store.take(key, limit, cost));
  }

  takeAll(takes: readonly BucketTake[]): Promise<{ allowed: boolean; results: TakeResult[] }> {
    return this.either((store) => store.takeAll(takes));
  }

  /** The shared store while it answers, else the local one. */
  private async either<T>(take: (store: TokenBucketStore) => Promise<T>): Promise<T> {
    if (this.degraded && this.now() < this.localUntil) return take(this.local);
    let result: T;
    try {
      result = await this.sharedTake(take);
    } catch (err) {
      if (!(err instanceof SharedStoreTimeout) && !this.isOutage(err)) throw err;
      this.localUntil = this.now() + this.retrySharedAfterMs;
      if (!this.degraded) {
        this.degraded = true;
        this.options.onChange?.(true, err);
      }
      return take(this.local);
    }
    if (this.degraded) {
      this.degraded = false;
      this.options.onChange?.(false);
    }
    return result;
  }

  private sharedTake<T>(take: (store: TokenBucketStore) => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      take(this.options.shared),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new SharedStoreTimeout(`no answer within ${this.timeoutMs} ms`)),
          this.timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  }
}

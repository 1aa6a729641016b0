import {
  CircuitState,
  circuitBreaker,
  ConsecutiveBreaker,
  handleWhen,
  SamplingBreaker,
  type CircuitBreakerPolicy,
  type IBreaker,
} from 'cockatiel';

export type BreakerStateName = 'closed' | 'open' | 'half_open' | 'isolated';

export interface BreakerOptions {
  /** Consecutive failures that open the breaker (default 5). Ignored when `failureRatio` is set. */
  consecutiveFailures?: number;
  /** Open when this share of calls in `samplingWindowMs` fails (with `minimumRps`). */
  failureRatio?: number;
  samplingWindowMs?: number;
  minimumRps?: number;
  /** Time an open breaker waits before letting a trial call through (default 10 s). */
  halfOpenAfterMs?: number;
  /**
   * Whether an error says the dependency is unhealthy (default: every error). Errors it says
   * are not (the caller's bad input, load shed with a Retry-After) pass through without counting.
   */
  isFailure?: (error: unknown) => boolean;
}

/** Wraps what failed after the caller gave up: never the dependency's fault. */
class CallerAborted {
  constructor(readonly error: unknown) {}
}

export interface BreakerSnapshot {
  name: string;
  state: BreakerStateName;
  successes: number;
  failures: number;
  rejections: number;
  opened: number;
  lastFailure?: string;
  lastStateChange: string;
}

const STATE_NAMES: Record<CircuitState, BreakerStateName> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half_open',
  [CircuitState.Isolated]: 'isolated',
};

interface Entry {
  policy: CircuitBreakerPolicy;
  stats: Omit<BreakerSnapshot, 'name' | 'state'>;
}

/**
 * Named cockatiel circuit breakers (one per engine or dependency) with their stats, so the
 * orchestrator can list them and an admin can reset them. cockatiel has no reset, so a reset
 * replaces the policy with a fresh closed one.
 */
export class BreakerRegistry {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly defaults: BreakerOptions = {},
    private readonly onStateChange?: (name: string, state: BreakerStateName) => void,
  ) {}

  get(name: string, options: BreakerOptions = {}): CircuitBreakerPolicy {
    let entry = this.entries.get(name);
    if (!entry) {
      entry = this.create(name, { ...this.defaults, ...options });
      this.entries.set(name, entry);
    }
    return entry.policy;
  }

  /**
   * Runs `fn` behind the named breaker, counting rejections separately from failures. A failure
   * after `signal` aborted (the caller canceled or ran out of time) does not count.
   */
  async execute<T>(
    name: string,
    fn: (signal: AbortSignal) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    const policy = this.get(name);
    const entry = this.entries.get(name)!;
    if (policy.state === CircuitState.Open || policy.state === CircuitState.Isolated)
      entry.stats.rejections += 1;
    try {
      return await policy.execute(async ({ signal: s }) => {
        try {
          return await fn(s);
        } catch (err) {
          throw signal?.aborted ? new CallerAborted(err) : err;
        }
      }, signal);
    } catch (err) {
      throw err instanceof CallerAborted ? err.error : err;
    }
  }

  state(name: string): BreakerStateName {
    const entry = this.entries.get(name);
    return entry ? STATE_NAMES[entry.policy.state] : 'closed';
  }

  isOpen(name: string): boolean {
    const s = this.state(name);
    return s === 'open' || s === 'isolated';
  }

  list(): BreakerSnapshot[] {
    return [...this.entries.entries()]
      .map(([name, entry]) => ({ name, state: STATE_NAMES[entry.policy.state], ...entry.stats }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  reset(name: string): void {
    if (this.entries.has(name)) this.entries.set(name, this.create(name, this.defaults));
  }

  resetAll(): string[] {
    const names = [...this.entries.keys()];
    for (const name of names) this.reset(name);
    return names;
  }

  private create(name: string, options: BreakerOptions): Entry {
    const breaker: IBreaker =
      options.failureRatio !== undefined
        ? new SamplingBreaker({
            threshold: options.failureRatio,
            duration: options.samplingWindowMs ?? 30_000,
            minimumRps: options.minimumRps ?? 1,
          })
        : new ConsecutiveBreaker(options.consecutiveFailures ?? 5);
    const isFailure = options.isFailure ?? (() => true);
    const counts = handleWhen((error) => !(error instanceof CallerAborted) && isFailure(error));
    const policy = circuitBreaker(counts, {
      breaker,
      halfOpenAfter: options.halfOpenAfterMs ?? 10_000,
    });
    const entry: Entry = {
      policy,
      stats: {
        successes: 0,
        failures: 0,
        rejections: 0,
        opened: 0,
        lastStateChange: new Date().toISOString(),
      },
    };
    policy.onSuccess(() => {
      entry.stats.successes += 1;
    });
    policy.onFailure(({ reason, handled }) => {
      // Errors that do not count against the dependency are not its failures either.
      if (!handled) return;
      if (
        'error' in reason &&
        reason.error instanceof Error &&
        reason.error.name === 'BrokenCircuitError'
      )
        return;
      entry.stats.failures += 1;
      if ('error' in reason)
        entry.stats.lastFailure =
          reason.error instanceof Error ? reason.error.message : String(reason.error);
    });
    policy.onBreak(() => {
      entry.stats.opened += 1;
    });
    policy.onStateChange((state) => {
      entry.stats.lastStateChange = new Date().toISOString();
      this.onStateChange?.(name, STATE_NAMES[state]);
    });
    return entry;
  }
}

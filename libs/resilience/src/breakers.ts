import { randomUUID } from 'node:crypto';
import {
  BrokenCircuitError,
  CircuitState,
  circuitBreaker,
  ConsecutiveBreaker,
  handleWhen,
  SamplingBreaker,
  type CircuitBreakerPolicy,
  type IBreaker,
} from 'cockatiel';
import {
  MemoryBreakerStateStore,
  type BreakerCounts,
  type BreakerCountsDelta,
  type BreakerStateStore,
  type SharedBreaker,
  type SharedBreakerState,
} from './breaker-store';

export type BreakerStateName = SharedBreakerState;

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

/** How the breakers of several replicas share their state. */
export interface BreakerSharing {
  /** Default: process memory (one replica). */
  store?: BreakerStateStore;
  /** Names this replica in the store (default: a random id). */
  replica?: string;
  /** How long a claimed trial call keeps other replicas out (default 60 s); past it, they may try. */
  trialLeaseMs?: number;
  /** A store call failed; the breaker keeps this replica's view and the call goes on. */
  onError?: (error: unknown, action: string) => void;
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

/** The breaker as this replica last wrote or read it; times are this process's clock. */
interface View {
  state: SharedBreakerState;
  /** -1 until the store's record was seen. */
  version: number;
  resets: number;
  /** Open: when a trial call may run. */
  trialAt: number;
  /** Half-open: who runs the trial and until when the claim holds. */
  trialBy: string | undefined;
  trialUntil: number;
  opened: number;
  counts: BreakerCounts;
  lastFailure: string | undefined;
  lastStateChange: string;
}

interface Entry {
  readonly name: string;
  policy: CircuitBreakerPolicy;
  view: View;
  /** Counted here and not yet added to the store. */
  pending: BreakerCounts & { lastFailure: string | undefined };
  /** This replica's trial call: claiming (no version yet) or running under its claim's version. */
  trial: { version: number | undefined } | undefined;
}

const zero = (): BreakerCounts & { lastFailure: string | undefined } => ({
  successes: 0,
  failures: 0,
  rejections: 0,
  lastFailure: undefined,
});

/**
 * Named cockatiel circuit breakers (one per engine or dependency), shared by every replica
 * through a `BreakerStateStore`. cockatiel counts the failures of this replica's calls and runs
 * the trial call; the store holds the state all replicas act on. A breaker opened anywhere stops
 * calls everywhere once the replicas sync; an open breaker past its wait is offered again
 * (`isOpen` is false) so that one call, claimed in the store, can close it on every replica; a
 * reset anywhere closes it everywhere. Only state changes touch the store, never each call: the
 * router's `isOpen` reads memory.
 */
export class BreakerRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly store: BreakerStateStore;
  readonly replica: string;
  private readonly trialLeaseMs: number;

  constructor(
    private readonly defaults: BreakerOptions = {},
    private readonly onStateChange?: (name: string, state: BreakerStateName) => void,
    private readonly sharing: BreakerSharing = {},
  ) {
    this.store = sharing.store ?? new MemoryBreakerStateStore();
    this.replica = sharing.replica ?? randomUUID();
    this.trialLeaseMs = sharing.trialLeaseMs ?? 60_000;
  }

  /**
   * Runs `fn` behind the named breaker. An open breaker refuses with BrokenCircuitError, except
   * for the one trial call this replica claims once its wait has passed. A failure after `signal`
   * aborted (the caller canceled or ran out of time) does not count.
   */
  async execute<T>(
    name: string,
    fn: (signal: AbortSignal) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    const entry = this.entry(name);
    if (entry.view.state === 'closed') return this.run(entry, fn, signal);
    if (entry.trial || !this.due(entry)) throw this.refuse(entry);
    return this.trial(entry, fn, signal);
  }

  state(name: string): BreakerStateName {
    return this.entries.get(name)?.view.state ?? 'closed';
  }

  /**
   * Whether the router must leave the engine out. An open breaker whose wait has passed is not:
   * it is offered for its trial call (until a replica claims that trial).
   */
  isOpen(name: string): boolean {
    const entry = this.entries.get(name);
    if (!entry || entry.view.state === 'closed') return false;
    return entry.trial !== undefined || !this.due(entry);
  }

  list(): BreakerSnapshot[] {
    return [...this.entries.values()]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map(({ name, view, pending }) => {
        const lastFailure = pending.lastFailure ?? view.lastFailure;
        return {
          name,
          state: view.state,
          successes: view.counts.successes + pending.successes,
          failures: view.counts.failures + pending.failures,
          rejections: view.counts.rejections + pending.rejections,
          opened: view.opened,
          ...(lastFailure !== undefined ? { lastFailure } : {}),
          lastStateChange: view.lastStateChange,
        };
      });
  }

  /** Closes every breaker of every replica sharing the store; returns their names. */
  async resetAll(): Promise<string[]> {
    const names = new Set(await this.store.resetAll(this.replica));
    for (const entry of this.entries.values()) {
      names.add(entry.name);
      if (!entry.trial) this.clear(entry);
    }
    await this.refresh();
    return [...names].sort();
  }

  /**
   * Adds what this replica counted to the store, then takes every breaker's state from it
   * (breakers other replicas opened, trials they ran, resets). Replicas call it on an interval.
   */
  async sync(): Promise<void> {
    const sent = [...this.entries.values()]
      .filter(({ pending: p }) => p.successes || p.failures || p.rejections || p.lastFailure)
      .map((entry) => ({
        entry,
        delta: { name: entry.name, resets: entry.view.resets, ...entry.pending },
      }));
    if (sent.length) {
      await this.store.addCounts(sent.map((s) => s.delta));
      for (const { entry, delta } of sent) this.counted(entry, delta);
    }
    await this.refresh();
  }

  /** Syncs every `intervalMs` until the returned function is called (which syncs once more). */
  syncEvery(intervalMs: number): () => Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const tick = () =>
      this.sync()
        .catch((err: unknown) => this.sharing.onError?.(err, 'sync breakers'))
        .finally(() => {
          if (stopped) return;
          timer = setTimeout(() => void tick(), intervalMs);
          timer.unref();
        });
    timer = setTimeout(() => void tick(), intervalMs);
    timer.unref();
    return async () => {
      stopped = true;
      clearTimeout(timer);
      await this.sync().catch((err: unknown) => this.sharing.onError?.(err, 'sync breakers'));
    };
  }

  private async refresh(): Promise<void> {
    for (const record of await this.store.list()) this.adopt(this.entry(record.name), record);
  }

  private entry(name: string): Entry {
    let entry = this.entries.get(name);
    if (!entry) {
      entry = {
        name,
        policy: undefined as unknown as CircuitBreakerPolicy, // set right below
        view: {
          state: 'closed',
          version: -1,
          resets: 0,
          trialAt: 0,
          trialBy: undefined,
          trialUntil: 0,
          opened: 0,
          counts: { successes: 0, failures: 0, rejections: 0 },
          lastFailure: undefined,
          lastStateChange: new Date().toISOString(),
        },
        pending: zero(),
        trial: undefined,
      };
      entry.policy = this.policyFor(entry);
      this.entries.set(name, entry);
    }
    return entry;
  }

  /** Whether an open breaker may have its trial call now. */
  private due({ view }: Entry): boolean {
    const now = Date.now();
    if (view.state === 'open') return now >= view.trialAt;
    return view.state === 'half_open' && view.trialBy !== this.replica && now >= view.trialUntil;
  }

  private refuse(entry: Entry): BrokenCircuitError {
    entry.pending.rejections += 1;
    return new BrokenCircuitError();
  }

  private async run<T>(
    entry: Entry,
    fn: (signal: AbortSignal) => Promise<T>,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    try {
      return await entry.policy.execute(async ({ signal: s }) => {
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

  /** Claims the trial call in the store, then runs it as cockatiel's half-open test. */
  private async trial<T>(
    entry: Entry,
    fn: (signal: AbortSignal) => Promise<T>,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    const trial: { version: number | undefined } = { version: undefined };
    entry.trial = trial;
    let claim: Awaited<ReturnType<BreakerStateStore['claimTrial']>>;
    try {
      claim = await this.store.claimTrial(entry.name, {
        replica: this.replica,
        leaseMs: this.trialLeaseMs,
      });
    } catch (err) {
      entry.trial = undefined;
      this.sharing.onError?.(err, 'claim a trial call');
      throw this.refuse(entry);
    }
    if (!claim.claimed || !claim.record) {
      entry.trial = undefined;
      // Not open in the store (this replica's opening never reached it, or it was reset): closed.
      if (!claim.record || claim.record.state === 'closed') {
        if (claim.record) this.adopt(entry, claim.record, true);
        if (entry.view.state !== 'closed') this.clear(entry);
        return this.run(entry, fn, signal);
      }
      this.adopt(entry, claim.record, true);
      throw this.refuse(entry);
    }
    trial.version = claim.record.version;
    this.adopt(entry, claim.record, true);
    entry.policy = this.policyFor(entry, true);
    try {
      return await this.run(entry, fn, signal);
    } finally {
      if (entry.trial === trial) entry.trial = undefined;
    }
  }

  /** Takes the store's record: its state when newer than ours (or the answer to our own write). */
  private adopt(entry: Entry, record: SharedBreaker, ours = false): void {
    if (entry.view.version >= 0 && record.resets > entry.view.resets) this.clear(entry);
    const view = entry.view;
    if (record.version < view.version) return;
    const now = Date.now();
    const newer = record.version > view.version || ours;
    const state = newer ? record.state : view.state;
    entry.view = {
      ...(newer
        ? {
            state,
            version: record.version,
            trialAt: now + record.trialInMs,
            trialBy: record.trialBy,
            trialUntil: now + record.trialLeftMs,
            lastStateChange: record.lastStateChange,
          }
        : view),
      resets: record.resets,
      opened: record.opened,
      counts: {
        successes: record.successes,
        failures: record.failures,
        rejections: record.rejections,
      },
      lastFailure: record.lastFailure,
    };
    if (state === 'closed' && entry.policy.state !== CircuitState.Closed && !entry.trial)
      entry.policy = this.policyFor(entry);
    if (state !== view.state) this.onStateChange?.(entry.name, state);
  }

  /** A reset: closed, nothing counted, cockatiel's own counts started over. */
  private clear(entry: Entry): void {
    const was = entry.view.state;
    entry.pending = zero();
    entry.view = {
      ...entry.view,
      state: 'closed',
      trialBy: undefined,
      opened: 0,
      counts: { successes: 0, failures: 0, rejections: 0 },
      lastFailure: undefined,
    };
    entry.policy = this.policyFor(entry);
    if (was !== 'closed') this.onStateChange?.(entry.name, 'closed');
  }

  /** Counts the store accepted move from pending into the view (unless a reset came between). */
  private counted(entry: Entry, delta: BreakerCountsDelta): void {
    if (entry.view.resets !== delta.resets) return;
    for (const key of ['successes', 'failures', 'rejections'] as const) {
      entry.pending[key] -= delta[key];
      entry.view.counts[key] += delta[key];
    }
    if (delta.lastFailure !== undefined) {
      entry.view.lastFailure = delta.lastFailure;
      if (entry.pending.lastFailure === delta.lastFailure) entry.pending.lastFailure = undefined;
    }
  }

  /** This replica changed the state: its view follows at once, the store when it answers. */
  private changed(
    entry: Entry,
    state: SharedBreakerState,
    write: () => Promise<SharedBreaker | undefined>,
  ): void {
    const was = entry.view.state;
    entry.view = {
      ...entry.view,
      state,
      trialBy: undefined,
      lastStateChange: new Date().toISOString(),
      ...(state === 'open'
        ? {
            trialAt: Date.now() + (this.defaults.halfOpenAfterMs ?? 10_000),
            opened: entry.view.opened + 1,
          }
        : {}),
    };
    if (state !== was) this.onStateChange?.(entry.name, state);
    write().then(
      (record) => record && this.adopt(entry, record, true),
      (err: unknown) => this.sharing.onError?.(err, `record the breaker ${state}`),
    );
  }

  /** A cockatiel policy for the entry; `trialNext`: its next call is the half-open trial. */
  private policyFor(entry: Entry, trialNext = false): CircuitBreakerPolicy {
    const options = this.defaults;
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
    const halfOpenAfterMs = options.halfOpenAfterMs ?? 10_000;
    const policy = circuitBreaker(counts, {
      breaker,
      halfOpenAfter: halfOpenAfterMs,
      // cockatiel's own form of a half-open breaker (what its toJSON() writes for one): open
      // since the epoch, so the next call is the trial.
      ...(trialNext
        ? {
            initialState: {
              ownState: { value: CircuitState.Open, openedAt: 0, attemptNo: 1 },
              breakerState: breaker.state,
            },
          }
        : {}),
    });
    // Calls that end after the entry moved on to a new policy (a reset) count no more.
    const current = () => entry.policy === policy;
    policy.onSuccess(() => {
      if (current()) entry.pending.successes += 1;
    });
    policy.onFailure(({ reason, handled }) => {
      // Errors that do not count against the dependency are not its failures either.
      if (!handled || !current()) return;
      if ('error' in reason && reason.error instanceof BrokenCircuitError) return;
      entry.pending.failures += 1;
      if ('error' in reason)
        entry.pending.lastFailure =
          reason.error instanceof Error ? reason.error.message : String(reason.error);
    });
    policy.onBreak(() => {
      if (!current()) return;
      const trialVersion = entry.trial?.version;
      const lastFailure = entry.pending.lastFailure ?? entry.view.lastFailure;
      this.changed(entry, 'open', () =>
        this.store.open(entry.name, {
          replica: this.replica,
          halfOpenAfterMs,
          lastFailure,
          trialVersion,
        }),
      );
    });
    policy.onReset(() => {
      const trialVersion = entry.trial?.version;
      if (!current() || trialVersion === undefined) return;
      this.changed(entry, 'closed', () =>
        this.store.close(entry.name, { replica: this.replica, trialVersion }),
      );
    });
    return policy;
  }
}

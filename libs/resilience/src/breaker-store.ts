/** A breaker's state as every replica shares it (cockatiel's Isolated is not used). */
export type SharedBreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerCounts {
  successes: number;
  failures: number;
  rejections: number;
}

/** One breaker as the store holds it; times are relative, so replica clocks need not agree. */
export interface SharedBreaker extends BreakerCounts {
  name: string;
  state: SharedBreakerState;
  /** Bumped by every change of state: a replica takes a state only from a newer version. */
  version: number;
  /** Bumped by every reset: counts gathered under an older reset are dropped, not added. */
  resets: number;
  /** Open: how long until a trial call may run (0 once it may). */
  trialInMs: number;
  /** Half-open: the replica running the trial call, and how long its claim still holds. */
  trialBy: string | undefined;
  trialLeftMs: number;
  /** How often the breaker opened since it was last reset. */
  opened: number;
  lastFailure: string | undefined;
  lastStateChange: string;
}

/** Counts one replica gathered since it last reported them. */
export interface BreakerCountsDelta extends BreakerCounts {
  name: string;
  /** The reset generation the counts were gathered under. */
  resets: number;
  lastFailure: string | undefined;
}

/**
 * Where the breakers' state lives: in process memory for one replica, in a table for all replicas
 * of a service. Only state changes are written (open, trial claimed, closed), never each call;
 * every change is conditional, so replicas racing each other agree on one outcome, and each
 * answer is the breaker as it then is.
 */
export interface BreakerStateStore {
  list(): Promise<SharedBreaker[]>;
  /**
   * Opens a closed breaker, or reopens one whose trial this replica holds (`trialVersion`, the
   * version its claim made). A breaker another replica opened first stays as that one left it.
   */
  open(
    name: string,
    change: {
      replica: string;
      halfOpenAfterMs: number;
      lastFailure: string | undefined;
      trialVersion?: number | undefined;
    },
  ): Promise<SharedBreaker>;
  /**
   * Claims the one trial call of an open breaker whose wait has passed (or whose trial holder's
   * claim lapsed): half-open, held by `replica` for `leaseMs`. `record` is undefined when the
   * store does not know the breaker (nobody opened it).
   */
  claimTrial(
    name: string,
    claim: { replica: string; leaseMs: number },
  ): Promise<{ claimed: boolean; record: SharedBreaker | undefined }>;
  /** Closes a breaker after the trial this replica holds succeeded. */
  close(
    name: string,
    change: { replica: string; trialVersion: number },
  ): Promise<SharedBreaker | undefined>;
  /** Adds what replicas counted; counts gathered before the breaker's latest reset are dropped. */
  addCounts(deltas: readonly BreakerCountsDelta[]): Promise<void>;
  /** Closes every breaker and clears its counts; returns their names. */
  resetAll(replica: string): Promise<string[]>;
}

interface Row extends BreakerCounts {
  name: string;
  state: SharedBreakerState;
  version: number;
  resets: number;
  trialAt: number;
  trialBy: string | undefined;
  trialUntil: number;
  opened: number;
  lastFailure: string | undefined;
  changedAt: number;
}

/** The store of a single replica: the same rules as the shared table, in process memory. */
export class MemoryBreakerStateStore implements BreakerStateStore {
  private readonly rows = new Map<string, Row>();

  constructor(private readonly now: () => number = Date.now) {}

  async list(): Promise<SharedBreaker[]> {
    return [...this.rows.values()]
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((row) => this.record(row));
  }

  async open(
    name: string,
    change: Parameters<BreakerStateStore['open']>[1],
  ): Promise<SharedBreaker> {
    const row = this.row(name);
    const ownTrial =
      row.state === 'half_open' &&
      row.version === change.trialVersion &&
      row.trialBy === change.replica;
    if (row.state === 'closed' || ownTrial) {
      this.change(row, 'open');
      row.trialAt = this.now() + change.halfOpenAfterMs;
      row.opened += 1;
      row.lastFailure = change.lastFailure ?? row.lastFailure;
    }
    return this.record(row);
  }

  async claimTrial(
    name: string,
    claim: { replica: string; leaseMs: number },
  ): Promise<{ claimed: boolean; record: SharedBreaker | undefined }> {
    const row = this.rows.get(name);
    if (!row) return { claimed: false, record: undefined };
    const now = this.now();
    const claimable =
      (row.state === 'open' && row.trialAt <= now) ||
      (row.state === 'half_open' && row.trialUntil <= now);
    if (claimable) {
      this.change(row, 'half_open');
      row.trialBy = claim.replica;
      row.trialUntil = now + claim.leaseMs;
    }
    return { claimed: claimable, record: this.record(row) };
  }

  async close(
    name: string,
    change: { replica: string; trialVersion: number },
  ): Promise<SharedBreaker | undefined> {
    const row = this.rows.get(name);
    if (!row) return undefined;
    if (
      row.state === 'half_open' &&
      row.version === change.trialVersion &&
      row.trialBy === change.replica
    )
      this.change(row, 'closed');
    return this.record(row);
  }

  async addCounts(deltas: readonly BreakerCountsDelta[]): Promise<void> {
    for (const delta of deltas) {
      const row = this.row(delta.name, delta.resets);
      if (row.resets !== delta.resets) continue;
      row.successes += delta.successes;
      row.failures += delta.failures;
      row.rejections += delta.rejections;
      row.lastFailure = delta.lastFailure ?? row.lastFailure;
    }
  }

  async resetAll(): Promise<string[]> {
    for (const row of this.rows.values()) {
      this.change(row, 'closed');
      Object.assign(row, { resets: row.resets + 1, opened: 0, lastFailure: undefined });
      Object.assign(row, { successes: 0, failures: 0, rejections: 0 });
    }
    return [...this.rows.keys()].sort();
  }

  private row(name: string, resets = 0): Row {
    let row = this.rows.get(name);
    if (!row) {
      row = {
        name,
        state: 'closed',
        version: 0,
        resets,
        trialAt: 0,
        trialBy: undefined,
        trialUntil: 0,
        opened: 0,
        successes: 0,
        failures: 0,
        rejections: 0,
        lastFailure: undefined,
        changedAt: this.now(),
      };
      this.rows.set(name, row);
    }
    return row;
  }

  private change(row: Row, state: SharedBreakerState): void {
    row.state = state;
    row.version += 1;
    row.trialBy = undefined;
    row.changedAt = this.now();
  }

  private record(row: Row): SharedBreaker {
    const now = this.now();
    return {
      name: row.name,
      state: row.state,
      version: row.version,
      resets: row.resets,
      trialInMs: row.state === 'open' ? Math.max(0, row.trialAt - now) : 0,
      trialBy: row.state === 'half_open' ? row.trialBy : undefined,
      trialLeftMs: row.state === 'half_open' ? Math.max(0, row.trialUntil - now) : 0,
      opened: row.opened,
      successes: row.successes,
      failures: row.failures,
      rejections: row.rejections,
      lastFailure: row.lastFailure,
      lastStateChange: new Date(row.changedAt).toISOString(),
    };
  }
}

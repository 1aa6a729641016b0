import type { Logger } from '@aion/telemetry';
import { burnRateStatus, type BurnRateStatus, type MetricsReader } from './burn-rate-status';
import type { Page, PageWindow, Slo } from './model';

/** One burn-rate snapshot of an SLO; undefined numbers: no data then. */
export interface SloEvaluation {
  sloId: string;
  evaluatedAt: Date;
  errorRatios: Record<string, number>;
  alerts: {
    long: string;
    short: string;
    longBurnRate: number | undefined;
    shortBurnRate: number | undefined;
    threshold: number;
    firing: boolean;
  }[];
  budgetRemaining: number | undefined;
}

export interface SloEvaluationStore {
  /** Every tenant's SLOs (the evaluator's read across tenants). */
  allSlos(): Promise<Slo[]>;
  /** Stores a snapshot in the SLO's tenant; false when its slot already has one (another replica). */
  record(tenantId: string, evaluation: SloEvaluation): Promise<boolean>;
  /** The caller's tenant's snapshots of one SLO, newest first. */
  page(sloId: string, window: PageWindow): Promise<Page<SloEvaluation>>;
  /** Drops snapshots older than their SLO's window; returns how many. */
  purge(): Promise<number>;
}

const known = (n: number) => (Number.isFinite(n) ? n : undefined);

/** A burn-rate status as a snapshot at `at`. */
export function snapshotOf(sloId: string, at: Date, s: BurnRateStatus): SloEvaluation {
  return {
    sloId,
    evaluatedAt: at,
    errorRatios: { ...s.errorRatios } as Record<string, number>,
    alerts: s.windows.map((w) => ({
      long: w.long,
      short: w.short,
      longBurnRate: known(w.longBurnRate),
      shortBurnRate: known(w.shortBurnRate),
      threshold: w.threshold,
      firing: w.firing,
    })),
    budgetRemaining: known(s.budgetRemaining),
  };
}

/**
 * Takes a burn-rate snapshot of every SLO of every tenant each interval, from the ratios its
 * recording rules keep in Prometheus (the same reading as GET /slos/{id}/burn-rate), and keeps
 * them for the SLO's window: the history of the budget that Prometheus's alerts do not keep.
 * The slot is the time rounded down to the interval, so every replica may run it.
 */
export class SloEvaluator {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly store: SloEvaluationStore,
    private readonly reader: MetricsReader,
    private readonly intervalMs: number,
    private readonly logger?: Logger,
  ) {}

  /** One round at `now`: returns the snapshots this replica wrote. */
  async evaluateAll(now = new Date()): Promise<number> {
    const slot = new Date(Math.floor(now.getTime() / this.intervalMs) * this.intervalMs);
    let written = 0;
    for (const slo of await this.store.allSlos()) {
      try {
        const status = await burnRateStatus(slo, this.reader);
        if (await this.store.record(slo.tenantId, snapshotOf(slo.id, slot, status))) written++;
      } catch (err) {
        // Prometheus or the database away: this SLO waits for the next round.
        this.logger?.warn('SLO evaluation skipped', {
          slo_id: slo.id,
          reason: err instanceof Error ? err.message : String(err),
        });
      }
    }
    await this.store.purge();
    return written;
  }

  start(): void {
    const tick = () => {
      this.running = this.evaluateAll()
        .catch((err: unknown) =>
          this.logger?.warn('SLO evaluation round failed; retrying next interval', {
            reason: err instanceof Error ? err.message : String(err),
          }),
        )
        .finally(() => {
          if (!this.timer) return;
          this.timer = setTimeout(tick, this.intervalMs);
          this.timer.unref();
        });
    };
    this.timer = setTimeout(tick, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}

import { AionError } from '@aion/errors';

/** A tenant's operational summary over a window ending now (GET /api/v1/stats). */
export interface TenantStats {
  since: Date;
  until: Date;
  /** Tasks created in the window, by their status now. */
  tasksByStatus: Record<string, number>;
  /** Tasks not finished yet, whenever created. */
  tasksInFlight: number;
  /** Of the tasks that finished OK in the window; 0 when none did. */
  latencyP50Ms: number;
  latencyP95Ms: number;
  deadLettersOpen: number;
  promptApprovalsPending: number;
  costUsd: number;
  inputTokens: number;
  outputTokens: number;
  audit: { success: number; denied: number; failure: number };
}

/** Reads the summary of the current tenant (row-level security scopes every statement). */
export interface StatsStore {
  stats(window: { since: Date; until: Date }): Promise<Omit<TenantStats, 'since' | 'until'>>;
}

export const DEFAULT_STATS_HOURS = 24;
export const MAX_STATS_HOURS = 720;

export class StatsService {
  constructor(private readonly store: StatsStore) {}

  async summary(windowHours: number, now = new Date()): Promise<TenantStats> {
    const hours = windowHours || DEFAULT_STATS_HOURS;
    if (!Number.isInteger(hours) || hours < 1 || hours > MAX_STATS_HOURS)
      throw AionError.validation(`window_hours must be 1 to ${MAX_STATS_HOURS}`, [
        { field: 'window_hours', message: `an integer from 1 to ${MAX_STATS_HOURS}` },
      ]);
    const since = new Date(now.getTime() - hours * 3_600_000);
    return { since, until: now, ...(await this.store.stats({ since, until: now })) };
  }
}

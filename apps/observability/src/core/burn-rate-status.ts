import { burnRateAlerts, errorRatioRecord, RECORDED_WINDOWS, type Window } from './burn-rate';
import type { Slo } from './model';

/** One sample of an instant query. */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export interface Series {
  labels: Record<string, string>;
  samples: { time: Date; value: number }[];
}

/** Prometheus's query API. */
export interface MetricsReader {
  instant(query: string, at?: Date): Promise<Sample[]>;
  range(query: string, start: Date, end: Date, stepSeconds: number): Promise<Series[]>;
}

export interface BurnRateStatus {
  errorRatios: Partial<Record<Window, number>>;
  windows: {
    long: Window;
    short: Window;
    longBurnRate: number;
    shortBurnRate: number;
    threshold: number;
    /** As Prometheus evaluates the alert (ALERTS), traffic guard included. */
    firing: boolean;
  }[];
  /** 1 - (error ratio over the SLO window) / budget; NaN without data. */
  budgetRemaining: number;
  budgetRemaining1dAgo: number;
}

const DAY_MS = 86_400_000;

/**
 * An SLO's burn rates in every window, read from the ratios its recording rules keep, whether
 * each alert fires, and the error budget left over its window now and a day ago (the trend).
 */
export async function burnRateStatus(slo: Slo, reader: MetricsReader): Promise<BurnRateStatus> {
  const id = JSON.stringify(slo.id);
  const budget = 1 - slo.objective;
  const windowRatio = `1 - (sum(increase(${slo.goodSelector}[${slo.windowDays}d])) or vector(0)) / sum(increase(${slo.totalSelector}[${slo.windowDays}d]))`;
  const remaining = (samples: Sample[]) =>
    samples.length && Number.isFinite(samples[0]!.value) ? 1 - samples[0]!.value / budget : NaN;
  const [ratios, alerts, now, dayAgo] = await Promise.all([
    reader.instant(`{__name__=~"aion_slo:error_ratio:rate.+",aion_slo_id=${id}}`),
    // The SLO's own alerts only: name, SLO and tenant (a custom rule cannot set aion_* labels).
    reader.instant(
      `ALERTS{alertstate="firing",alertname="AionSloErrorBudgetBurn",aion_slo_id=${id},tenant_id=${JSON.stringify(slo.tenantId)}}`,
    ),
    reader.instant(windowRatio),
    reader.instant(windowRatio, new Date(Date.now() - DAY_MS)),
  ]);
  const errorRatios: Partial<Record<Window, number>> = {};
  for (const w of RECORDED_WINDOWS) {
    const sample = ratios.find((s) => s.labels['__name__'] === errorRatioRecord(w));
    if (sample && Number.isFinite(sample.value)) errorRatios[w] = sample.value;
  }
  const burn = (w: Window) => (errorRatios[w] ?? NaN) / budget;
  return {
    errorRatios,
    windows: burnRateAlerts(slo.objective, slo.windowDays).map((a) => ({
      long: a.long,
      short: a.short,
      longBurnRate: burn(a.long),
      shortBurnRate: burn(a.short),
      threshold: a.burnRate,
      firing: alerts.some((s) => s.labels['long_window'] === a.long),
    })),
    budgetRemaining: remaining(now),
    budgetRemaining1dAgo: remaining(dayAgo),
  };
}

import { AionError } from '@aion/errors';
import { BREAKER_STATE_VALUES } from '@aion/telemetry';
import type { MetricsReader, Sample } from './burn-rate-status';

export type BreakerState = keyof typeof BREAKER_STATE_VALUES | '';

/** An engine as the orchestrator replicas reported it over a window (PLATFORM_METRICS). */
export interface EngineHealth {
  engine: string;
  /** p95 of the calls that answered, in ms; 0 when none did in the window. */
  p95Ms: number;
  /** Failed calls over calls (canceled calls say nothing about the engine: left out). */
  errorRate: number;
  /** Calls in the window, canceled ones left out (Prometheus extrapolates increase()). */
  sampleCount: number;
  /** The most severe state any replica reports; '' when none reports the engine. */
  breakerState: BreakerState;
}

export const DEFAULT_HEALTH_WINDOW_SECONDS = 300;
const MIN_WINDOW = 60;
const MAX_WINDOW = 86_400;

const STATE_BY_VALUE = new Map(
  Object.entries(BREAKER_STATE_VALUES).map(([state, value]) => [value, state as BreakerState]),
);

const byEngine = (samples: Sample[]) => {
  const values = new Map<string, number>();
  for (const s of samples) {
    const engine = s.labels['engine'];
    if (engine !== undefined) values.set(engine, s.value);
  }
  return values;
};

const finite = (n: number | undefined) => (n !== undefined && Number.isFinite(n) ? n : undefined);

/**
 * Engine health for the router, cluster-wide: what every orchestrator replica measured (engine
 * calls, their latency, the breakers), read from Prometheus rather than one replica's window.
 * These series carry no tenant (engines are the platform's), so no tenant matcher applies.
 */
export class EngineHealthService {
  constructor(private readonly reader: MetricsReader) {}

  async health(
    engines: readonly string[],
    windowSeconds = DEFAULT_HEALTH_WINDOW_SECONDS,
  ): Promise<EngineHealth[]> {
    const window = windowSeconds || DEFAULT_HEALTH_WINDOW_SECONDS;
    if (!Number.isInteger(window) || window < MIN_WINDOW || window > MAX_WINDOW)
      throw AionError.validation(`window_seconds must be ${MIN_WINDOW} to ${MAX_WINDOW}`, [
        { field: 'window_seconds', message: `a whole number from ${MIN_WINDOW} to ${MAX_WINDOW}` },
      ]);
    const range = `[${window}s]`;
    const calls = 'aion_engine_requests_total{outcome!="canceled"}';
    const [p95, total, failed, breakers] = await Promise.all([
      this.reader.instant(
        `histogram_quantile(0.95, sum by (engine, le) (rate(aion_engine_request_duration_seconds_bucket${range}))) * 1000`,
      ),
      this.reader.instant(`sum by (engine) (increase(${calls}${range}))`),
      this.reader.instant(
        `sum by (engine) (increase(aion_engine_requests_total{outcome="failed"}${range}))`,
      ),
      this.reader.instant('max by (engine) (aion_breaker_state)'),
    ]);
    const p95s = byEngine(p95);
    const totals = byEngine(total);
    const failures = byEngine(failed);
    const states = byEngine(breakers);
    const seen = new Set([...totals.keys(), ...states.keys()]);
    const names = engines.length ? [...new Set(engines)] : [...seen].sort();
    return names.map((engine) => {
      const n = finite(totals.get(engine)) ?? 0;
      return {
        engine,
        p95Ms: finite(p95s.get(engine)) ?? 0,
        errorRate: n > 0 ? Math.min(1, (finite(failures.get(engine)) ?? 0) / n) : 0,
        sampleCount: Math.round(n),
        breakerState: STATE_BY_VALUE.get(states.get(engine) as 0 | 1 | 2) ?? '',
      };
    });
  }
}

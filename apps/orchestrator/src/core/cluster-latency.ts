import { LatencyWindows } from './latency';

/** An engine as the observability service saw it across every replica (GetEngineHealth). */
export interface ObservedEngine {
  engine: string;
  p95Ms: number;
  sampleCount: number;
}

/**
 * The router's p95 per engine, cluster-wide: what every replica's calls measured (the
 * observability service reads it from Prometheus) while that reading is fresh and rests on
 * enough calls; this replica's own window otherwise (the observability service or Prometheus
 * away, an engine too few calls reached). So `sla.p95_ms` routes alike on every replica, and
 * no replica loses its routing when observability is down.
 */
export class ClusterLatency extends LatencyWindows {
  private readonly cluster = new Map<string, { p95: number; at: number }>();
  private readonly now: () => number;

  constructor(
    /** How long a cluster reading stands (a few poll intervals). */
    private readonly maxAgeMs: number,
    options: { size?: number; minSamples?: number; now?: () => number } = {},
  ) {
    super(options.size, options.minSamples);
    this.now = options.now ?? Date.now;
  }

  /** Takes a reading; an engine with too few calls in it falls back to the local window. */
  learn(engines: readonly ObservedEngine[]): void {
    const at = this.now();
    for (const e of engines)
      if (e.sampleCount >= this.minSamples && Number.isFinite(e.p95Ms) && e.p95Ms > 0)
        this.cluster.set(e.engine, { p95: e.p95Ms, at });
      else this.cluster.delete(e.engine);
  }

  override p95(engine: string): number | undefined {
    const reading = this.cluster.get(engine);
    if (reading && this.now() - reading.at <= this.maxAgeMs) return reading.p95;
    return super.p95(engine);
  }
}

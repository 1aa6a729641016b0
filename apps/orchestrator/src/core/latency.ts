/**
 * Observed latency per engine over a moving window of the last N calls, for the router's p95
 * check. Fixed-size ring buffers keep memory bounded; the p95 is recomputed lazily, once per new
 * sample, because the router asks far more often than engines answer.
 */
export class LatencyWindows {
  private readonly windows = new Map<
    string,
    { samples: Float64Array; next: number; count: number; p95: number | undefined }
  >();

  constructor(
    private readonly size = 200,
    readonly minSamples = 5,
  ) {}

  record(engine: string, latencyMs: number): void {
    let w = this.windows.get(engine);
    if (!w) {
      w = { samples: new Float64Array(this.size), next: 0, count: 0, p95: undefined };
      this.windows.set(engine, w);
    }
    w.samples[w.next] = latencyMs;
    w.next = (w.next + 1) % this.size;
    w.count = Math.min(this.size, w.count + 1);
    w.p95 = undefined;
  }

  /** p95 of the window (nearest rank), or undefined until `minSamples` calls were seen. */
  p95(engine: string): number | undefined {
    const w = this.windows.get(engine);
    if (!w || w.count < this.minSamples) return undefined;
    if (w.p95 === undefined) {
      const sorted = w.samples.slice(0, w.count).sort();
      w.p95 = sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)];
    }
    return w.p95;
  }
}

/**
 * Observed latency per engine over a moving window of the last N calls, for the router's p95
 * check. Fixed-size ring buffers keep memory and the percentile cost bounded.
 */
export class LatencyWindows {
  private readonly windows = new Map<
    string,
    { samples: Float64Array; next: number; count: number }
  >();

  constructor(
    private readonly size = 200,
    readonly minSamples = 5,
  ) {}

  record(engine: string, latencyMs: number): void {
    let w = this.windows.get(engine);
    if (!w) {
      w = { samples: new Float64Array(this.size), next: 0, count: 0 };
      this.windows.set(engine, w);
    }
    w.samples[w.next] = latencyMs;
    w.next = (w.next + 1) % this.size;
    w.count = Math.min(this.size, w.count + 1);
  }

  /** p95 of the window, or undefined until `minSamples` calls were seen. */
  p95(engine: string): number | undefined {
    const w = this.windows.get(engine);
    if (!w || w.count < this.minSamples) return undefined;
    const sorted = Array.from(w.samples.subarray(0, w.count)).sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)];
  }
}

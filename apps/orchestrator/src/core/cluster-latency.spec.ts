import { ClusterLatency } from './cluster-latency';

describe('ClusterLatency', () => {
  let now = 0;
  const latency = () => new ClusterLatency(45_000, { minSamples: 5, now: () => now });

  it("answers the cluster's p95 while the reading is fresh, then this replica's window", () => {
    now = 1_000;
    const l = latency();
    for (let i = 1; i <= 20; i++) l.record('gpt', i * 10); // local p95: 190 ms
    expect(l.p95('gpt')).toBe(190);
    l.learn([{ engine: 'gpt', p95Ms: 2_400, sampleCount: 600 }]);
    expect(l.p95('gpt')).toBe(2_400);
    now += 45_000;
    expect(l.p95('gpt')).toBe(2_400);
    now += 1;
    expect(l.p95('gpt')).toBe(190);
  });

  it('keeps the local window for an engine too few calls reached cluster-wide, or without latency', () => {
    now = 0;
    const l = latency();
    for (let i = 0; i < 5; i++) l.record('local', 40);
    l.learn([
      { engine: 'local', p95Ms: 900, sampleCount: 4 },
      { engine: 'quiet', p95Ms: 0, sampleCount: 50 },
    ]);
    expect(l.p95('local')).toBe(40);
    expect(l.p95('quiet')).toBeUndefined();
    // A later reading with too few calls withdraws an earlier one.
    l.learn([{ engine: 'local', p95Ms: 900, sampleCount: 50 }]);
    expect(l.p95('local')).toBe(900);
    l.learn([{ engine: 'local', p95Ms: 900, sampleCount: 1 }]);
    expect(l.p95('local')).toBe(40);
  });
});

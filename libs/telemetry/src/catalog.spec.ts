import { EMITTED_METRICS } from './catalog';
import { ServiceMetrics } from './metrics';

describe('EMITTED_METRICS', () => {
  it('names exactly the metrics ServiceMetrics registers, with their kinds, labels and buckets', async () => {
    const metrics = new ServiceMetrics('gateway', { defaultMetrics: false });
    metrics.observeGrpc('/aion.v1.X/Y', 0, 0.01);
    const json = await metrics.registry.getMetricsAsJSON();
    const registered = Object.fromEntries(json.map((m) => [m.name, m]));
    const ours = Object.keys(registered).filter(
      (name) =>
        name !== 'aion_grpc_client_calls_total' && // a call made, not one served
        name !== 'aion_requests_in_flight', // a level for autoscaling, not events to judge
    );
    expect(Object.keys(EMITTED_METRICS).sort()).toEqual(ours.sort());
    for (const [name, spec] of Object.entries(EMITTED_METRICS)) {
      const m = registered[name]!;
      expect(String(m.type)).toBe(spec.kind);
      // prom-client keeps a metric's label names on the instance (not in its typings).
      const single = metrics.registry.getSingleMetric(name) as unknown as { labelNames: string[] };
      expect([...single.labelNames].sort()).toEqual([...spec.labels].sort());
    }
    const text = (await metrics.render()).body;
    const histogram = EMITTED_METRICS.aion_grpc_server_handling_seconds;
    for (const le of histogram.buckets)
      expect(text).toContain(`aion_grpc_server_handling_seconds_bucket{le="${le}"`);
    expect(text).toMatch(
      /aion_grpc_server_handled_total\{method="\/aion.v1.X\/Y",code="0",service="gateway"\} 1/,
    );
  });
});

import { Registry } from 'prom-client';
import { MODULE_HOST_METRICS } from '@aion/telemetry';
import type { GpuDiscovery } from '../../core/gpu';
import { registerGpuMetrics } from '../gpu/gpu-metrics';
import { registerSandboxMetrics } from './sandbox-metrics';

describe('MODULE_HOST_METRICS', () => {
  it('names exactly what module-host registers, with kinds and labels', async () => {
    const registry = new Registry();
    registerSandboxMetrics(registry, 'cpu', { queued: () => 0, limits: 'rlimit' });
    // No hardware: discovery finds no device (what is registered does not depend on it).
    const none: GpuDiscovery = { devices: async () => [], usage: async () => [] };
    registerGpuMetrics(registry, 'cpu', none);
    const json = await registry.getMetricsAsJSON();
    expect(json.map((m) => m.name).sort()).toEqual(Object.keys(MODULE_HOST_METRICS).sort());
    for (const [name, spec] of Object.entries(MODULE_HOST_METRICS)) {
      expect([name, String(json.find((m) => m.name === name)!.type)]).toEqual([name, spec.kind]);
      // prom-client keeps a metric's label names on the instance (not in its typings).
      const single = registry.getSingleMetric(name) as unknown as { labelNames: string[] };
      expect([name, [...single.labelNames].sort()]).toEqual([name, [...spec.labels].sort()]);
    }
  });
});

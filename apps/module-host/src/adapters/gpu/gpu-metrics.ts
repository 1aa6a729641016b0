import { Gauge, type Registry } from 'prom-client';
import type { GpuDiscovery, GpuUsage } from '../../core/gpu';

/**
 * GPU capacity and load per pool, read from discovery when scraped: devices and their memory by
 * vendor; utilisation and memory in use per device where the driver reports them.
 */
export function registerGpuMetrics(
  registry: Registry,
  pool: string,
  discovery: GpuDiscovery,
  inUse: () => Record<string, number> = () => ({}),
): void {
  new Gauge({
    name: 'aion_module_host_gpu_devices_in_use',
    help: 'GPUs assigned to invocations running now, by pool and vendor (devices minus this: free capacity)',
    labelNames: ['pool', 'vendor'],
    registers: [registry],
    collect() {
      const held = inUse();
      for (const vendor of ['nvidia', 'amd', 'intel'])
        this.set({ pool, vendor }, held[vendor] ?? 0);
    },
  });
  const devices = new Gauge({
    name: 'aion_module_host_gpu_devices',
    help: 'GPUs this module host can assign, by pool and vendor',
    labelNames: ['pool', 'vendor'],
    registers: [registry],
    async collect() {
      const found = await discovery.devices();
      this.reset();
      for (const vendor of ['nvidia', 'amd', 'intel'])
        this.set({ pool, vendor }, found.filter((d) => d.vendor === vendor).length);
    },
  });
  void devices;
  // One discovery read serves the three per-device gauges of a scrape.
  let sample: { at: number; usage: Promise<GpuUsage[]> } | undefined;
  const usage = () => {
    if (!sample || Date.now() - sample.at > 1000)
      sample = {
        at: Date.now(),
        usage: discovery.usage?.().catch(() => []) ?? Promise.resolve([]),
      };
    return sample.usage;
  };
  const perDevice = (name: string, help: string, value: (u: GpuUsage) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ['pool', 'vendor', 'device'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const u of await usage()) {
          const v = value(u);
          if (v !== undefined) this.set({ pool, vendor: u.vendor, device: String(u.index) }, v);
        }
      },
    });
  perDevice(
    'aion_gpu_utilization_ratio',
    'Busy fraction of each GPU (0 to 1), by pool, vendor and device index',
    (u) => u.utilization,
  );
  perDevice(
    'aion_gpu_memory_used_bytes',
    'Memory in use on each GPU, by pool, vendor and device index',
    (u) => u.memoryUsedBytes,
  );
  perDevice(
    'aion_gpu_memory_total_bytes',
    'Memory of each GPU, by pool, vendor and device index',
    (u) => u.memoryTotalBytes,
  );
  new Gauge({
    name: 'aion_module_host_gpu_memory_bytes',
    help: 'Memory of the GPUs this module host can assign, by pool and vendor (where the driver reports it)',
    labelNames: ['pool', 'vendor'],
    registers: [registry],
    async collect() {
      const found = await discovery.devices();
      this.reset();
      for (const vendor of ['nvidia', 'amd', 'intel'])
        this.set(
          { pool, vendor },
          found
            .filter((d) => d.vendor === vendor)
            .reduce((sum, d) => sum + (d.memoryBytes ?? 0), 0),
        );
    },
  });
}

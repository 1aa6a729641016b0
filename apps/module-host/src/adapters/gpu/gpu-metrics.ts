import { Gauge, type Registry } from 'prom-client';
import type { GpuDiscovery } from '../../core/gpu';

/**
 * GPU capacity per pool, read from discovery when scraped: devices and their memory by vendor.
 * Utilisation needs the vendor's library (NVML, rocm-smi), not read here.
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

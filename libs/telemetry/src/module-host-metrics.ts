import type { PlatformMetric } from './platform-metrics';

/**
 * Module-host's metrics (issues 16, 18): its sandbox queue and limits, and its pool's GPUs. The
 * module host registers them (apps/module-host, whose spec checks the registrations against this
 * list); listed here so that dashboards may name them and the dashboards' test knows they exist.
 */
export const MODULE_HOST_METRICS = {
  aion_module_queue_depth: { kind: 'gauge', labels: ['pool'], emittedBy: ['module-host'] },
  aion_module_host_sandbox_limits_info: {
    kind: 'gauge',
    labels: ['pool', 'limits'],
    emittedBy: ['module-host'],
  },
  aion_module_host_subprocess_runs_total: {
    kind: 'counter',
    labels: ['pool', 'limits'],
    emittedBy: ['module-host'],
  },
  aion_module_host_gpu_devices: {
    kind: 'gauge',
    labels: ['pool', 'vendor'],
    emittedBy: ['module-host'],
  },
  aion_module_host_gpu_devices_in_use: {
    kind: 'gauge',
    labels: ['pool', 'vendor'],
    emittedBy: ['module-host'],
  },
  aion_module_host_gpu_memory_bytes: {
    kind: 'gauge',
    labels: ['pool', 'vendor'],
    emittedBy: ['module-host'],
  },
  aion_gpu_utilization_ratio: {
    kind: 'gauge',
    labels: ['pool', 'vendor', 'device'],
    emittedBy: ['module-host'],
  },
  aion_gpu_memory_used_bytes: {
    kind: 'gauge',
    labels: ['pool', 'vendor', 'device'],
    emittedBy: ['module-host'],
  },
  aion_gpu_memory_total_bytes: {
    kind: 'gauge',
    labels: ['pool', 'vendor', 'device'],
    emittedBy: ['module-host'],
  },
} as const satisfies Record<string, PlatformMetric>;

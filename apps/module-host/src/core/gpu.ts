/**
 * GPUs for subprocess modules: what a host has (discovered behind the GpuDiscovery port: sysfs
 * here, NVML or rocm-smi where installed) and what one invocation is given. A module sees only
 * the devices assigned to it, named by its vendor's conventions.
 */
export type GpuVendor = 'nvidia' | 'amd' | 'intel';

export interface GpuDevice {
  vendor: GpuVendor;
  /** The vendor's index (what *_VISIBLE_DEVICES counts). */
  index: number;
  /** Device nodes this GPU is used through, e.g. /dev/nvidia0 or /dev/dri/renderD128. */
  nodes: string[];
  memoryBytes?: number;
}

/** One device's load now, as far as its driver says (absent: not reported). */
export interface GpuUsage {
  vendor: GpuVendor;
  index: number;
  /** Busy fraction of the last sample period, 0 to 1. */
  utilization?: number;
  memoryUsedBytes?: number;
  memoryTotalBytes?: number;
}

export interface GpuDiscovery {
  devices(): Promise<GpuDevice[]>;
  /** Utilisation and memory per device (NVML through nvidia-smi, amdgpu's sysfs files). */
  usage?(): Promise<GpuUsage[]>;
}

export interface GpuRequest {
  vendor: GpuVendor;
  count: number;
  memoryBytes?: number;
}

export interface GpuAssignment {
  devices: GpuDevice[];
  /** Every node to expose, the vendor's shared control nodes included. */
  nodes: string[];
  env: Record<string, string>;
}

/** Nodes every process using the vendor's GPUs needs besides each device's own. */
const SHARED_NODES: Record<GpuVendor, string[]> = {
  nvidia: ['/dev/nvidiactl', '/dev/nvidia-uvm', '/dev/nvidia-uvm-tools'],
  amd: ['/dev/kfd'],
  intel: [],
};

/**
 * Picks `count` free devices of the vendor with enough memory; undefined when the host has too
 * few. `busy` are indices given to invocations still running.
 */
export function assignGpus(
  available: GpuDevice[],
  request: GpuRequest,
  busy: ReadonlySet<string> = new Set(),
): GpuAssignment | undefined {
  const fit = available.filter(
    (d) =>
      d.vendor === request.vendor &&
      !busy.has(`${d.vendor}:${d.index}`) &&
      (request.memoryBytes === undefined ||
        d.memoryBytes === undefined ||
        d.memoryBytes >= request.memoryBytes),
  );
  if (fit.length < request.count) return undefined;
  const devices = fit.slice(0, request.count);
  const indices = devices.map((d) => d.index).join(',');
  const env: Record<string, string> =
    request.vendor === 'nvidia'
      ? { NVIDIA_VISIBLE_DEVICES: indices, CUDA_VISIBLE_DEVICES: indices }
      : request.vendor === 'amd'
        ? { ROCR_VISIBLE_DEVICES: indices, HIP_VISIBLE_DEVICES: indices }
        : { ZE_AFFINITY_MASK: indices };
  return {
    devices,
    nodes: [...SHARED_NODES[request.vendor], ...devices.flatMap((d) => d.nodes)],
    env,
  };
}

import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { GpuDevice, GpuDiscovery, GpuUsage, GpuVendor } from '../../core/gpu';
import { parseNvidiaSmi, runNvidiaSmi } from './nvidia-smi';

const PCI_VENDORS: Record<string, GpuVendor> = {
  '0x10de': 'nvidia',
  '0x1002': 'amd',
  '0x8086': 'intel',
};

/**
 * GPUs from sysfs: each DRM render node's PCI vendor (AMD and Intel are used through
 * /dev/dri/renderD*), and NVIDIA's /dev/nvidiaN nodes (its driver registers no render node for
 * compute). `root` is `/` on a host; tests point it at a tree shaped like one. Usage: amdgpu's
 * sysfs files (what rocm-smi reads), NVIDIA's through nvidia-smi (NVML); Intel's i915 exposes
 * neither in sysfs, so Intel devices report none.
 */
export class SysfsGpuDiscovery implements GpuDiscovery {
  constructor(
    private readonly root = '/',
    private readonly nvidiaSmi: () => Promise<string | undefined> = runNvidiaSmi,
  ) {}

  async usage(): Promise<GpuUsage[]> {
    const devices = await this.devices();
    const usage: GpuUsage[] = [];
    const number = async (file: string) => {
      const text = (await readFile(file, 'utf8').catch(() => '')).trim();
      return /^\d+$/.test(text) ? Number(text) : undefined;
    };
    for (const d of devices.filter((d) => d.vendor === 'amd')) {
      const dir = path.join(this.root, 'sys/class/drm', path.basename(d.nodes[0]!), 'device');
      const busy = await number(path.join(dir, 'gpu_busy_percent'));
      const used = await number(path.join(dir, 'mem_info_vram_used'));
      const total = await number(path.join(dir, 'mem_info_vram_total'));
      usage.push({
        vendor: 'amd',
        index: d.index,
        ...(busy !== undefined && busy <= 100 ? { utilization: busy / 100 } : {}),
        ...(used !== undefined ? { memoryUsedBytes: used } : {}),
        ...(total !== undefined ? { memoryTotalBytes: total } : {}),
      });
    }
    if (devices.some((d) => d.vendor === 'nvidia')) {
      const text = await this.nvidiaSmi();
      if (text) usage.push(...parseNvidiaSmi(text));
    }
    for (const d of devices.filter((d) => d.vendor === 'intel'))
      usage.push({
        vendor: 'intel',
        index: d.index,
        ...(d.memoryBytes ? { memoryTotalBytes: d.memoryBytes } : {}),
      });
    return usage;
  }

  async devices(): Promise<GpuDevice[]> {
    const found: GpuDevice[] = [];
    const counts: Record<GpuVendor, number> = { nvidia: 0, amd: 0, intel: 0 };
    const drm = path.join(this.root, 'sys/class/drm');
    const renders = (await readdir(drm).catch(() => [] as string[]))
      .filter((n) => /^renderD\d+$/.test(n))
      .sort((a, b) => Number(a.slice(7)) - Number(b.slice(7)));
    for (const node of renders) {
      const vendorId = (
        await readFile(path.join(drm, node, 'device', 'vendor'), 'utf8').catch(() => '')
      ).trim();
      const vendor = PCI_VENDORS[vendorId];
      if (!vendor || vendor === 'nvidia') continue;
      const memory = await readFile(
        path.join(drm, node, 'device', 'mem_info_vram_total'),
        'utf8',
      ).catch(() => '');
      found.push({
        vendor,
        index: counts[vendor]++,
        nodes: [`/dev/dri/${node}`],
        ...(memory.trim() ? { memoryBytes: Number(memory.trim()) } : {}),
      });
    }
    const dev = await readdir(path.join(this.root, 'dev')).catch(() => [] as string[]);
    for (const name of dev
      .filter((n) => /^nvidia\d+$/.test(n))
      .sort((a, b) => Number(a.slice(6)) - Number(b.slice(6))))
      found.push({ vendor: 'nvidia', index: Number(name.slice(6)), nodes: [`/dev/${name}`] });
    return found;
  }
}

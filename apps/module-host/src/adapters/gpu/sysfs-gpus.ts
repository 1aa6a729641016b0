import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { GpuDevice, GpuDiscovery, GpuVendor } from '../../core/gpu';

const PCI_VENDORS: Record<string, GpuVendor> = {
  '0x10de': 'nvidia',
  '0x1002': 'amd',
  '0x8086': 'intel',
};

/**
 * GPUs from sysfs: each DRM render node's PCI vendor (AMD and Intel are used through
 * /dev/dri/renderD*), and NVIDIA's /dev/nvidiaN nodes (its driver registers no render node for
 * compute). `root` is `/` on a host; tests point it at a tree shaped like one.
 */
export class SysfsGpuDiscovery implements GpuDiscovery {
  constructor(private readonly root = '/') {}

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

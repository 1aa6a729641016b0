import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { assignGpus } from '../../core/gpu';
import { registerGpuMetrics } from './gpu-metrics';
import { parseNvidiaSmi } from './nvidia-smi';
import { SysfsGpuDiscovery } from './sysfs-gpus';

// A test double for the hardware only: a directory shaped like sysfs and /dev on a host with two
// AMD GPUs, one Intel GPU and two NVIDIA GPUs (no such host runs CI). The code reading it is the
// code that reads / on a real host.
let root: string;

function drm(node: string, vendor: string, vram?: number) {
  const dir = path.join(root, 'sys/class/drm', node, 'device');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'vendor'), `${vendor}\n`);
  if (vram) writeFileSync(path.join(dir, 'mem_info_vram_total'), `${vram}\n`);
}

beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'aion-sysfs-'));
  drm('renderD128', '0x1002', 16 * 2 ** 30);
  // amdgpu's load files for the first AMD GPU; the second reports none (an older driver).
  const amd0 = path.join(root, 'sys/class/drm/renderD128/device');
  writeFileSync(path.join(amd0, 'gpu_busy_percent'), '37\n');
  writeFileSync(path.join(amd0, 'mem_info_vram_used'), `${3 * 2 ** 30}\n`);
  drm('renderD129', '0x8086');
  drm('renderD130', '0x1002', 8 * 2 ** 30);
  drm('renderD131', '0x10de'); // NVIDIA's render node: counted through /dev/nvidiaN instead
  mkdirSync(path.join(root, 'sys/class/drm/card0'), { recursive: true });
  mkdirSync(path.join(root, 'dev'));
  for (const n of ['nvidia0', 'nvidia1', 'nvidiactl', 'nvidia-uvm'])
    writeFileSync(path.join(root, 'dev', n), '');
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

test('discovers each vendor with its nodes and memory', async () => {
  const devices = await new SysfsGpuDiscovery(root).devices();
  expect(devices).toEqual([
    { vendor: 'amd', index: 0, nodes: ['/dev/dri/renderD128'], memoryBytes: 16 * 2 ** 30 },
    { vendor: 'intel', index: 0, nodes: ['/dev/dri/renderD129'] },
    { vendor: 'amd', index: 1, nodes: ['/dev/dri/renderD130'], memoryBytes: 8 * 2 ** 30 },
    { vendor: 'nvidia', index: 0, nodes: ['/dev/nvidia0'] },
    { vendor: 'nvidia', index: 1, nodes: ['/dev/nvidia1'] },
  ]);
  expect(await new SysfsGpuDiscovery(path.join(root, 'absent')).devices()).toEqual([]);
});

test('assigns only free devices of the vendor, with its conventions', async () => {
  const devices = await new SysfsGpuDiscovery(root).devices();
  expect(assignGpus(devices, { vendor: 'nvidia', count: 1 }, new Set(['nvidia:0']))).toEqual({
    devices: [devices[4]],
    nodes: ['/dev/nvidiactl', '/dev/nvidia-uvm', '/dev/nvidia-uvm-tools', '/dev/nvidia1'],
    env: { NVIDIA_VISIBLE_DEVICES: '1', CUDA_VISIBLE_DEVICES: '1' },
  });
  expect(assignGpus(devices, { vendor: 'amd', count: 1, memoryBytes: 12 * 2 ** 30 })).toMatchObject(
    {
      nodes: ['/dev/kfd', '/dev/dri/renderD128'],
      env: { ROCR_VISIBLE_DEVICES: '0', HIP_VISIBLE_DEVICES: '0' },
    },
  );
  expect(assignGpus(devices, { vendor: 'intel', count: 1 })).toMatchObject({
    nodes: ['/dev/dri/renderD129'],
    env: { ZE_AFFINITY_MASK: '0' },
  });
  expect(
    assignGpus(devices, { vendor: 'amd', count: 2, memoryBytes: 12 * 2 ** 30 }),
  ).toBeUndefined();
  expect(assignGpus(devices, { vendor: 'nvidia', count: 3 })).toBeUndefined();
});

test('exports devices and memory per pool and vendor', async () => {
  const registry = new Registry();
  registerGpuMetrics(registry, 'rocm-a', new SysfsGpuDiscovery(root), () => ({ amd: 1 }));
  const text = await registry.metrics();
  expect(text).toContain('aion_module_host_gpu_devices{pool="rocm-a",vendor="amd"} 2');
  expect(text).toContain('aion_module_host_gpu_devices{pool="rocm-a",vendor="nvidia"} 2');
  expect(text).toContain('aion_module_host_gpu_devices_in_use{pool="rocm-a",vendor="amd"} 1');
  expect(text).toContain('aion_module_host_gpu_devices_in_use{pool="rocm-a",vendor="nvidia"} 0');
  expect(text).toContain(
    `aion_module_host_gpu_memory_bytes{pool="rocm-a",vendor="amd"} ${24 * 2 ** 30}`,
  );
});

// nvidia-smi's answer on a host with two NVIDIA GPUs (the tool stands in for NVML and the
// hardware; none here), in the format its --query-gpu CSV has.
const NVIDIA_SMI = '0, 85, 2048, 16384\n1, [N/A], 512, 8192\n';

test('reads utilisation and memory per device: amdgpu sysfs, NVML through nvidia-smi', async () => {
  const usage = await new SysfsGpuDiscovery(root, async () => NVIDIA_SMI).usage();
  expect(usage).toEqual([
    {
      vendor: 'amd',
      index: 0,
      utilization: 0.37,
      memoryUsedBytes: 3 * 2 ** 30,
      memoryTotalBytes: 16 * 2 ** 30,
    },
    { vendor: 'amd', index: 1, memoryTotalBytes: 8 * 2 ** 30 },
    {
      vendor: 'nvidia',
      index: 0,
      utilization: 0.85,
      memoryUsedBytes: 2048 * 2 ** 20,
      memoryTotalBytes: 16384 * 2 ** 20,
    },
    {
      vendor: 'nvidia',
      index: 1,
      memoryUsedBytes: 512 * 2 ** 20,
      memoryTotalBytes: 8192 * 2 ** 20,
    },
    { vendor: 'intel', index: 0 },
  ]);
});

test('nvidia-smi answering garbage, or not at all, yields no NVIDIA usage and no NaN', async () => {
  expect(parseNvidiaSmi('NVIDIA-SMI has failed because it could not communicate\n')).toEqual([]);
  expect(parseNvidiaSmi('0, 250, x, -1\n')).toEqual([{ vendor: 'nvidia', index: 0 }]);
  const usage = await new SysfsGpuDiscovery(root, async () => undefined).usage();
  expect(usage.filter((u) => u.vendor === 'nvidia')).toEqual([]);
  expect(usage.filter((u) => u.vendor === 'amd')).toHaveLength(2);
});

test('exports utilisation and memory used/total per pool, vendor and device', async () => {
  const registry = new Registry();
  registerGpuMetrics(registry, 'cuda-a', new SysfsGpuDiscovery(root, async () => NVIDIA_SMI));
  const text = await registry.metrics();
  expect(text).toContain(
    'aion_gpu_utilization_ratio{pool="cuda-a",vendor="nvidia",device="0"} 0.85',
  );
  expect(text).toContain('aion_gpu_utilization_ratio{pool="cuda-a",vendor="amd",device="0"} 0.37');
  // Not reported by the driver: no series rather than a made-up 0.
  expect(text).not.toContain(
    'aion_gpu_utilization_ratio{pool="cuda-a",vendor="nvidia",device="1"}',
  );
  expect(text).toContain(
    `aion_gpu_memory_used_bytes{pool="cuda-a",vendor="nvidia",device="1"} ${512 * 2 ** 20}`,
  );
  expect(text).toContain(
    `aion_gpu_memory_total_bytes{pool="cuda-a",vendor="amd",device="1"} ${8 * 2 ** 30}`,
  );
  expect(text).not.toMatch(/NaN/);
  // A host without GPUs exports the gauges with no series.
  const empty = new Registry();
  registerGpuMetrics(empty, 'cpu', new SysfsGpuDiscovery(path.join(root, 'absent')));
  expect(await empty.metrics()).not.toMatch(/aion_gpu_utilization_ratio\{/);
});

import { execFile } from 'node:child_process';
import type { GpuUsage } from '../../core/gpu';

const MiB = 1024 * 1024;
const QUERY = [
  '--query-gpu=index,utilization.gpu,memory.used,memory.total',
  '--format=csv,noheader,nounits',
];

/**
 * NVIDIA usage from NVML through nvidia-smi (the driver's own tool; no NVML binding in Node).
 * Lines like `0, 37, 1024, 16384` (percent, MiB); a field NVML cannot report reads `[N/A]` and
 * is left out; a line that is not of that shape is skipped.
 */
export function parseNvidiaSmi(text: string): GpuUsage[] {
  const usage: GpuUsage[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(',').map((f) => f.trim());
    if (fields.length !== 4 || !/^\d+$/.test(fields[0]!)) continue;
    const number = (f: string) => (/^\d+(\.\d+)?$/.test(f) ? Number(f) : undefined);
    const [busy, used, total] = fields.slice(1).map(number);
    usage.push({
      vendor: 'nvidia',
      index: Number(fields[0]),
      ...(busy !== undefined && busy <= 100 ? { utilization: busy / 100 } : {}),
      ...(used !== undefined ? { memoryUsedBytes: used * MiB } : {}),
      ...(total !== undefined ? { memoryTotalBytes: total * MiB } : {}),
    });
  }
  return usage;
}

/** nvidia-smi's answer, or undefined where it is not installed, fails or hangs (2 s). */
export function runNvidiaSmi(): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('nvidia-smi', QUERY, { timeout: 2000, maxBuffer: 64 * 1024 }, (err, stdout) =>
      resolve(err ? undefined : stdout),
    );
  });
}

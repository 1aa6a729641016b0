import { existsSync } from 'node:fs';
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AionError } from '@aion/errors';
import { assignGpus, type GpuDiscovery } from '../../core/gpu';
import type { NativeResult, NativeRun, NativeRunner } from '../../core/ports';
import { runSubprocess } from './subprocess';

/**
 * The subprocess runtime: a package's files written once per install under `baseDir` (readable,
 * never writable, by the sandbox user), each invocation run by `runSubprocess`, GPUs assigned
 * from what discovery finds and no other invocation holds.
 */
export class BubblewrapRunner implements NativeRunner {
  private readonly ready = new Map<string, Promise<string>>();
  private readonly busy = new Set<string>();

  constructor(
    private readonly options: {
      baseDir?: string;
      gpus: GpuDiscovery;
      pool: string;
      maxStdoutBytes: number;
      /** Told how each run was limited (cgroup2, cgroup1, rlimit): a metric's label. */
      onLimits?: (mechanism: string) => void;
    },
  ) {}

  private get baseDir(): string {
    return this.options.baseDir ?? path.join(os.tmpdir(), `aion-module-host-${process.pid}`);
  }

  /** The package's directory, written on first use (to a temporary name, then renamed). */
  private materialize(run: NativeRun): Promise<string> {
    let dir = this.ready.get(run.packageKey);
    if (!dir) {
      dir = (async () => {
        const target = path.join(this.baseDir, run.packageKey);
        if (existsSync(target)) return target;
        const staging = `${target}.${process.hrtime.bigint()}`;
        await mkdir(staging, { recursive: true, mode: 0o755 });
        await chmod(this.baseDir, 0o755);
        for (const [file, content] of [...run.files, [run.modulePath, run.module] as const]) {
          const full = path.join(staging, file);
          await mkdir(path.dirname(full), { recursive: true, mode: 0o755 });
          await writeFile(full, content, { mode: file === run.modulePath ? 0o755 : 0o644 });
        }
        await rename(staging, target).catch(async (err: NodeJS.ErrnoException) => {
          await rm(staging, { recursive: true, force: true });
          if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
        });
        return target;
      })();
      dir.catch(() => this.ready.delete(run.packageKey));
      this.ready.set(run.packageKey, dir);
    }
    return dir;
  }

  async run(run: NativeRun): Promise<NativeResult> {
    if (run.network?.length && !existsSync('/usr/bin/socat'))
      throw new AionError(
        'service.unavailable',
        'this module host cannot grant network access: socat is not installed',
      );
    const packageDir = await this.materialize(run);
    let assignment: ReturnType<typeof assignGpus>;
    if (run.gpu) {
      const devices = await this.options.gpus.devices();
      assignment = assignGpus(devices, run.gpu, this.busy);
      if (!assignment) {
        const free = devices.filter(
          (d) => d.vendor === run.gpu!.vendor && !this.busy.has(`${d.vendor}:${d.index}`),
        ).length;
        throw new AionError(
          'validation.unprocessable',
          `the module needs ${run.gpu.count} ${run.gpu.vendor} GPU(s)${run.gpu.memoryBytes ? ` with ${run.gpu.memoryBytes} bytes each` : ''}; module-host pool ${this.options.pool} has ${free} free`,
        );
      }
      for (const d of assignment.devices) this.busy.add(`${d.vendor}:${d.index}`);
    }
    try {
      const result = await runSubprocess({
        packageDir,
        command: [`/pkg/${run.modulePath}`, ...run.args],
        stdin: run.stdin,
        timeoutMs: run.timeoutMs,
        memoryBytes: run.memoryBytes,
        maxProcesses: run.maxProcesses,
        cpuSeconds: Math.ceil(run.timeoutMs / 1000) + 1,
        ...(run.cpuMillis ? { cpuMillis: run.cpuMillis } : {}),
        ...(run.owner ? { owner: run.owner } : {}),
        maxStdoutBytes: this.options.maxStdoutBytes,
        // The GPU variables last: a secret cannot rename the devices a module was given.
        env: { ...run.secrets, ...assignment?.env },
        ...(run.network?.length ? { network: run.network } : {}),
        ...(assignment ? { devices: assignment.nodes } : {}),
      });
      this.options.onLimits?.(result.limits.mechanism);
      const { limits } = result;
      const stderr = limits.oomKills
        ? `${result.stderr}\naion: the run's cgroup killed ${limits.oomKills} process(es) at its memory limit`
        : result.stderr;
      if (!result.ok) {
        if (result.kind === 'timeout')
          throw new AionError(
            'service.timeout',
            `module exceeded its ${run.timeoutMs} ms time limit and was stopped`,
          );
        return {
          ok: false,
          kind: 'output_limit',
          message: result.message,
          stderr,
          memoryBytes: 0,
          limits,
        };
      }
      const signal = result.signal
        ? (os.constants.signals[result.signal as NodeJS.Signals] ?? 0)
        : 0;
      return {
        ok: true,
        exitCode: result.exitCode ?? 128 + signal,
        stdout: result.stdout,
        stderr,
        memoryBytes: 0,
        limits,
        ...(assignment ? { devices: assignment.nodes } : {}),
      };
    } finally {
      for (const d of assignment?.devices ?? []) this.busy.delete(`${d.vendor}:${d.index}`);
    }
  }

  /** Devices held by invocations running now, by vendor. */
  devicesInUse(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const key of this.busy) {
      const vendor = key.split(':')[0]!;
      counts[vendor] = (counts[vendor] ?? 0) + 1;
    }
    return counts;
  }

  async close(): Promise<void> {
    await rm(this.baseDir, { recursive: true, force: true });
  }
}

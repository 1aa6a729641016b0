import { accessSync, constants, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Resource limits for sandboxed subprocesses through cgroups, where the host lets module-host
 * create child cgroups: cgroup v2 when its memory and pids controllers are delegated below
 * module-host's cgroup, else cgroup v1 (hybrid hosts, where memory and pids are v1 hierarchies)
 * when module-host may write its own v1 cgroups, else none (the caller falls back to rlimits).
 * Each run gets a child cgroup of its own (tenant + run id), removed after the run.
 */
export type LimitMechanism = 'cgroup2' | 'cgroup1' | 'rlimit';

/** What the host offers, read once from /sys/fs/cgroup and /proc/self/cgroup. */
export interface CgroupFacts {
  /** Set when the cgroup2 hierarchy is mounted at the root (a unified host). */
  v2?: { dir: string; controllers: string[]; subtreeControl: string[]; writable: boolean };
  /** The v1 hierarchies module-host is in, by controller (memory, pids, cpu). */
  v1: Partial<Record<'memory' | 'pids' | 'cpu', { dir: string; writable: boolean }>>;
}

export type LimitPlan =
  | { mechanism: 'cgroup2'; base: string; cpu: boolean; reason: string }
  | {
      mechanism: 'cgroup1';
      bases: { memory: string; pids: string; cpu?: string };
      reason: string;
    }
  | { mechanism: 'rlimit'; reason: string };

export function readCgroupFacts(
  root = '/sys/fs/cgroup',
  procCgroup = readFileSync('/proc/self/cgroup', 'utf8'),
): CgroupFacts {
  const lines = procCgroup
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [, , controllers = '', rel = '/'] = /^(\d+):([^:]*):(.*)$/.exec(l) ?? [];
      return { controllers: controllers.split(',').filter(Boolean), rel };
    });
  const writable = (dir: string) => {
    try {
      accessSync(dir, constants.W_OK);
      return existsSync(path.join(dir, 'cgroup.procs'));
    } catch {
      return false;
    }
  };
  const words = (file: string) => {
    try {
      return readFileSync(file, 'utf8').split(/\s+/).filter(Boolean);
    } catch {
      return [];
    }
  };
  const facts: CgroupFacts = { v1: {} };
  const unified = lines.find((l) => l.controllers.length === 0);
  if (existsSync(path.join(root, 'cgroup.controllers')) && unified) {
    const dir = path.resolve(root, `.${unified.rel}`);
    facts.v2 = {
      dir,
      controllers: words(path.join(dir, 'cgroup.controllers')),
      subtreeControl: words(path.join(dir, 'cgroup.subtree_control')),
      writable: writable(dir),
    };
    return facts;
  }
  for (const controller of ['memory', 'pids', 'cpu'] as const) {
    const line = lines.find((l) => l.controllers.includes(controller));
    const mount = path.join(root, controller);
    if (!line || !existsSync(mount)) continue;
    const dir = path.resolve(mount, `.${line.rel}`);
    facts.v1[controller] = { dir, writable: writable(dir) };
  }
  return facts;
}

/** Which mechanism applies, and why: the fallback decision, a pure function of the facts. */
export function decideLimits(facts: CgroupFacts): LimitPlan {
  const { v2, v1 } = facts;
  if (v2) {
    const missing = ['memory', 'pids'].filter((c) => !v2.subtreeControl.includes(c));
    if (!v2.writable)
      return {
        mechanism: 'rlimit',
        reason: `rlimits per process: module-host's cgroup v2 ${v2.dir} is not writable (not delegated)`,
      };
    if (missing.length)
      return {
        mechanism: 'rlimit',
        reason: `rlimits per process: cgroup v2 ${v2.dir} does not delegate ${missing.join(' and ')} to its children (cgroup.subtree_control)`,
      };
    const cpu = v2.subtreeControl.includes('cpu');
    return {
      mechanism: 'cgroup2',
      base: v2.dir,
      cpu,
      reason: `cgroup v2 below ${v2.dir}: memory.max, pids.max${cpu ? ', cpu.max' : ''} per run`,
    };
  }
  const { memory, pids, cpu } = v1;
  if (memory?.writable && pids?.writable)
    return {
      mechanism: 'cgroup1',
      bases: { memory: memory.dir, pids: pids.dir, ...(cpu?.writable ? { cpu: cpu.dir } : {}) },
      reason: `cgroup v1 (hybrid host: memory and pids are v1 hierarchies): memory limit, pids.max${cpu?.writable ? ', CFS quota' : ''} per run`,
    };
  return {
    mechanism: 'rlimit',
    reason:
      memory || pids
        ? "rlimits per process: module-host's cgroup v1 memory/pids directories are not writable"
        : 'rlimits per process: no cgroup v2 hierarchy and no cgroup v1 memory and pids hierarchies',
  };
}

let cached: LimitPlan | undefined;

/** The plan for this host, decided once. */
export function hostLimitPlan(): LimitPlan {
  if (!cached) {
    try {
      cached = decideLimits(readCgroupFacts());
    } catch (err) {
      cached = { mechanism: 'rlimit', reason: `rlimits per process: ${String(err)}` };
    }
  }
  return cached;
}

export interface RunLimits {
  memoryBytes: number;
  maxProcesses: number;
  /** CPU time per second of wall time, in thousandths of a core. */
  cpuMillis?: number;
}

/** What the cgroup saw: whether its limits were hit during the run. */
export interface CgroupReport {
  oomKills: number;
  pidsLimitHits: number;
}

/** One run's cgroup: created with its limits, joined by the run's first process, then removed. */
export class RunCgroup {
  private constructor(
    private readonly plan: Exclude<LimitPlan, { mechanism: 'rlimit' }>,
    private readonly dirs: string[],
  ) {}

  /** A cgroup name from the tenant and run id (only [A-Za-z0-9_.-]; unique by a suffix). */
  static nameFor(tenantId: string, runId: string, suffix: string): string {
    const clean = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64);
    return `aion-${clean(tenantId)}-${clean(runId)}-${suffix}`;
  }

  static async create(
    plan: Exclude<LimitPlan, { mechanism: 'rlimit' }>,
    name: string,
    limits: RunLimits,
  ): Promise<RunCgroup> {
    const quota = limits.cpuMillis ? limits.cpuMillis * 100 : undefined; // of a 100 ms period
    if (plan.mechanism === 'cgroup2') {
      const dir = path.join(plan.base, name);
      await mkdir(dir);
      const group = new RunCgroup(plan, [dir]);
      try {
        await writeFile(path.join(dir, 'memory.max'), String(limits.memoryBytes));
        if (existsSync(path.join(dir, 'memory.swap.max')))
          await writeFile(path.join(dir, 'memory.swap.max'), '0');
        await writeFile(path.join(dir, 'pids.max'), String(limits.maxProcesses));
        if (quota && plan.cpu) await writeFile(path.join(dir, 'cpu.max'), `${quota} 100000`);
      } catch (err) {
        await group.remove();
        throw err;
      }
      return group;
    }
    const { memory, pids, cpu } = plan.bases;
    const dirs = [memory, pids, ...(cpu && quota ? [cpu] : [])].map((b) => path.join(b, name));
    const group = new RunCgroup(plan, []);
    try {
      for (const dir of dirs) {
        await mkdir(dir);
        group.dirs.push(dir);
      }
      const [memDir, pidsDir, cpuDir] = dirs as [string, string, string | undefined];
      await writeFile(path.join(memDir, 'memory.limit_in_bytes'), String(limits.memoryBytes));
      // With swap accounting, memory+swap gets the same bound (no swapping past the limit).
      await writeFile(
        path.join(memDir, 'memory.memsw.limit_in_bytes'),
        String(limits.memoryBytes),
      ).catch(() => undefined);
      await writeFile(path.join(pidsDir, 'pids.max'), String(limits.maxProcesses));
      if (cpuDir && quota) {
        await writeFile(path.join(cpuDir, 'cpu.cfs_period_us'), '100000');
        await writeFile(path.join(cpuDir, 'cpu.cfs_quota_us'), String(quota));
      }
    } catch (err) {
      await group.remove();
      throw err;
    }
    return group;
  }

  get mechanism(): 'cgroup2' | 'cgroup1' {
    return this.plan.mechanism;
  }

  /** Moves a process in (before it runs the module: its children are born inside). */
  join(pid: number): void {
    for (const dir of this.dirs) writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
  }

  async report(): Promise<CgroupReport> {
    const counter = async (file: string, key: string) => {
      const text = await readFile(file, 'utf8').catch(() => '');
      return Number(new RegExp(`^${key} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    };
    const [memDir, pidsDir] =
      this.plan.mechanism === 'cgroup2' ? [this.dirs[0]!, this.dirs[0]!] : this.dirs;
    return {
      oomKills: await counter(
        path.join(
          memDir!,
          this.plan.mechanism === 'cgroup2' ? 'memory.events' : 'memory.oom_control',
        ),
        'oom_kill',
      ),
      pidsLimitHits: await counter(path.join(pidsDir!, 'pids.events'), 'max'),
    };
  }

  /** SIGKILL to every process inside, whatever its process group or session. */
  killAll(): void {
    const attempt = (f: () => void) => {
      try {
        f();
      } catch {
        // gone meanwhile, or the cgroup already removed
      }
    };
    for (const dir of this.dirs) {
      if (existsSync(path.join(dir, 'cgroup.kill')))
        attempt(() => writeFileSync(path.join(dir, 'cgroup.kill'), '1'));
      let procs = '';
      attempt(() => (procs = readFileSync(path.join(dir, 'cgroup.procs'), 'utf8')));
      for (const pid of procs.split('\n'))
        if (pid) attempt(() => process.kill(Number(pid), 'SIGKILL'));
    }
  }

  /** Kills what is left inside and removes the cgroup (retrying while processes exit). */
  async remove(): Promise<void> {
    for (const dir of [...this.dirs].reverse()) {
      for (let attempt = 0; ; attempt++) {
        this.killAll();
        try {
          await rmdir(dir);
          break;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') break;
          if (attempt >= 100) throw err; // ~2 s: a process that will not die
          await sleep(20);
        }
      }
    }
    this.dirs.length = 0;
  }
}

import { randomInt } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { startEgressProxy } from './egress-proxy';
import { seccompProgram } from './seccomp';

/**
 * Runs a native module (runtime.type: subprocess) under bubblewrap, JSON in on stdin and out on
 * stdout: new user, PID, IPC, UTS, network and cgroup namespaces; the host's /usr read-only as
 * the root (libc and interpreters), the package's files read-only at /pkg, a private tmpfs /tmp,
 * a minimal /dev (plus only the GPU nodes assigned), no environment but what is given; no new
 * privileges and a seccomp filter; as an unprivileged host user (a uid of its own per invocation,
 * from SANDBOX_UIDS, when the host runs as root; nobody (65534) inside
 * either way). Limits are rlimits (prlimit): address space, processes, CPU seconds, file size, open
 * files. cgroup v2 limits are not applied yet, even where the host delegates a subtree (reported
 * in `limitsReason`). The wall-time limit kills the sandbox's whole process group.
 */
export interface SubprocessRun {
  /** The package's files on the host (readable by the sandbox user). */
  packageDir: string;
  /** Command inside the sandbox, e.g. ['/pkg/bin/module', 'entry']. */
  command: string[];
  stdin: Uint8Array;
  timeoutMs: number;
  memoryBytes: number;
  maxProcesses: number;
  cpuSeconds: number;
  env?: Record<string, string>;
  /** Device nodes to expose (a GPU assignment's). */
  devices?: string[];
  /** `host:port` the module may open tunnels to (through the egress proxy); none: no network. */
  network?: readonly string[];
  maxStdoutBytes?: number;
}

export type SubprocessResult =
  | {
      ok: true;
      exitCode: number | null;
      signal: string | null;
      stdout: Uint8Array;
      stderr: string;
      durationMs: number;
    }
  | { ok: false; kind: 'timeout' | 'output_limit'; message: string; stderr: string };

/** What this host can enforce; reported on /readyz and with each invocation's answer. */
export interface SandboxCapabilities {
  bubblewrap: boolean;
  seccomp: boolean;
  /** What is applied: rlimits only, today. */
  limits: 'rlimit';
  limitsReason: string;
  /** `per-invocation`: each run its own host uid (module-host is root); else module-host's. */
  user: 'per-invocation' | 'current';
}

export function sandboxCapabilities(): SandboxCapabilities {
  const bubblewrap = ['/usr/bin/bwrap', '/bin/bwrap'].some((p) => existsSync(p));
  const delegated = cgroupDelegated();
  return {
    bubblewrap,
    seccomp: seccompProgram() !== undefined,
    limits: 'rlimit',
    limitsReason: delegated
      ? 'rlimits per process (a cgroup v2 subtree is delegated; cgroup limits are not applied yet)'
      : 'rlimits per process (no delegated cgroup v2 subtree: hybrid or read-only cgroups)',
    user: process.getuid?.() === 0 ? 'per-invocation' : 'current',
  };
}

/** Whether this process's cgroup v2 directory is writable with memory and pids enabled below it. */
function cgroupDelegated(): boolean {
  try {
    if (!existsSync('/sys/fs/cgroup/cgroup.controllers')) return false;
    const line = readFileSync('/proc/self/cgroup', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'));
    if (!line) return false;
    const dir = `/sys/fs/cgroup${line.slice(3)}`;
    const enabled = readFileSync(`${dir}/cgroup.subtree_control`, 'utf8');
    return /\bmemory\b/.test(enabled) && /\bpids\b/.test(enabled);
  } catch {
    return false;
  }
}

const PROXY_PORT = 3128;
const PROXY_URL = `http://127.0.0.1:${PROXY_PORT}`;
/** Starts socat (the proxy's end in the sandbox), waits until it listens, then runs the module. */
const WITH_PROXY = `socat -d -d TCP-LISTEN:${PROXY_PORT},bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:/run/aion/proxy.sock 2>/tmp/.aion-egress &
i=0; until grep -q listening /tmp/.aion-egress 2>/dev/null; do i=$((i+1)); [ $i -gt 500 ] && exit 97; sleep 0.01; done
exec "$@"`;

export function bwrapArgs(run: SubprocessRun, proxyDir?: string): string[] {
  const args = [
    '--unshare-user',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-net',
    '--unshare-cgroup-try',
    '--die-with-parent',
    '--new-session',
    '--clearenv',
    '--hostname',
    'module',
    '--ro-bind',
    '/usr',
    '/usr',
    '--symlink',
    'usr/lib',
    '/lib',
    '--symlink',
    'usr/lib64',
    '/lib64',
    '--symlink',
    'usr/bin',
    '/bin',
    '--symlink',
    'usr/sbin',
    '/sbin',
    '--ro-bind',
    run.packageDir,
    '/pkg',
    '--tmpfs',
    '/tmp',
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--chdir',
    '/pkg',
    '--setenv',
    'PATH',
    '/usr/bin:/bin',
    '--setenv',
    'HOME',
    '/tmp',
  ];
  for (const node of run.devices ?? []) if (existsSync(node)) args.push('--dev-bind', node, node);
  if (proxyDir) {
    args.push('--bind', proxyDir, '/run/aion');
    for (const name of ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY'])
      args.push('--setenv', name, PROXY_URL);
  }
  for (const [k, v] of Object.entries(run.env ?? {})) args.push('--setenv', k, v);
  return args;
}

/**
 * Host uids for sandboxes when module-host runs as root: one drawn per invocation, so that
 * RLIMIT_NPROC (which counts every task of the real user) and signals are each sandbox's own, not
 * shared with other sandboxes or module-hosts on the host. Far above any distribution's users.
 */
const SANDBOX_UIDS = { first: 1_000_000_000, count: 1 << 24 };

/**
 * RLIMIT_NPROC counts every process of the real user. As a sandbox uid (module-host running as
 * root) that is the sandbox's own; as module-host's own user it includes module-host and whatever
 * else that user runs, so the limit is what runs now plus the module's share.
 */
function processLimit(maxProcesses: number, root: boolean): number {
  if (root) return maxProcesses;
  const uid = String(process.getuid?.() ?? -1);
  let running = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const line = /^Uid:\s+(\d+)/m.exec(status);
      // Threads count against the limit as processes do.
      if (line?.[1] === uid) running += Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 1);
    } catch {
      // gone meanwhile
    }
  }
  return running + maxProcesses;
}

export async function runSubprocess(run: SubprocessRun): Promise<SubprocessResult> {
  const proxy = run.network?.length ? await startEgressProxy(run.network) : undefined;
  try {
    return await runSandboxed(run, proxy?.dir);
  } finally {
    await proxy?.close();
  }
}

function runSandboxed(run: SubprocessRun, proxyDir: string | undefined): Promise<SubprocessResult> {
  const program = seccompProgram();
  const root = process.getuid?.() === 0;
  const limits = [
    `--as=${run.memoryBytes}`,
    `--nproc=${processLimit(run.maxProcesses, root)}`,
    `--cpu=${run.cpuSeconds}`,
    `--fsize=${16 * 1024 * 1024}`,
    '--nofile=64',
    '--core=0',
  ];
  const args = [
    ...limits,
    '--',
    'bwrap',
    '--uid',
    '65534',
    '--gid',
    '65534',
    ...bwrapArgs(run, proxyDir),
    ...(program ? ['--seccomp', '3'] : []),
    '--',
    ...(proxyDir ? ['/bin/sh', '-c', WITH_PROXY, 'aion-egress'] : []),
    ...run.command,
  ];
  const sandboxUid = SANDBOX_UIDS.first + randomInt(SANDBOX_UIDS.count);
  const maxStdout = run.maxStdoutBytes ?? 1024 * 1024;
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn('prlimit', args, {
      stdio: ['pipe', 'pipe', 'pipe', program ? 'pipe' : 'ignore'],
      detached: true, // its own process group, killed whole on timeout
      env: { PATH: '/usr/bin:/bin' },
      ...(root ? { uid: sandboxUid, gid: sandboxUid } : {}),
    });
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = '';
    let failure: SubprocessResult | undefined;
    const kill = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      failure = {
        ok: false,
        kind: 'timeout',
        message: `module ran longer than ${run.timeoutMs} ms`,
        stderr: err,
      };
      kill();
    }, run.timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > maxStdout) {
        failure ??= {
          ok: false,
          kind: 'output_limit',
          message: `module wrote more than ${maxStdout} bytes`,
          stderr: err,
        };
        kill();
      } else out.push(chunk);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      err = (err + chunk.toString()).slice(-64 * 1024);
    });
    child.stdin!.on('error', () => undefined); // a module that exits without reading its input
    child.stdin!.end(Buffer.from(run.stdin));
    if (program) {
      const fd3 = child.stdio[3] as NodeJS.WritableStream & { on(e: 'error', f: () => void): void };
      fd3.on('error', () => undefined);
      fd3.end(program);
    }
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      kill(); // anything the module left behind in its group
      if (failure) return resolve({ ...failure, stderr: err });
      resolve({
        ok: true,
        exitCode,
        signal,
        stdout: new Uint8Array(Buffer.concat(out)),
        stderr: err,
        durationMs: Math.round(performance.now() - started),
      });
    });
  });
}

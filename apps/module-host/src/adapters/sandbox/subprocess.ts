import { randomInt, randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { AionError } from '@aion/errors';
import { hostLimitPlan, RunCgroup, type CgroupReport, type LimitMechanism } from './cgroups';
import { startEgressProxy } from './egress-proxy';
import { seccompProgram } from './seccomp';

/**
 * Runs a native module (runtime.type: subprocess) under bubblewrap, JSON in on stdin and out on
 * stdout: new user, PID, IPC, UTS, network and cgroup namespaces; the host's /usr read-only as
 * the root (libc and interpreters), the package's files read-only at /pkg, a private tmpfs /tmp,
 * a minimal /dev (plus only the GPU nodes assigned), no environment but what is given; no new
 * privileges and a seccomp filter; as an unprivileged host user (a uid of its own per invocation,
 * from SANDBOX_UIDS, when the host runs as root; nobody (65534) inside
 * either way). Memory, processes and CPU rate are limited by a cgroup of the run's own where the
 * host lets module-host create one (v2, or v1 on hybrid hosts; see cgroups.ts), else by rlimits
 * (address space, processes); CPU seconds, file size and open files are always rlimits (prlimit).
 * Each result says which applied. The wall-time limit kills the sandbox's whole process group.
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
  /** CPU rate (thousandths of a core); applied where a cgroup is. */
  cpuMillis?: number;
  /** Names the run's cgroup: whose run it is. */
  owner?: { tenantId: string; runId: string };
  /** `rlimit` forces the fallback even where cgroups are available (tests, operators). */
  limits?: 'auto' | 'rlimit';
  env?: Record<string, string>;
  /** Device nodes to expose (a GPU assignment's). */
  devices?: string[];
  /** `host:port` the module may open tunnels to (through the egress proxy); none: no network. */
  network?: readonly string[];
  maxStdoutBytes?: number;
}

/** Which limits a run had, and what its cgroup saw (absent under rlimits). */
export type AppliedLimits = { mechanism: LimitMechanism } & Partial<CgroupReport>;

export type SubprocessResult = (
  | {
      ok: true;
      exitCode: number | null;
      signal: string | null;
      stdout: Uint8Array;
      stderr: string;
      durationMs: number;
    }
  | { ok: false; kind: 'timeout' | 'output_limit'; message: string; stderr: string }
) & { limits: AppliedLimits };

/** What this host can enforce: logged at start; its `limits` on /readyz (details) and per run. */
export interface SandboxCapabilities {
  bubblewrap: boolean;
  seccomp: boolean;
  /** What limits memory and processes: a cgroup per run (v2 or v1), else rlimits. */
  limits: LimitMechanism;
  limitsReason: string;
  /** `per-invocation`: each run its own host uid (module-host is root); else module-host's. */
  user: 'per-invocation' | 'current';
}

export function sandboxCapabilities(): SandboxCapabilities {
  const bubblewrap = ['/usr/bin/bwrap', '/bin/bwrap'].some((p) => existsSync(p));
  const plan = hostLimitPlan();
  return {
    bubblewrap,
    seccomp: seccompProgram() !== undefined,
    limits: plan.mechanism,
    limitsReason: plan.reason,
    user: process.getuid?.() === 0 ? 'per-invocation' : 'current',
  };
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

async function runSandboxed(
  run: SubprocessRun,
  proxyDir: string | undefined,
): Promise<SubprocessResult> {
  const plan = run.limits === 'rlimit' ? undefined : hostLimitPlan();
  let cgroup: RunCgroup | undefined;
  if (plan && plan.mechanism !== 'rlimit') {
    const owner = run.owner ?? { tenantId: 'system', runId: 'run' };
    const name = RunCgroup.nameFor(owner.tenantId, owner.runId, randomUUID().slice(0, 8));
    try {
      cgroup = await RunCgroup.create(plan, name, {
        memoryBytes: run.memoryBytes,
        maxProcesses: run.maxProcesses,
        ...(run.cpuMillis ? { cpuMillis: run.cpuMillis } : {}),
      });
    } catch (err) {
      // Fail closed: the host said it could limit this run and could not.
      throw new AionError(
        'service.unavailable',
        `could not create the run's ${plan.mechanism} cgroup: ${String(err)}`,
      );
    }
  }
  try {
    const result = await spawnSandbox(run, proxyDir, cgroup);
    const limits: AppliedLimits = cgroup
      ? { mechanism: cgroup.mechanism, ...(await cgroup.report()) }
      : { mechanism: 'rlimit' };
    return { ...result, limits };
  } finally {
    await cgroup?.remove();
  }
}

type Outcome = SubprocessResult extends infer R
  ? R extends unknown
    ? Omit<R, 'limits'>
    : never
  : never;

/**
 * Inside a cgroup, the first process waits (on fd 4) until module-host has moved it in, so that
 * everything the module starts is born inside; it then execs prlimit.
 */
const AFTER_JOIN = 'read -r _ <&4 || exit 98; exec 4<&-; exec "$@"';

function spawnSandbox(
  run: SubprocessRun,
  proxyDir: string | undefined,
  cgroup: RunCgroup | undefined,
): Promise<Outcome> {
  const program = seccompProgram();
  const root = process.getuid?.() === 0;
  const limits = [
    // Memory and processes: the cgroup's when there is one (an address-space limit would also
    // refuse runtimes that reserve much and use little).
    ...(cgroup
      ? []
      : [`--as=${run.memoryBytes}`, `--nproc=${processLimit(run.maxProcesses, root)}`]),
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
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let joinError: AionError | undefined;
    const [file, argv] = cgroup
      ? ['/bin/sh', ['-c', AFTER_JOIN, 'aion-sandbox', 'prlimit', ...args]]
      : ['prlimit', args];
    const child = spawn(file, argv, {
      stdio: ['pipe', 'pipe', 'pipe', program ? 'pipe' : 'ignore', cgroup ? 'pipe' : 'ignore'],
      detached: true, // its own process group, killed whole on timeout
      env: { PATH: '/usr/bin:/bin' },
      ...(root ? { uid: sandboxUid, gid: sandboxUid } : {}),
    });
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = '';
    let failure: Outcome | undefined;
    const kill = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      // The cgroup holds the sandbox's processes even where they left the process group.
      cgroup?.killAll();
    };
    if (cgroup) {
      const go = child.stdio[4] as NodeJS.WritableStream & { on(e: 'error', f: () => void): void };
      go.on('error', () => undefined);
      try {
        if (child.pid === undefined) throw new Error('the sandbox did not start');
        cgroup.join(child.pid);
        go.end('go\n');
      } catch (e) {
        // Not inside its cgroup: never let it run.
        joinError = new AionError(
          'service.unavailable',
          `could not move the module into its cgroup: ${String(e)}`,
        );
        kill();
      }
    }
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
      if (joinError) return reject(joinError);
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

import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runSubprocess } from './subprocess';

/** Whether a sandbox actually ran here, and what stopped it when it did not. */
export type SandboxProbe = { ok: true } | { ok: false; reason: string };

/**
 * Runs one trivial sandbox exactly as a module's run goes (prlimit, bubblewrap with its
 * namespaces, /proc and seccomp filter, the host's /usr as the root, a cgroup where the host
 * gives one). bwrap being installed is not enough: a container whose seccomp profile forbids
 * unshare or mount, or whose /proc is masked (no fresh proc mount in a user namespace), has it
 * and cannot use it; such a host then refuses subprocess packages at install with a reason,
 * rather than failing every run.
 */
export async function probeSandbox(timeoutMs = 10_000): Promise<SandboxProbe> {
  const packageDir = await mkdtemp(path.join(os.tmpdir(), 'aion-sandbox-probe-'));
  try {
    // The sandbox user (another uid when module-host is root) must reach it.
    await chmod(packageDir, 0o755);
    const result = await runSubprocess({
      packageDir,
      command: ['sh', '-c', 'read -r line && echo "$line"'],
      stdin: new TextEncoder().encode('sandbox-ok\n'),
      timeoutMs,
      memoryBytes: 256 * 1024 * 1024,
      maxProcesses: 8,
      cpuSeconds: Math.ceil(timeoutMs / 1000),
      owner: { tenantId: 'system', runId: 'probe' },
    });
    if (!result.ok) return { ok: false, reason: `${result.message}: ${result.stderr.trim()}` };
    const out = new TextDecoder().decode(result.stdout).trim();
    if (result.exitCode === 0 && out === 'sandbox-ok') return { ok: true };
    return {
      ok: false,
      reason: `exit ${result.exitCode ?? result.signal}: ${result.stderr.trim().slice(-500)}`,
    };
  } catch (err) {
    return { ok: false, reason: String(err) };
  } finally {
    await rm(packageDir, { recursive: true, force: true });
  }
}

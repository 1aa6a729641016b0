import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * Module-host's sandbox metrics: invocations waiting for a WebAssembly worker (subprocess runs
 * never wait: they start at once or are refused), and how subprocess runs are limited.
 */
export function registerSandboxMetrics(
  registry: Registry,
  pool: string,
  sources: { queued: () => number; limits: string },
): { subprocessRun(mechanism: string): void } {
  new Gauge({
    name: 'aion_module_queue_depth',
    help: 'Module invocations waiting for a sandbox worker, by pool',
    labelNames: ['pool'],
    registers: [registry],
    collect() {
      this.set({ pool }, sources.queued());
    },
  });
  new Gauge({
    name: 'aion_module_host_sandbox_limits_info',
    help: 'What limits subprocess modules on this host (limits: cgroup2, cgroup1 or rlimit); always 1',
    labelNames: ['pool', 'limits'],
    registers: [registry],
  }).set({ pool, limits: sources.limits }, 1);
  const runs = new Counter({
    name: 'aion_module_host_subprocess_runs_total',
    help: 'Subprocess module runs, by the limits each had (cgroup2, cgroup1 or rlimit)',
    labelNames: ['pool', 'limits'],
    registers: [registry],
  });
  return { subprocessRun: (mechanism) => runs.inc({ pool, limits: mechanism }) };
}

/**
 * Module-host pools through the whole task path: the orchestrator as its own process, told two
 * pools in AION_ORCHESTRATOR_MODULE_HOST_POOLS (a cpu pool and a cuda pool, each a module-host
 * process on one package store), runs tasks whose module engines need cpu, cuda or rocm.
 * There is no GPU on this machine (nor in CI): the cuda pool is a label, which is all routing
 * reads; the modules are the WebAssembly summarize sample, which needs no device anywhere.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DataClassification,
  Privacy,
  TaskOrchestrator,
  TaskStatus,
  type TaskView,
} from '@aion/contracts';
import { InternalTokens } from '@aion/auth';
import { createGrpcClient, type ClientOf } from '@aion/grpc';
import { runWithTenant } from '@aion/tenancy';
import {
  distributedEnv,
  eventually,
  freePort,
  sampleModule,
  startPlatform,
  startServiceProcess,
  uniqueName,
  type Platform,
  type ServiceProcess,
} from '@aion/testing';
import { SUMMARY_SOURCE_TEXT } from '../support/fixtures';

const SECRET = 'e2e-module-pools-secret-0123456789abcdef';
const tokens = new InternalTokens(SECRET, 'e2e');
const dev = () => ({
  tenantId: 'acme',
  subject: 'dev',
  roles: ['developer'],
  requestId: uniqueName('req'),
});
const scratch = mkdtempSync(path.join(os.tmpdir(), 'aion-e2e-pools-'));

let platform: Platform;
let gpuHost: ServiceProcess | undefined;
let gpuPort: number;
let tasks: ClientOf<typeof TaskOrchestrator>;

/** The summarize sample under another name, needing `accelerator` (none: the default, cpu). */
function samplePackage(name: string, accelerator?: string): string {
  const dir = path.join(scratch, name);
  cpSync(sampleModule('summarize_text'), dir, { recursive: true });
  const manifest = readFileSync(path.join(dir, 'aion.yaml'), 'utf8')
    .replace('name: summarize_text', `name: ${name}`)
    .replace(
      'memory_mb: 16',
      `memory_mb: 16${accelerator ? `\n    accelerator: ${accelerator}` : ''}`,
    );
  writeFileSync(path.join(dir, 'aion.yaml'), manifest);
  return dir;
}

const engine = (module: string) =>
  `  - { name: run-${module}, tier: local, kind: module, module: ${module}, intents: [${module}], jurisdiction: DE, region: local, price_per_1k_tokens: { input: 0, output: 0 } }`;

async function runTask(intent: string): Promise<TaskView> {
  const tenant = dev();
  const submitted = await runWithTenant(tenant, () =>
    tasks.submit({
      task: {
        intent,
        params: { text: SUMMARY_SOURCE_TEXT, max_sentences: 1 },
        sla: { privacy: Privacy.LOCAL_ONLY, budgetUsd: 0, p95Ms: 0 },
        dataContext: { jurisdiction: 'DE', classification: DataClassification.NONE },
      },
    }),
  );
  return eventually(async () => {
    const { result } = await runWithTenant(tenant, () =>
      tasks.statusById({ taskId: submitted.result!.taskId }),
    );
    return result && [TaskStatus.OK, TaskStatus.ERROR, TaskStatus.TIMEOUT].includes(result.status)
      ? result
      : undefined;
  }, 20_000);
}

/** InvokeModuleStream calls a module host answered OK (gRPC code 0), from its own /metrics. */
async function invocations(host: ServiceProcess): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${host.opsPort}/metrics`)).text();
  return [
    ...text.matchAll(
      /^aion_grpc_server_handled_total\{[^}]*InvokeModuleStream[^}]*code="0"[^}]*\} (\d+)/gm,
    ),
  ].reduce((sum, [, n]) => sum + Number(n), 0);
}

const routed = (module: string) =>
  platform.orchestrator.logs
    .filter((l) => l['message'] === 'module routed' && l['module'] === module)
    .map((l) => l['reason']);

beforeAll(async () => {
  const packages = [
    samplePackage('pool_plain'),
    samplePackage('pool_cuda', 'cuda'),
    samplePackage('pool_rocm', 'rocm'),
  ];
  const cpuPort = await freePort();
  gpuPort = await freePort();
  platform = await startPlatform({
    database: 'e2epools',
    engines: `engines:\n${['pool_plain', 'pool_cuda', 'pool_rocm'].map(engine).join('\n')}\n`,
    migrate: ['module-host', 'orchestrator', 'sovereign-ai'],
    internalTokenSecret: SECRET,
    moduleHost: {
      AION_MODULE_HOST_GRPC_PORT: String(cpuPort),
      AION_MODULE_HOST_POOL: 'general',
      AION_MODULE_HOST_ACCELERATOR: 'cpu',
      AION_MODULE_HOST_PRELOAD: packages.join(','),
    },
    orchestrator: {
      // The pools replace the single address startPlatform would set.
      AION_ORCHESTRATOR_MODULE_HOST_ADDRESS: '',
      // The retries below while the cuda pool comes up must not open the engine's breaker.
      AION_ORCHESTRATOR_BREAKER_FAILURES: '50',
      AION_ORCHESTRATOR_MODULE_HOST_POOLS: `general=cpu@127.0.0.1:${cpuPort},gpu=cuda@127.0.0.1:${gpuPort}`,
    },
  });
  tasks = createGrpcClient(TaskOrchestrator, `127.0.0.1:${platform.orchestrator.grpcPort}`, {
    tokens,
  });
}, 180_000);

afterAll(async () => {
  tasks?.close();
  gpuHost?.kill('SIGTERM');
  await gpuHost?.exited;
  await platform?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe('module tasks routed to module-host pools', () => {
  it('runs a cpu module on the cpu pool, and refuses a rocm module: no pool has rocm', async () => {
    const plain = await runTask('pool_plain');
    expect(plain.status).toBe(TaskStatus.OK);
    expect(await invocations(platform.moduleHost)).toBe(1);
    const rocm = await runTask('pool_rocm');
    expect(rocm.status).toBe(TaskStatus.ERROR);
    expect(rocm.error!.message).toMatch(
      /module pool_rocm needs rocm, and no module-host pool has it \(pools: general \(cpu\), gpu \(cuda\)\)/,
    );
    expect(await invocations(platform.moduleHost)).toBe(1);
  }, 60_000);

  it('fails a cuda module while the cuda pool is down, and runs it there once it is up', async () => {
    const down = await runTask('pool_cuda');
    expect(down.status).toBe(TaskStatus.ERROR);
    expect(down.error!.message).toMatch(/pool_cuda/);
    expect(down.error!.message).toMatch(/unreachable|no pool that can run it was reachable/);
    // The cpu pool never runs it, though it is up.
    expect(await invocations(platform.moduleHost)).toBe(1);
    gpuHost = await startServiceProcess('module-host', {
      ...distributedEnv(platform.db, SECRET),
      AION_MODULE_HOST_HTTP_PORT: '0',
      AION_MODULE_HOST_GRPC_PORT: String(gpuPort),
      AION_MODULE_HOST_HOST: '127.0.0.1',
      AION_MODULE_HOST_POOL: 'gpu',
      AION_MODULE_HOST_ACCELERATOR: 'cuda',
    });
    // The orchestrator skips an unreachable pool for 5 s, then tries it again.
    const ok = await eventually(
      async () => {
        const result = await runTask('pool_cuda');
        return result.status === TaskStatus.OK ? result : undefined;
      },
      30_000,
      1_000,
    );
    expect(ok.status).toBe(TaskStatus.OK);
    expect(await invocations(gpuHost)).toBe(1);
    expect(await invocations(platform.moduleHost)).toBe(1);
    expect(routed('pool_cuda')).toContain('module pool_cuda needs cuda: pool gpu (cuda)');
    // A cpu module still prefers the cpu pool.
    expect((await runTask('pool_plain')).status).toBe(TaskStatus.OK);
    expect(await invocations(platform.moduleHost)).toBe(2);
    expect(routed('pool_plain')).toContain(
      'module pool_plain needs cpu (any pool): pool general (cpu), then gpu (cuda) (cpu pools first: GPU nodes stay free for GPU modules)',
    );
  }, 90_000);
});

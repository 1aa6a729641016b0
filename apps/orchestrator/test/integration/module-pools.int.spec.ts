/**
 * Module-host pools end to end: two real module-host processes on one package store, labelled
 * as a cpu pool and a cuda pool, and the orchestrator's pool routing built from its own config.
 * There is no GPU on this machine (nor in CI): a pool's accelerator is a label here, which is all
 * routing reads; the modules are the WebAssembly sample, which needs no device in any pool.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fromJson, toJson } from '@bufbuild/protobuf';
import { ValueSchema } from '@bufbuild/protobuf/wkt';
import { ModuleService, type InvokeModuleResponse } from '@aion/contracts';
import { InternalTokens } from '@aion/auth';
import { AionError } from '@aion/errors';
import { createGrpcClient } from '@aion/grpc';
import { runWithTenant } from '@aion/tenancy';
import {
  createTestDatabase,
  migrateTestDatabase,
  sampleModule,
  startServiceProcess,
  type ServiceProcess,
  type TestDatabase,
} from '@aion/testing';
import { ModuleHostPools } from '../../src/adapters/engines/module-host-pools';
import { loadOrchestratorConfig, modulePoolsOf } from '../../src/config';

const SECRET = 'int-module-pools-secret-0123456789abcdef';
const tokens = new InternalTokens(SECRET, 'orchestrator');
const dev = { tenantId: 'acme', subject: 'dev', roles: ['developer'], requestId: 'pools' };
const scratch = mkdtempSync(path.join(os.tmpdir(), 'aion-pools-'));
const input = fromJson(ValueSchema, {
  text: 'Aion routes modules. Pools have accelerators. Lunch was fine. Budgets cap spend.',
  max_sentences: 1,
});

let db: TestDatabase;
let general: ServiceProcess;
let gpu: ServiceProcess;
let pools: ModuleHostPools;
let closeClients: () => void;

/** The summarize sample under another name, needing `accelerator` (none: the default, cpu). */
function samplePackage(name: string, accelerator?: string): string {
  const dir = path.join(scratch, name);
  cpSync(sampleModule('summarize_text'), dir, { recursive: true });
  const manifest = readFileSync(path.join(dir, 'aion.yaml'), 'utf8');
  writeFileSync(
    path.join(dir, 'aion.yaml'),
    manifest
      .replace('name: summarize_text', `name: ${name}`)
      .replace(
        'memory_mb: 16',
        accelerator ? `memory_mb: 16\n    accelerator: ${accelerator}` : 'memory_mb: 16',
      ),
  );
  return dir;
}

const moduleHostEnv = (pool: string, accelerator: string, preload: string[]) => ({
  AION_MODE: 'distributed',
  DATABASE_URL: db.appUrl,
  KAFKA_BROKERS: process.env['KAFKA_BROKERS'],
  AION_INTERNAL_TOKEN_SECRET: SECRET,
  AION_MODULE_HOST_HTTP_PORT: '0',
  AION_MODULE_HOST_GRPC_PORT: '0',
  AION_MODULE_HOST_HOST: '127.0.0.1',
  AION_MODULE_HOST_WORKERS: '1',
  AION_MODULE_HOST_POOL: pool,
  AION_MODULE_HOST_ACCELERATOR: accelerator,
  AION_MODULE_HOST_PRELOAD: preload.join(','),
});

/** Runs `module` through the pools; the answer names the pool whose host ran it. */
async function run(module: string): Promise<InvokeModuleResponse> {
  return runWithTenant(dev, async () => {
    let done: InvokeModuleResponse | undefined;
    for await (const message of pools.invokeModuleStream({ name: module, input }))
      if (message.event.case === 'done') done = message.event.value;
    if (!done) throw new Error(`${module} ended without a result`);
    return done;
  });
}

async function refusal(module: string): Promise<AionError> {
  const error = await run(module).then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(error instanceof AionError)) throw new Error(`expected an AionError, got ${String(error)}`);
  return error;
}

beforeAll(async () => {
  db = await createTestDatabase('mhpools');
  migrateTestDatabase(db, ['module-host']);
  const packages = [
    samplePackage('pool_plain'),
    samplePackage('pool_cuda', 'cuda'),
    samplePackage('pool_rocm', 'rocm'),
  ];
  // Installed once, by the cpu pool; the cuda pool reads the same store.
  general = await startServiceProcess('module-host', moduleHostEnv('general', 'cpu', packages));
  gpu = await startServiceProcess('module-host', moduleHostEnv('gpu', 'cuda', []));
  // The orchestrator's own config parsing and wiring of pools, as in orchestrator-service.ts.
  const config = loadOrchestratorConfig({
    AION_MODE: 'embedded',
    AION_ORCHESTRATOR_MODULE_HOST_POOLS: `general=cpu@127.0.0.1:${general.grpcPort},gpu=cuda@127.0.0.1:${gpu.grpcPort}`,
  });
  const clients = modulePoolsOf(config).map((pool) => ({
    ...pool,
    client: createGrpcClient(ModuleService, pool.address, { tokens }),
  }));
  closeClients = () => clients.forEach((c) => c.client.close());
  pools = new ModuleHostPools(clients, { downForMs: 60_000 });
}, 120_000);

afterAll(async () => {
  closeClients?.();
  for (const host of [general, gpu]) host?.kill('SIGTERM');
  await Promise.all([general?.exited, gpu?.exited]);
  await db?.drop();
  rmSync(scratch, { recursive: true, force: true });
});

describe('module-host pools', () => {
  it('each host reports its pool and accelerator on /readyz and /healthz', async () => {
    const ready = await fetch(`http://127.0.0.1:${gpu.opsPort}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'ready',
      details: { pool: 'gpu', accelerator: 'cuda' },
    });
    const health = await fetch(`http://127.0.0.1:${general.httpPort}/healthz`);
    expect(await health.json()).toMatchObject({
      status: 'ok',
      details: { pool: 'general', accelerator: 'cpu' },
    });
  });

  it('runs a module needing cuda on the cuda pool, and a cpu module on the cpu pool first', async () => {
    const cuda = await run('pool_cuda');
    expect(cuda).toMatchObject({ pool: 'gpu', accelerator: 'cuda' });
    expect((toJson(ValueSchema, cuda.output!) as { sentences: string[] }).sentences).toHaveLength(
      1,
    );
    expect((await runWithTenant(dev, () => pools.route('pool_cuda'))).reason).toBe(
      'module pool_cuda needs cuda: pool gpu (cuda)',
    );
    expect(await run('pool_plain')).toMatchObject({ pool: 'general', accelerator: 'cpu' });
    expect((await runWithTenant(dev, () => pools.route('pool_plain'))).pools).toEqual([
      'general',
      'gpu',
    ]);
  });

  it('refuses a module needing rocm with 422, naming the pools there are', async () => {
    const error = await refusal('pool_rocm');
    expect(error.code).toBe('validation.unprocessable');
    expect(error.httpStatus).toBe(422);
    expect(error.message).toBe(
      'module pool_rocm needs rocm, and no module-host pool has it (pools: general (cpu), gpu (cuda))',
    );
    // A module no pool has installed is the module host's own answer.
    expect((await refusal('nope')).code).toBe('resource.not_found');
  });

  it('runs a cpu module on the cuda pool when the cpu pool is down; 503 once no cuda pool is up', async () => {
    general.kill('SIGTERM');
    await general.exited;
    // Moves on from the unreachable cpu pool within the same call.
    expect(await run('pool_plain')).toMatchObject({ pool: 'gpu', accelerator: 'cuda' });
    expect((await runWithTenant(dev, () => pools.route('pool_plain'))).reason).toMatch(
      /pool gpu \(cuda\); skipped as unreachable: general \(cpu\)/,
    );
    gpu.kill('SIGTERM');
    await gpu.exited;
    // The need is known (cached from its manifest): the call to the only cuda pool fails...
    const first = await refusal('pool_cuda');
    expect(first.code).toBe('service.unavailable');
    expect(first.message).toMatch(/no pool that can run it was reachable \(gpu\)/);
    // ...and from then on the pool is known down: refused at once, with the reason.
    const then = await refusal('pool_cuda');
    expect(then.httpStatus).toBe(503);
    expect(then.message).toBe(
      'module pool_cuda needs cuda, and every pool that has it is unreachable: gpu (cuda)',
    );
  });
});

import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { migratePglite, openPglite, type Database } from '@aion/db';
import { OutboxWriter } from '@aion/events';
import { runWithTenant } from '@aion/tenancy';
import { PostgresPackageRepository } from '../../src/adapters/db/package-repository';
import { outbox } from '../../src/adapters/db/schema';
import { readPackageDirectory } from '../../src/adapters/packages/package-reader';
import { SecretDirectory } from '../../src/adapters/secrets/secret-directory';
import { BubblewrapRunner } from '../../src/adapters/sandbox/native-runner';
import { WorkerPool } from '../../src/adapters/sandbox/worker-pool';
import type { GpuDevice } from '../../src/core/gpu';
import { PackageService } from '../../src/core/package-service';

// runtime.type: subprocess end to end: the sample native package (tools/modules/device_report)
// installed, then run under bubblewrap. GPU discovery is a test double (no GPU on this host): it
// reports the devices a GPU host would; everything else is the real sandbox.

const repoRoot = path.resolve(__dirname, '..', '..', '..', '..');
const sample = path.join(repoRoot, 'tools', 'modules', 'device_report');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'aion-native-'));
chmodSync(scratch, 0o755); // the sandbox user (65534 under root) must reach the package files
let gpuDevices: GpuDevice[] = [];

let database: Database;
let pool: WorkerPool;
let runner: BubblewrapRunner;
let service: PackageService;

function variant(name: string, edit: (manifest: string) => string): string {
  const dir = path.join(scratch, name);
  cpSync(sample, dir, { recursive: true });
  const file = path.join(dir, 'aion.yaml');
  writeFileSync(file, edit(readFileSync(file, 'utf8')));
  return dir;
}

beforeAll(async () => {
  database = await openPglite();
  await migratePglite(
    database,
    [{ folder: path.join(repoRoot, 'apps/module-host/migrations'), prefix: 'mod' }],
    { appRole: 'aion_app' },
  );
  pool = new WorkerPool({ size: 1, maxQueue: 4, maxStdoutBytes: 65536, maxStderrBytes: 65536 });
  runner = new BubblewrapRunner({
    baseDir: path.join(scratch, 'run'),
    gpus: { devices: async () => gpuDevices },
    pool: 'cuda-test',
    maxStdoutBytes: 65536,
  });
  const repository = new PostgresPackageRepository(
    database.db,
    new OutboxWriter(outbox, 'aion/module-host'),
  );
  for (const [tenant, value] of [
    ['t-one', 'one-token'],
    ['t-two', 'two-token'],
  ] as const) {
    mkdirSync(path.join(scratch, 'secrets', tenant), { recursive: true });
    writeFileSync(path.join(scratch, 'secrets', tenant, 'API_TOKEN'), `${value}\n`);
  }
  service = new PackageService(
    repository,
    pool,
    0,
    runner,
    new SecretDirectory(path.join(scratch, 'secrets')),
  );
  await service.install(await readPackageDirectory(sample));
}, 60_000);

afterAll(async () => {
  await pool?.close();
  await runner?.close();
  await database?.close();
  rmSync(scratch, { recursive: true, force: true });
});

test('the native sample runs on CPU and is given no device', async () => {
  const result = await service.invoke({ name: 'device_report', input: { label: 'cpu' } });
  expect(result.output).toEqual({
    label: 'cpu',
    cpus: expect.any(Number),
    devices: [],
    visible: {},
  });
});

test('its input and output are checked against the schemas', async () => {
  await expect(
    service.invoke({ name: 'device_report', input: { surprise: true } }),
  ).rejects.toMatchObject({ code: 'validation.invalid_argument' });
});

test('a package requiring a GPU gets the assigned one named by its vendor variables', async () => {
  await service.install(
    await readPackageDirectory(
      variant('gpu', (m) =>
        m
          .replace('version: 1.0.0', 'version: 1.1.0')
          .replace(
            'accelerator: cpu',
            'accelerator: cuda\n    gpu: { required: true, vendor: nvidia, count: 1, memory: 8Gi }',
          ),
      ),
    ),
  );
  gpuDevices = [
    { vendor: 'nvidia', index: 0, nodes: ['/dev/nvidia0'], memoryBytes: 4 * 2 ** 30 },
    { vendor: 'nvidia', index: 1, nodes: ['/dev/nvidia1'], memoryBytes: 16 * 2 ** 30 },
  ];
  const result = await service.invoke({ name: 'device_report', version: '1.1.0', input: {} });
  // Device 1 is the one with 8 GiB; its node does not exist on this host, so none is bound.
  expect(result.output).toMatchObject({
    visible: { NVIDIA_VISIBLE_DEVICES: '1', CUDA_VISIBLE_DEVICES: '1' },
  });
  expect(runner.devicesInUse()).toEqual({}); // given back when the invocation ended
  gpuDevices = [{ vendor: 'amd', index: 0, nodes: ['/dev/dri/renderD128'] }];
  await expect(
    service.invoke({ name: 'device_report', version: '1.1.0', input: {} }),
  ).rejects.toMatchObject({
    code: 'validation.unprocessable',
    message: expect.stringMatching(/needs 1 nvidia GPU\(s\).*pool cuda-test has 0 free/),
  });
});

test('a host without the subprocess sandbox refuses native packages at install', async () => {
  const wasmOnly = new PackageService(
    new PostgresPackageRepository(database.db, new OutboxWriter(outbox, 'aion/module-host')),
    pool,
    0,
  );
  await expect(
    wasmOnly.install(
      await readPackageDirectory(
        variant('other', (m) => m.replace('version: 1.0.0', 'version: 1.2.0')),
      ),
    ),
  ).rejects.toMatchObject({
    code: 'validation.unprocessable',
    details: [expect.objectContaining({ field: 'runtime.type' })],
  });
});

test('manifest mistakes of a native package are named', async () => {
  for (const [edit, field] of [
    [(m: string) => m.replace('  module: bin/device_report\n', ''), 'runtime.module'],
    [
      (m: string) => m.replace('type: subprocess', 'type: subprocess\n  wasi: true'),
      'runtime.wasi',
    ],
    [
      (m: string) => m.replace('accelerator: cpu', 'gpu: { required: true }'),
      'runtime.resources.gpu.vendor',
    ],
    [(m: string) => m.replace('network: deny', 'network: ["0.0.0.0/0"]'), 'permissions.network'],
    [(m: string) => m.replace('network: deny', 'network: ["example.com"]'), 'permissions.network'],
  ] as const) {
    await expect(
      service.install(await readPackageDirectory(variant(`bad-${field}`, edit))),
    ).rejects.toMatchObject({
      details: expect.arrayContaining([expect.objectContaining({ field })]),
    });
  }
});

test("declared secrets come from the calling tenant's store, and only those", async () => {
  const dir = variant('secrets', (m) =>
    m
      .replace('name: device_report', 'name: secret_report')
      .replace('module: bin/device_report', 'module: bin/secret_report')
      .replace('secrets: []', 'secrets: [API_TOKEN, OTHER_TOKEN?]')
      .replace('intents: [device_report]', 'intents: [secret_report]')
      .replace(/output_schema:[\s\S]*?intents:/, 'output_schema: { type: object }\nintents:'),
  );
  writeFileSync(
    path.join(dir, 'bin', 'secret_report'),
    '#!/bin/sh\ncat >/dev/null\nprintf \'{"token":"%s","other":"%s","env":"%s"}\' "$API_TOKEN" "${OTHER_TOKEN:-unset}" "$(env | cut -d= -f1 | sort | tr "\\n" " ")"\n',
    { mode: 0o755 },
  );
  await service.install(await readPackageDirectory(dir));
  const as = (tenantId: string) =>
    runWithTenant({ tenantId, subject: 'dev', roles: ['developer'], requestId: 'r' }, () =>
      service.invoke({ name: 'secret_report', input: {} }),
    );
  expect((await as('t-one')).output).toMatchObject({ token: 'one-token', other: 'unset' });
  expect((await as('t-two')).output).toMatchObject({ token: 'two-token' });
  // Nothing else of module-host's environment reaches the module.
  expect(((await as('t-one')).output as { env: string }).env.trim().split(' ').sort()).toEqual([
    'API_TOKEN',
    'HOME',
    'PATH',
    'PWD',
  ]);
  await expect(as('t-three')).rejects.toMatchObject({
    code: 'validation.unprocessable',
    message: expect.stringMatching(/secrets this tenant has not set: API_TOKEN/),
  });
  await expect(as('../t-one')).rejects.toMatchObject({ code: 'validation.unprocessable' });
});

test('a native package may list the host:port it reaches; a WebAssembly one may not', async () => {
  const pkg = await service.install(
    await readPackageDirectory(
      variant('net', (m) =>
        m
          .replace('version: 1.0.0', 'version: 1.3.0')
          .replace('network: deny', 'network: ["api.example.com:443", "10.0.0.5:8080"]'),
      ),
    ),
  );
  expect(pkg.manifest.permissions.network).toEqual(['api.example.com:443', '10.0.0.5:8080']);
});

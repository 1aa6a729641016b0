import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fromJson } from '@bufbuild/protobuf';
import { ValueSchema } from '@bufbuild/protobuf/wkt';
import { ModuleService } from '@aion/contracts';
import { InternalTokens } from '@aion/auth';
import { KafkaBus, payloadOf, TOPICS, type IncomingEvent } from '@aion/events';
import { createGrpcClient, type ClientOf } from '@aion/grpc';
import { runWithTenant } from '@aion/tenancy';
import {
  createTestDatabase,
  distributedEnv,
  eventually,
  httpCall as call,
  migrateTestDatabase,
  sampleModule,
  startServiceProcess,
  testBrokers,
  uniqueName,
  type ServiceProcess,
  type TestDatabase,
} from '@aion/testing';
import { freePort } from '@aion/testing/infra/processes';
import { startRegistry } from '@aion/testing/registry';
import {
  FulcioStandIn,
  RekorStandIn,
  signKeyless,
  trustedRootJson,
  type KeylessSigning,
} from '@aion/testing/sigstore-standin';
import { attachBundle, MEDIA_TYPES, parseReference, RegistryClient } from '@aion/supply-chain';

// The module supply chain end to end, every part real: packages pushed and signed with
// `npx aionctl` to Debian's docker-registry, installed with `aionctl module install` on a
// module-host process whose trust policy names the tenant's key; decisions read back from Kafka.
// Keyless signatures need Fulcio and Rekor, which cannot run here (Trillian on MySQL, an OIDC
// issuer): a stand-in CA and log (libs/testing/src/sigstore-standin.ts) make the certificate and
// log entry they would, and module-host checks them with @sigstore/verify as it would real ones.

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const SECRET = 'e2e-supply-chain-secret-0123456789abcdef';
const tokens = new InternalTokens(SECRET, 'e2e');
const admin = { tenantId: 'acme', subject: 'ops', roles: ['admin'], requestId: 'e2e-admin' };
const developer = { tenantId: 'acme', subject: 'dev', roles: ['developer'], requestId: 'e2e-dev' };
const scratch = mkdtempSync(path.join(os.tmpdir(), 'aion-e2e-supply-'));
chmodSync(scratch, 0o755);
const key = path.join(scratch, 'acme');
const KEYLESS_IDENTITY = 'https://ci.acme.test/release@refs/heads/main';
const KEYLESS_ISSUER = 'https://idp.acme.test';
let fulcio: FulcioStandIn;
let rekor: RekorStandIn;

let db: TestDatabase;
let registry: { address: string; stop(): Promise<void> };
let service: ServiceProcess;
let client: ClientOf<typeof ModuleService>;
let bus: KafkaBus;
const audits: IncomingEvent[] = [];

function aionctl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(
      'npx',
      ['--no-install', 'aionctl', ...args],
      {
        cwd: repoRoot,
        timeout: 60_000,
        env: { ...process.env, AION_INTERNAL_TOKEN_SECRET: SECRET },
      },
      (err, stdout, stderr) =>
        resolve({
          code: err ? (typeof err.code === 'number' ? err.code : -1) : 0,
          stdout: stdout.toString(),
          stderr: stderr.toString(),
        }),
    ),
  );
}

const as = <T>(ctx: typeof admin, fn: () => Promise<T>) => runWithTenant(ctx, fn);
const auditOf = (resourceId: string) =>
  audits
    .map((e) => payloadOf(e.envelope, 'audit.recorded'))
    .find((p) => p.resourceId === resourceId);

beforeAll(async () => {
  registry = await startRegistry(scratch, await freePort());
  expect((await aionctl(['key', 'generate', key])).code).toBe(0);
  fulcio = await FulcioStandIn.create();
  rekor = new RekorStandIn();
  writeFileSync(
    path.join(scratch, 'trusted_root.json'),
    JSON.stringify(trustedRootJson([fulcio], [rekor])),
  );
  const trust = path.join(scratch, 'trust.yaml');
  writeFileSync(
    trust,
    `keyless:\n  trusted_root: trusted_root.json\n` +
      `tenants:\n  acme:\n    identities:\n      - {identity_regexp: 'https://ci\\.acme\\.test/.*', issuer: '${KEYLESS_ISSUER}'}\n    keys:\n      - |\n${readFileSync(
        `${key}.pub`,
        'utf8',
      )
        .trim()
        .split('\n')
        .map((l) => `        ${l}`)
        .join('\n')}\n    deny_components: [pkg:npm/event-stream]\n`,
  );
  db = await createTestDatabase('e2esupply');
  migrateTestDatabase(db, ['module-host', 'gateway']);
  bus = new KafkaBus({ brokers: testBrokers(), clientId: uniqueName('e2e-supply') });
  await bus.ensureTopics([TOPICS.auditActivity]);
  await bus.subscribe({
    groupId: uniqueName('supply-audit'),
    topics: [TOPICS.auditActivity],
    fromBeginning: false,
    handler: async (e) => void audits.push(e),
  });
  service = await startServiceProcess('module-host', {
    AION_MODE: 'distributed',
    DATABASE_URL: db.appUrl,
    KAFKA_BROKERS: process.env['KAFKA_BROKERS'],
    AION_INTERNAL_TOKEN_SECRET: SECRET,
    AION_MODULE_HOST_HTTP_PORT: '0',
    AION_MODULE_HOST_GRPC_PORT: '0',
    AION_MODULE_HOST_HOST: '127.0.0.1',
    AION_MODULE_HOST_WORKERS: '1',
    AION_MODULE_HOST_TRUST_POLICY: trust,
    AION_MODULE_HOST_REGISTRIES: registry.address,
    AION_MODULE_HOST_REGISTRY_TIMEOUT_MS: '5000',
    AION_MODULE_HOST_REQUIRE_SIGNED: 'true',
    // No subprocess runtime on this host: its native preload is skipped, the others install.
    AION_MODULE_HOST_SUBPROCESS: 'off',
    AION_MODULE_HOST_PRELOAD: [sampleModule('device_report'), sampleModule('redact_pii')].join(','),
  });
  client = createGrpcClient(ModuleService, `127.0.0.1:${service.grpcPort}`, { tokens });
}, 180_000);

afterAll(async () => {
  client?.close();
  service?.kill('SIGTERM');
  await service?.exited;
  await bus?.close();
  await db?.drop();
  await registry?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

test('a signed package installs with aionctl and runs; an unsigned one is quarantined', async () => {
  const ref = `${registry.address}/acme/summarize_text:1.0.0`;
  expect((await aionctl(['module', 'push', sampleModule('summarize_text'), ref])).code).toBe(0);
  expect((await aionctl(['module', 'sign', ref, '--key', `${key}.key`])).code).toBe(0);
  const installed = await aionctl([
    'module',
    'install',
    ref,
    '--module-host',
    `127.0.0.1:${service.grpcPort}`,
    '--tenant',
    'acme',
    '--json',
  ]);
  expect(installed).toMatchObject({ code: 0 });
  expect(JSON.parse(installed.stdout)).toMatchObject({ installed: true, name: 'summarize_text' });
  const out = await as(developer, () =>
    client.invokeModule({
      name: 'summarize_text',
      input: fromJson(ValueSchema, { text: 'One sentence. Another one here.' }),
    }),
  );
  expect(out.output).toBeDefined();
  await eventually(() => auditOf('summarize_text@1.0.0'), 30_000);
  expect(auditOf('summarize_text@1.0.0')).toMatchObject({
    action: 'modules.install',
    outcome: 'success',
  });

  const unsignedRef = `${registry.address}/acme/classify_intent:1.0.0`;
  expect(
    (await aionctl(['module', 'push', sampleModule('classify_intent'), unsignedRef])).code,
  ).toBe(0);
  const refused = await aionctl([
    'module',
    'install',
    unsignedRef,
    '--module-host',
    `127.0.0.1:${service.grpcPort}`,
    '--tenant',
    'acme',
  ]);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/quarantined.*not signed/);
  await eventually(() => auditOf(unsignedRef), 30_000);
  expect(auditOf(unsignedRef)).toMatchObject({ action: 'modules.install', outcome: 'denied' });

  const listed = await as(admin, () => client.listQuarantinedModules({}));
  expect(listed.modules).toHaveLength(1);
  const entry = listed.modules[0]!;
  expect(entry).toMatchObject({
    reference: unsignedRef,
    reason: 'unsigned',
    name: 'classify_intent',
  });
  await expect(as(developer, () => client.listQuarantinedModules({}))).rejects.toMatchObject({
    code: 'auth.forbidden',
  });
  await expect(
    as({ ...admin, tenantId: 'globex' }, () => client.getQuarantinedModule({ id: entry.id })),
  ).rejects.toMatchObject({ code: 'resource.not_found' });
  const inspected = await as(admin, () => client.getQuarantinedModule({ id: entry.id }));
  expect(inspected.module?.digest).toMatch(/^sha256:/);
  await expect(
    as(developer, () => client.describeModule({ name: 'classify_intent' })),
  ).rejects.toMatchObject({ code: 'resource.not_found' });
  // The same through aionctl, as an operator would.
  const host = ['--module-host', `127.0.0.1:${service.grpcPort}`, '--tenant', 'acme', '--json'];
  const cliList = await aionctl(['module', 'quarantine', 'list', ...host]);
  expect(JSON.parse(cliList.stdout).quarantined).toEqual([
    expect.objectContaining({ id: entry.id, reason: 'unsigned' }),
  ]);
  const cliShow = await aionctl(['module', 'quarantine', 'show', entry.id, ...host]);
  expect(JSON.parse(cliShow.stdout)).toMatchObject({ id: entry.id, reference: unsignedRef });
  expect((await aionctl(['module', 'quarantine', 'delete', entry.id, ...host])).code).toBe(0);
  expect((await aionctl(['module', 'quarantine', 'show', entry.id, ...host])).code).toBe(3);
  expect((await aionctl(['module', 'quarantine', 'show', ...host])).code).toBe(2);
  expect((await as(admin, () => client.listQuarantinedModules({}))).modules).toHaveLength(0);
}, 420_000);

test('with AION_MODULE_HOST_REQUIRE_SIGNED, uploads and paths are refused', async () => {
  await expect(
    as(admin, () =>
      client.installModule({ source: { case: 'tarball', value: new Uint8Array([1, 2, 3]) } }),
    ),
  ).rejects.toMatchObject({
    code: 'auth.forbidden',
    message: expect.stringMatching(/oci_reference/),
  });
  await expect(
    as(admin, () =>
      client.installModule({ source: { case: 'path', value: sampleModule('redact_pii') } }),
    ),
  ).rejects.toMatchObject({ code: 'auth.forbidden' });
});

test('a host without the subprocess runtime skips native preloads and starts', async () => {
  const { modules } = await as(developer, () => client.listModules({}));
  expect(modules.map((m) => m.name)).toContain('redact_pii');
  expect(modules.map((m) => m.name)).not.toContain('device_report');
});

test('through the gateway: an operator installs from the registry and manages the quarantine; a developer reads', async () => {
  const ADMIN_KEY = 'e2e-supply-admin-key-0123456789abcdef0123';
  const gateway = await startServiceProcess('gateway', {
    ...distributedEnv(db, SECRET),
    AION_GATEWAY_HTTP_PORT: '0',
    AION_GATEWAY_GRPC_PORT: '0',
    AION_GATEWAY_OPS_PORT: '0',
    AION_GATEWAY_HOST: '127.0.0.1',
    AION_BOOTSTRAP_ADMIN_KEY: ADMIN_KEY,
    AION_BOOTSTRAP_TENANT: 'acme',
    AION_GATEWAY_MODULE_HOST_ADDRESS: `127.0.0.1:${service.grpcPort}`,
  });
  try {
    const base = `http://127.0.0.1:${gateway.httpPort}`;
    const signed = `${registry.address}/acme/gateway/classify_intent:1.0.0`;
    expect((await aionctl(['module', 'push', sampleModule('classify_intent'), signed])).code).toBe(
      0,
    );
    expect((await aionctl(['module', 'sign', signed, '--key', `${key}.key`])).code).toBe(0);
    const installed = await call(base, 'POST', '/api/v1/modules', {
      key: ADMIN_KEY,
      body: { oci_reference: signed },
    });
    expect(installed.status).toBe(201);
    expect(installed.json).toMatchObject({
      name: 'classify_intent',
      version: '1.0.0',
      runtime: 'wasm',
      digest_sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    const dev = await call(base, 'POST', '/api/v1/auth/keys', {
      key: ADMIN_KEY,
      body: { name: 'dev', role: 'developer' },
    });
    const devKey = dev.json['key'] as string;
    const listed = await call(base, 'GET', '/api/v1/modules?limit=200', { key: devKey });
    expect((listed.json['data'] as { name: string }[]).map((m) => m.name)).toContain(
      'classify_intent',
    );
    const one = await call(base, 'GET', '/api/v1/modules/classify_intent?version=1.0.0', {
      key: devKey,
    });
    expect(one.json).toMatchObject({ name: 'classify_intent', manifest: expect.any(Object) });
    // A developer may read, not install.
    const forbidden = await call(base, 'POST', '/api/v1/modules', {
      key: devKey,
      body: { oci_reference: signed },
    });
    expect(forbidden).toMatchObject({ status: 403, json: { error_code: 'auth.forbidden' } });

    // Unsigned: 422 naming the reason and the quarantine entry, which the operator inspects and deletes.
    const unsigned = `${registry.address}/acme/gateway/unsigned:1.0.0`;
    expect((await aionctl(['module', 'push', sampleModule('summarize_text'), unsigned])).code).toBe(
      0,
    );
    const refused = await call(base, 'POST', '/api/v1/modules', {
      key: ADMIN_KEY,
      body: { oci_reference: unsigned },
    });
    expect(refused.status).toBe(422);
    expect(refused.json).toMatchObject({
      error_code: 'validation.unprocessable',
      details: expect.arrayContaining([{ field: 'reason', message: 'unsigned' }]),
    });
    const quarantineId = (refused.json['details'] as { field: string; message: string }[]).find(
      (d) => d.field === 'quarantine_id',
    )!.message;
    const quarantined = await call(base, 'GET', `/api/v1/quarantined-modules/${quarantineId}`, {
      key: ADMIN_KEY,
    });
    expect(quarantined.json).toMatchObject({ reference: unsigned, reason: 'unsigned' });
    const devList = await call(base, 'GET', '/api/v1/quarantined-modules', { key: devKey });
    expect(devList.status).toBe(403);
    const removed = await call(base, 'DELETE', `/api/v1/quarantined-modules/${quarantineId}`, {
      key: ADMIN_KEY,
    });
    expect(removed.status).toBe(204);
    const gone = await call(base, 'GET', `/api/v1/quarantined-modules/${quarantineId}`, {
      key: ADMIN_KEY,
    });
    expect(gone.status).toBe(404);

    // Bad input never reaches module-host.
    const bad = await call(base, 'POST', '/api/v1/modules', {
      key: ADMIN_KEY,
      body: { oci_reference: 'not a reference' },
    });
    expect(bad).toMatchObject({ status: 400, json: { error_code: 'validation.invalid_argument' } });
    const badName = await call(base, 'GET', '/api/v1/modules/..%2Fetc', { key: devKey });
    expect(badName.status).toBe(400);
  } finally {
    gateway.kill('SIGTERM');
    await gateway.exited;
  }
}, 180_000);

/** Pushes a sample package and signs it (and its SBOM) keyless, as `cosign sign` would. */
async function pushKeyless(
  module: string,
  ref: string,
  // `rekor: undefined` signs without a transparency-log entry.
  signing: Omit<KeylessSigning, 'fulcio' | 'rekor'> & { rekor?: undefined },
): Promise<void> {
  expect((await aionctl(['module', 'push', sampleModule(module), ref])).code).toBe(0);
  const registryClient = new RegistryClient({ timeoutMs: 5000 });
  const parsed = parseReference(ref);
  const { digest } = await registryClient.fetchManifestBytes(parsed, parsed.reference);
  const sboms = (await registryClient.referrers(parsed, digest)).filter(
    (d) => d.artifactType === MEDIA_TYPES.cyclonedx,
  );
  for (const target of [digest, ...sboms.map((d) => d.digest)])
    await attachBundle(registryClient, parsed, target, (bytes) =>
      signKeyless(bytes, { fulcio, rekor, ...signing }),
    );
}

test('keyless: a package signed by a trusted identity installs and runs; another identity is quarantined', async () => {
  // summarize_text is installed by the first test: make room for the keyless-signed one.
  await as(admin, () => client.uninstallModule({ name: 'summarize_text', version: '1.0.0' }));
  const host = ['--module-host', `127.0.0.1:${service.grpcPort}`, '--tenant', 'acme'];
  const ref = `${registry.address}/acme/keyless/summarize_text:1.0.0`;
  await pushKeyless('summarize_text', ref, {
    identity: KEYLESS_IDENTITY,
    issuer: KEYLESS_ISSUER,
  });
  const installed = await aionctl(['module', 'install', ref, ...host, '--json']);
  expect(installed).toMatchObject({ code: 0 });
  expect(JSON.parse(installed.stdout)).toMatchObject({ installed: true, name: 'summarize_text' });
  const out = await as(developer, () =>
    client.invokeModule({
      name: 'summarize_text',
      input: fromJson(ValueSchema, { text: 'Signed without a key. Verified all the same.' }),
    }),
  );
  expect(out.output).toBeDefined();

  const strangerRef = `${registry.address}/acme/keyless/classify_intent:2.0.0`;
  await pushKeyless('classify_intent', strangerRef, {
    identity: 'https://ci.evil.test/release@refs/heads/main',
    issuer: KEYLESS_ISSUER,
  });
  const refused = await aionctl(['module', 'install', strangerRef, ...host]);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/quarantined.*not a trusted identity/);
  const unlogged = `${registry.address}/acme/keyless/classify_intent:3.0.0`;
  await pushKeyless('classify_intent', unlogged, {
    identity: KEYLESS_IDENTITY,
    issuer: KEYLESS_ISSUER,
    rekor: undefined,
  });
  expect((await aionctl(['module', 'install', unlogged, ...host])).code).toBe(1);
  const reasons = (await as(admin, () => client.listQuarantinedModules({}))).modules.map((m) => [
    m.reference,
    m.reason,
  ]);
  expect(reasons).toEqual(
    expect.arrayContaining([
      [strangerRef, 'untrusted_identity'],
      [unlogged, 'tlog_missing'],
    ]),
  );
  await eventually(() => auditOf(strangerRef), 30_000);
  expect(auditOf(strangerRef)).toMatchObject({
    action: 'modules.install',
    outcome: 'denied',
    details: expect.objectContaining({ reason: 'untrusted_identity' }),
  });
}, 300_000);

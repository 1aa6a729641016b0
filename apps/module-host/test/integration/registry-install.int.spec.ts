import {
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  mkdtempSync,
  statSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { parse as parseYaml } from 'yaml';
import { migratePglite, openPglite, withTenant, type Database } from '@aion/db';
import { AionError } from '@aion/errors';
import { OutboxWriter } from '@aion/events';
import {
  attachBundle,
  attachSbom,
  attachSignature,
  buildSbom,
  generateSigningKey,
  MEDIA_TYPES,
  packLayer,
  parseReference,
  pushPackage,
  RegistryClient,
  signBundle,
  type SbomComponent,
} from '@aion/supply-chain';
import { runWithTenant } from '@aion/tenancy';
import { freePort } from '@aion/testing/infra/processes';
import { startRegistry } from '@aion/testing/registry';
import {
  FulcioStandIn,
  RekorStandIn,
  signKeyless,
  trustedRootJson,
  type KeylessSigning,
} from '@aion/testing/sigstore-standin';
import { PostgresPackageRepository } from '../../src/adapters/db/package-repository';
import { PostgresQuarantineRepository } from '../../src/adapters/db/quarantine-repository';
import { outbox } from '../../src/adapters/db/schema';
import {
  readPackageDirectory,
  readPackageTarball,
} from '../../src/adapters/packages/package-reader';
import { OciPackageRegistry } from '../../src/adapters/registry/oci-registry';
import { trustPoliciesFromFile } from '../../src/adapters/registry/trust-file';
import { WorkerPool } from '../../src/adapters/sandbox/worker-pool';
import { PackageService } from '../../src/core/package-service';
import { RegistryInstaller } from '../../src/core/registry-install';

// Every package here is pushed to, and pulled from, a real registry: Debian's docker-registry
// (the CNCF distribution server) on loopback. Only the misbehaving registries at the end are
// stand-ins (a server answering garbage or nothing), since no real registry can be made to.
// Keyless signatures come from a stand-in Fulcio CA and Rekor log (the real ones need Trillian on
// MySQL and an OIDC issuer), checked by the real @sigstore/verify path.

const repoRoot = path.resolve(__dirname, '..', '..', '..', '..');
const sample = path.join(repoRoot, 'tools', 'modules', 'summarize_text');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'aion-oci-'));
const TENANT = 'tenant-supply';
const OTHER = 'tenant-other';
const trusted = generateSigningKey();
const stranger = generateSigningKey();
const client = new RegistryClient({ timeoutMs: 5000 });
const KEYLESS = { identity: 'release@acme.test', issuer: 'https://idp.acme.test' };
let fulcio: FulcioStandIn;
let rekor: RekorStandIn;
const as = <T>(tenantId: string, fn: () => Promise<T>) =>
  runWithTenant({ tenantId, subject: 'ops@test', roles: ['admin'], requestId: 'r' }, fn);

let registry: { address: string; stop(): Promise<void> };
let database: Database;
let pool: WorkerPool;
let packages: PackageService;
let installer: RegistryInstaller;

function files(dir: string, base = dir): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? files(full, base) : [path.relative(base, full)];
  });
}

/** The sample package, renamed to `version` so each case is its own package version. */
async function publish(
  tag: string,
  options: {
    sign?: string | null;
    /** Signed keyless instead (the package and its SBOM), with these overrides. */
    keyless?: Partial<KeylessSigning>;
    sbom?: 'signed' | 'unsigned' | 'none';
    components?: SbomComponent[];
  } = {},
) {
  const signer = (key: string, digest: string) =>
    options.keyless
      ? attachBundle(client, ref, digest, (bytes) =>
          signKeyless(bytes, { fulcio, rekor, ...KEYLESS, ...options.keyless }),
        )
      : attachSignature(client, ref, digest, key);
  const version = `1.0.${tag.replace(/\D/g, '') || '0'}`;
  const dir = mkdtempSync(path.join(scratch, 'pkg-'));
  for (const file of files(sample)) {
    const target = path.join(dir, file);
    mkdirSync(path.dirname(target), { recursive: true });
    const content = readFileSync(path.join(sample, file));
    writeFileSync(
      target,
      file === 'aion.yaml'
        ? content.toString().replace(/version: .*/, `version: ${version}`)
        : content,
    );
  }
  const raw = await readPackageDirectory(dir);
  const manifest = parseYaml(Buffer.from(raw.files.get('aion.yaml')!).toString()) as {
    metadata: { name: string };
  };
  const ref = parseReference(`${registry.address}/modules/summarize_text:${tag}`);
  const layer = await packLayer(dir, [...raw.files.keys()]);
  const pushed = await pushPackage(
    client,
    ref,
    { name: manifest.metadata.name, version, manifest },
    layer,
  );
  const key = options.sign === undefined ? trusted.privateKeyPem : options.sign;
  if (key) await signer(key, pushed.digest);
  if ((options.sbom ?? 'signed') !== 'none') {
    const sbom = await attachSbom(
      client,
      ref,
      pushed.descriptor,
      buildSbom(manifest.metadata.name, version, raw.files, options.components),
    );
    if ((options.sbom ?? 'signed') === 'signed') await signer(trusted.privateKeyPem, sbom.digest);
  }
  return {
    ref,
    digest: pushed.digest,
    version,
    reference: `${registry.address}/modules/summarize_text@${pushed.digest}`,
  };
}

async function auditRecords(tenantId: string): Promise<string[]> {
  const rows = await withTenant(database.db, tenantId, (tx) =>
    tx.execute(sql`select key from mod_outbox where event_type = 'audit.recorded' order by seq`),
  );
  return (rows as unknown as { rows: { key: string }[] }).rows.map((r) => r.key);
}

async function refusal(reference: string): Promise<{ reason: string; quarantineId: string }> {
  const error = await as(TENANT, () => installer.install(reference)).then(
    () => {
      throw new Error(`${reference} was installed`);
    },
    (err: unknown) => err as AionError,
  );
  expect(error).toBeInstanceOf(AionError);
  expect(error.code).toBe('validation.unprocessable');
  const reason = error.details?.find((d) => d.field === 'reason')?.message ?? '';
  const quarantineId = error.details?.find((d) => d.field === 'quarantine_id')?.message ?? '';
  return { reason, quarantineId };
}

beforeAll(async () => {
  registry = await startRegistry(scratch, await freePort());
  database = await openPglite();
  await migratePglite(
    database,
    [{ folder: path.join(repoRoot, 'apps/module-host/migrations'), prefix: 'mod' }],
    { appRole: 'aion_app' },
  );
  pool = new WorkerPool({ size: 1, maxQueue: 4, maxStdoutBytes: 65536, maxStderrBytes: 65536 });
  const writer = new OutboxWriter(outbox, 'aion/module-host');
  packages = new PackageService(new PostgresPackageRepository(database.db, writer), pool, 0);
  fulcio = await FulcioStandIn.create();
  rekor = new RekorStandIn();
  writeFileSync(
    path.join(scratch, 'root.json'),
    JSON.stringify(trustedRootJson([fulcio], [rekor])),
  );
  const trustFile = path.join(scratch, 'trust.yaml');
  writeFileSync(
    trustFile,
    `keyless: {trusted_root: root.json}\n` +
      `tenants:\n  ${TENANT}:\n    identities: [{identity: ${KEYLESS.identity}, issuer: '${KEYLESS.issuer}'}]\n    keys:\n      - |\n${trusted.publicKeyPem
        .trim()
        .split('\n')
        .map((l) => `        ${l}`)
        .join('\n')}\n    deny_components: ["openssl@1.0.1", "pkg:npm/event-stream"]\n`,
  );
  installer = new RegistryInstaller(
    packages,
    new OciPackageRegistry({ timeoutMs: 5000, maxBlobBytes: 64 << 20 }),
    trustPoliciesFromFile(trustFile),
    new PostgresQuarantineRepository(database.db, writer),
    readPackageTarball,
    [registry.address],
  );
}, 60_000);

afterAll(async () => {
  await pool?.close();
  await database?.close();
  await registry?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

test('a package signed by a trusted key with a signed SBOM installs by digest and runs', async () => {
  const pkg = await publish('v1');
  const installed = await as(TENANT, () => installer.install(pkg.reference));
  expect(installed).toMatchObject({ name: 'summarize_text', version: pkg.version });
  const out = await as(TENANT, () =>
    packages.invoke({
      name: 'summarize_text',
      version: pkg.version,
      input: { text: 'One. Two sentences here. Three.' },
    }),
  );
  expect(out.output).toBeDefined();
  expect(await auditRecords(TENANT)).toContain(`summarize_text@${pkg.version}`);
});

test('a package pulled by tag installs the digest the tag names', async () => {
  const pkg = await publish('v2');
  const installed = await as(TENANT, () =>
    installer.install(`${registry.address}/modules/summarize_text:v2`),
  );
  expect(installed.version).toBe(pkg.version);
});

// Each case its own version (tag r2N -> 1.0.2N), so no two share a digest and its referrers.
test.each([
  ['unsigned', 'r21', { sign: null }],
  ['untrusted_key', 'r22', { sign: stranger.privateKeyPem }],
  ['sbom_missing', 'r23', { sbom: 'none' as const }],
  ['sbom_invalid', 'r24', { sbom: 'unsigned' as const }],
  [
    'component_denied',
    'r25',
    { components: [{ type: 'library', name: 'openssl', version: '1.0.1' }] },
  ],
])('refused and quarantined: %s', async (reason, tag, options) => {
  const pkg = await publish(tag, options);
  const refused = await refusal(pkg.reference);
  expect(refused.reason).toBe(reason);
  // Not installed: nothing of it can run.
  await expect(
    as(TENANT, () => packages.describe('summarize_text', pkg.version)),
  ).rejects.toMatchObject({ code: 'resource.not_found' });
  const entry = await as(TENANT, () => installer.inspectQuarantined(refused.quarantineId));
  expect(entry).toMatchObject({ reason, digest: pkg.digest, version: pkg.version });
  expect(await auditRecords(TENANT)).toContain(pkg.reference);
});

test('a package signed keyless by a trusted identity installs and runs', async () => {
  const pkg = await publish('k40', { keyless: {} }); // 1.0.40: no other case's version
  const installed = await as(TENANT, () => installer.install(pkg.reference));
  expect(installed).toMatchObject({ name: 'summarize_text', version: pkg.version });
  const out = await as(TENANT, () =>
    packages.invoke({ name: 'summarize_text', version: pkg.version, input: { text: 'Keyless.' } }),
  );
  expect(out.output).toBeDefined();
});

// Keyless refusals, each its own version (tag r3N -> 1.0.3N).
test.each([
  ['untrusted_identity', 'r31', () => ({ identity: 'mallory@evil.test' })],
  ['untrusted_identity', 'r32', () => ({ issuer: 'https://idp.evil.test' })],
  ['untrusted_ca', 'r33', async () => ({ fulcio: await FulcioStandIn.create('fulcio.evil') })],
  ['tlog_missing', 'r34', () => ({ rekor: undefined })],
  // A log claiming the trusted log's id, its SET and checkpoint signed by a key the root lacks.
  ['tlog_invalid', 'r35', () => ({ rekor: new RekorStandIn(rekor) })],
  ['certificate_expired', 'r36', () => ({ integratedAt: new Date(Date.now() + 3_600_000) })],
])('keyless refused and quarantined: %s (%s)', async (reason, tag, overrides) => {
  const pkg = await publish(tag, { keyless: await overrides() });
  const refused = await refusal(pkg.reference);
  expect(refused.reason).toBe(reason);
  await expect(
    as(TENANT, () => packages.describe('summarize_text', pkg.version)),
  ).rejects.toMatchObject({ code: 'resource.not_found' });
  const entry = await as(TENANT, () => installer.inspectQuarantined(refused.quarantineId));
  expect(entry).toMatchObject({ reason, digest: pkg.digest, version: pkg.version });
  expect(await auditRecords(TENANT)).toContain(pkg.reference);
});

test('a bundle naming the trusted key over other bytes is an invalid signature', async () => {
  const pkg = await publish('v7', { sign: null });
  const forged = signBundle(new TextEncoder().encode('something else'), trusted.privateKeyPem);
  const { bytes } = await client.fetchManifestBytes(pkg.ref, pkg.digest);
  await client.pushReferrer(
    pkg.ref,
    { mediaType: MEDIA_TYPES.manifest, digest: pkg.digest, size: bytes.byteLength },
    MEDIA_TYPES.sigstoreBundle,
    new TextEncoder().encode(JSON.stringify(forged)),
  );
  expect((await refusal(pkg.reference)).reason).toBe('invalid_signature');
});

test('a layer changed in the registry storage is tampered and refused', async () => {
  const pkg = await publish('v8');
  const { manifest } = await client.fetchManifest(pkg.ref, pkg.digest);
  const hex = manifest.layers[0]!.digest.slice('sha256:'.length);
  const data = path.join(
    scratch,
    'data/docker/registry/v2/blobs/sha256',
    hex.slice(0, 2),
    hex,
    'data',
  );
  const bytes = readFileSync(data);
  bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
  writeFileSync(data, bytes);
  expect((await refusal(pkg.reference)).reason).toBe('tampered');
});

test('quarantine is listed per tenant, and deleting an entry is audited', async () => {
  const pkg = await publish('v9', { sign: null });
  const { quarantineId } = await refusal(pkg.reference);
  const mine = await as(TENANT, () => installer.listQuarantine({ limit: 100, offset: 0 }));
  expect(mine.items.map((e) => e.id)).toContain(quarantineId);
  const theirs = await as(OTHER, () => installer.listQuarantine({ limit: 100, offset: 0 }));
  expect(theirs.total).toBe(0);
  await expect(as(OTHER, () => installer.deleteQuarantined(quarantineId))).rejects.toMatchObject({
    code: 'resource.not_found',
  });
  await as(TENANT, () => installer.deleteQuarantined(quarantineId));
  await expect(as(TENANT, () => installer.inspectQuarantined(quarantineId))).rejects.toMatchObject({
    code: 'resource.not_found',
  });
  expect(await auditRecords(TENANT)).toContain(quarantineId);
});

test('a tenant with no trusted key installs nothing from a registry', async () => {
  const pkg = await publish('v10');
  await expect(as(OTHER, () => installer.install(pkg.reference))).rejects.toMatchObject({
    code: 'validation.unprocessable',
  });
  expect((await as(OTHER, () => installer.listQuarantine({ limit: 10, offset: 0 }))).total).toBe(1);
});

describe('misbehaving registries (stand-in servers: no real registry answers like this)', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    server = createServer((req, res) => {
      if (req.url?.includes('/hang/')) return; // never answers
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('<<not json>>');
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test('garbage and silence are clear errors; nothing is installed or quarantined', async () => {
    const slow = new RegistryInstaller(
      packages,
      new OciPackageRegistry({ timeoutMs: 500, maxBlobBytes: 1 << 20 }),
      { forTenant: () => ({ keys: new Map(), denyComponents: [] }) },
      new PostgresQuarantineRepository(database.db, new OutboxWriter(outbox, 'aion/module-host')),
      readPackageTarball,
      [`127.0.0.1:${port}`],
    );
    const before = (await as(TENANT, () => slow.listQuarantine({ limit: 1, offset: 0 }))).total;
    await expect(
      as(TENANT, () => slow.install(`127.0.0.1:${port}/garbage/pkg:v1`)),
    ).rejects.toMatchObject({
      code: 'validation.unprocessable',
      message: expect.stringMatching(/not JSON/),
    });
    await expect(
      as(TENANT, () => slow.install(`127.0.0.1:${port}/hang/pkg:v1`)),
    ).rejects.toMatchObject({
      code: 'service.unavailable',
      message: expect.stringMatching(/500 ms/),
    });
    await expect(as(TENANT, () => slow.install('not a reference'))).rejects.toMatchObject({
      code: 'validation.invalid_argument',
    });
    expect((await as(TENANT, () => slow.listQuarantine({ limit: 1, offset: 0 }))).total).toBe(
      before,
    );
  });

  test('a registry not listed in AION_MODULE_HOST_REGISTRIES is refused without being contacted', async () => {
    let contacted = 0;
    server.on('request', () => (contacted += 1));
    const strict = new RegistryInstaller(
      packages,
      new OciPackageRegistry({ timeoutMs: 500, maxBlobBytes: 1 << 20 }),
      { forTenant: () => ({ keys: new Map(), denyComponents: [] }) },
      new PostgresQuarantineRepository(database.db, new OutboxWriter(outbox, 'aion/module-host')),
      readPackageTarball,
      [registry.address],
    );
    await expect(
      as(TENANT, () => strict.install(`127.0.0.1:${port}/garbage/pkg:v1`)),
    ).rejects.toMatchObject({
      code: 'auth.forbidden',
      message: expect.stringMatching(/is not one this module host installs from/),
    });
    const none = new RegistryInstaller(
      packages,
      new OciPackageRegistry({ timeoutMs: 500, maxBlobBytes: 1 << 20 }),
      { forTenant: () => ({ keys: new Map(), denyComponents: [] }) },
      new PostgresQuarantineRepository(database.db, new OutboxWriter(outbox, 'aion/module-host')),
      readPackageTarball,
      [],
    );
    await expect(
      as(TENANT, () => none.install(`${registry.address}/modules/summarize_text:v2`)),
    ).rejects.toMatchObject({
      message: expect.stringMatching(/AION_MODULE_HOST_REGISTRIES: none/),
    });
    expect(contacted).toBe(0);
  });
});

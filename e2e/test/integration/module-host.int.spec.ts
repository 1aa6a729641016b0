import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fromJson, toJson } from '@bufbuild/protobuf';
import { ValueSchema } from '@bufbuild/protobuf/wkt';
import { create as createTar } from 'tar';
import { ModuleService } from '@aion/contracts';
import { InternalTokens } from '@aion/auth';
import { KafkaBus, payloadOf, TOPICS, type IncomingEvent } from '@aion/events';
import { createGrpcClient, type ClientOf } from '@aion/grpc';
import { runWithTenant } from '@aion/tenancy';
import {
  createTestDatabase,
  eventually,
  migrateTestDatabase,
  SAMPLE_MODULES_DIR,
  sampleModule,
  startServiceProcess,
  testBrokers,
  uniqueName,
  type ServiceProcess,
  type TestDatabase,
} from '@aion/testing';

const SECRET = 'e2e-module-host-secret-0123456789abcdef';
const tokens = new InternalTokens(SECRET, 'e2e');
const admin = { tenantId: 'acme', subject: 'ops', roles: ['admin'], requestId: 'e2e-admin' };
const developer = { tenantId: 'acme', subject: 'dev', roles: ['developer'], requestId: 'e2e-dev' };

let db: TestDatabase;
let service: ServiceProcess;
let client: ClientOf<typeof ModuleService>;
const scratch = mkdtempSync(path.join(os.tmpdir(), 'aion-e2e-mod-'));
const audits: IncomingEvent[] = [];
let bus: KafkaBus;

beforeAll(async () => {
  db = await createTestDatabase('e2emod');
  migrateTestDatabase(db, ['module-host']);
  bus = new KafkaBus({ brokers: testBrokers(), clientId: uniqueName('e2e-audit') });
  await bus.ensureTopics([TOPICS.auditActivity]);
  await bus.subscribe({
    groupId: uniqueName('audit-reader'),
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
    AION_MODULE_HOST_WORKERS: '2',
    AION_MODULE_HOST_PACKAGE_ROOTS: SAMPLE_MODULES_DIR,
    AION_MODULE_HOST_PRELOAD: ['summarize_text', 'redact_pii', 'classify_intent']
      .map(sampleModule)
      .join(','),
  });
  client = createGrpcClient(ModuleService, `127.0.0.1:${service.grpcPort}`, { tokens });
}, 120_000);

afterAll(async () => {
  client?.close();
  service?.kill('SIGTERM');
  await service?.exited;
  await bus?.close();
  await db?.drop();
  rmSync(scratch, { recursive: true, force: true });
});

const as = <T>(ctx: typeof admin, fn: () => Promise<T>) => runWithTenant(ctx, fn);

describe('module-host over gRPC, as its own process', () => {
  it('lists the preloaded sample packages with paging', async () => {
    const first = await as(developer, () => client.listModules({ page: { pageSize: 2 } }));
    expect(first.modules.map((m) => m.name)).toEqual(['classify_intent', 'redact_pii']);
    expect(first.page?.totalSize).toBe(3n);
    const second = await as(developer, () =>
      client.listModules({ page: { pageSize: 2, pageToken: first.page!.nextPageToken } }),
    );
    expect(second.modules.map((m) => m.name)).toEqual(['summarize_text']);
    expect(second.page?.nextPageToken).toBe('');
    await expect(
      as(developer, () => client.listModules({ page: { pageToken: 'garbage' } })),
    ).rejects.toMatchObject({ code: 'validation.invalid_argument' });
  });

  it('invokes a module and streams its partial results', async () => {
    const text =
      'Aion keeps data in its jurisdiction. It names the rule behind every routing decision. Lunch was good. Budgets cap what each tenant spends.';
    const input = fromJson(ValueSchema, { text, max_sentences: 2 });
    const unary = await as(developer, () => client.invokeModule({ name: 'summarize_text', input }));
    const output = toJson(ValueSchema, unary.output!) as { sentences: string[] };
    expect(output.sentences).toHaveLength(2);
    const events: string[] = [];
    await as(developer, async () => {
      for await (const message of client.invokeModuleStream({ name: 'summarize_text', input }))
        events.push(message.event.case ?? 'none');
    });
    expect(events).toEqual(['partial', 'partial', 'done']);
    const bad = fromJson(ValueSchema, { text: 42 });
    await expect(
      as(developer, () => client.invokeModule({ name: 'summarize_text', input: bad })),
    ).rejects.toMatchObject({ code: 'validation.invalid_argument', httpStatus: 400 });
    await expect(
      as(developer, () => client.invokeModule({ name: 'nope', input })),
    ).rejects.toMatchObject({ code: 'resource.not_found' });
  });

  it('installs an uploaded package for admins only, audits it on Kafka, and uninstalls it', async () => {
    const dir = path.join(scratch, 'classify');
    cpSync(sampleModule('classify_intent'), dir, { recursive: true });
    writeFileSync(
      path.join(dir, 'aion.yaml'),
      readFileSync(path.join(dir, 'aion.yaml'), 'utf8').replace('version: 1.0.0', 'version: 1.1.0'),
    );
    const tarball = path.join(scratch, 'classify.tgz');
    await createTar({ gzip: true, file: tarball, cwd: dir, portable: true }, [
      'aion.yaml',
      'build',
    ]);
    const bytes = readFileSync(tarball);
    await expect(
      as(developer, () => client.installModule({ source: { case: 'tarball', value: bytes } })),
    ).rejects.toMatchObject({ code: 'auth.forbidden' });
    const installed = await as(admin, () =>
      client.installModule({ source: { case: 'tarball', value: bytes } }),
    );
    expect(installed.module?.version).toBe('1.1.0');
    const described = await as(developer, () => client.describeModule({ name: 'classify_intent' }));
    expect(described.module?.version).toBe('1.1.0');
    await eventually(
      () =>
        audits.find(
          (e) => payloadOf(e.envelope, 'audit.recorded').resourceId === 'classify_intent@1.1.0',
        ),
      30_000,
    );
    const audit = payloadOf(
      audits.find(
        (e) => payloadOf(e.envelope, 'audit.recorded').resourceId === 'classify_intent@1.1.0',
      )!.envelope,
      'audit.recorded',
    );
    expect(audit).toMatchObject({ action: 'modules.install', actor: 'ops', outcome: 'success' });
    await as(admin, () => client.uninstallModule({ name: 'classify_intent', version: '1.1.0' }));
    expect(
      (await as(developer, () => client.describeModule({ name: 'classify_intent' }))).module
        ?.version,
    ).toBe('1.0.0');
  });

  it('refuses path installs outside the package roots and bad requests', async () => {
    await expect(
      as(admin, () => client.installModule({ source: { case: 'path', value: '/etc' } })),
    ).rejects.toMatchObject({ code: 'auth.forbidden' });
    await expect(as(admin, () => client.installModule({}))).rejects.toMatchObject({
      code: 'validation.invalid_argument',
    });
    await expect(
      as(admin, () =>
        client.installModule({ source: { case: 'tarball', value: Buffer.from('nope') } }),
      ),
    ).rejects.toMatchObject({ code: 'validation.invalid_argument' });
    await expect(
      as(admin, () =>
        client.installModule({ source: { case: 'path', value: sampleModule('redact_pii') } }),
      ),
    ).rejects.toMatchObject({ code: 'state.conflict' });
  });
});

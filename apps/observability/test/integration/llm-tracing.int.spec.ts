import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InternalTokens } from '@aion/auth';
import {
  ClassificationTier,
  DataClassification,
  ObservabilityService,
  ResidencyAction,
  SovereignService,
} from '@aion/contracts';
import { decodeEnvelope, payloadOf } from '@aion/events';
import { createGrpcClient, type ClientOf } from '@aion/grpc';
import { migratePostgres } from '@aion/db';
import { runWithTenant } from '@aion/tenancy';
import {
  createTestDatabase,
  distributedEnv,
  eventually,
  migrateTestDatabase,
  onLoopback,
  startServiceProcess,
  uniqueName,
  type ServiceProcess,
  type TestDatabase,
} from '@aion/testing';
import { migratedDatabase, SECRET } from './running-observability';

const migrations = path.resolve(__dirname, '..', '..', 'migrations');

// Per-tenant LLM tracing settings (obs_llm_tracing, RLS) and the decision the orchestrator asks
// for each traced call, with residency decided by a real sovereign-ai process and the Langfuse
// secret keys held by reference in a directory of files (as a mounted Kubernetes Secret lays
// them out), never in the database. Langfuse itself is not involved here (its server needs
// ClickHouse and cannot run here; the exporter's tests use a stand-in of its ingestion API):
// this decides whether, where to, with which key and masked or not.

let db: TestDatabase;
let sovereign: ServiceProcess;
let obs: ServiceProcess;
let asOrchestrator: ClientOf<typeof ObservabilityService>;
let asGateway: ClientOf<typeof ObservabilityService>;
const tenant = uniqueName('llmtrace');
const other = uniqueName('llmtrace-other');
const secretsDir = mkdtempSync(path.join(os.tmpdir(), 'obs-llm-secrets-'));
const SECRET_KEY = `sk-lf-${uniqueName('acme')}`;
const OTHER_SECRET_KEY = `sk-lf-${uniqueName('other')}`;
const principal = (tenantId: string, role: string) => ({
  tenantId,
  subject: `${role}-of-${tenantId}`,
  roles: [role],
  requestId: uniqueName('r'),
});
const as = <T>(
  tenantId: string,
  role: string,
  fn: (c: ClientOf<typeof ObservabilityService>) => Promise<T>,
) => runWithTenant(principal(tenantId, role), () => fn(asGateway));

beforeAll(async () => {
  // The operator's Secret: each tenant's key under <tenant_id>.<name>.
  writeFileSync(path.join(secretsDir, `${tenant}.langfuse`), `${SECRET_KEY}\n`);
  writeFileSync(path.join(secretsDir, `${other}.langfuse`), OTHER_SECRET_KEY);
  db = await migratedDatabase('obsllm');
  migrateTestDatabase(db, ['sovereign-ai']);
  sovereign = await startServiceProcess('sovereign-ai', {
    ...distributedEnv(db, SECRET),
    ...onLoopback('AION_SOVEREIGN_'),
    AION_SOVEREIGN_CACHE_GROUP_PREFIX: uniqueName('sov-cache'),
  });
  const tokens = new InternalTokens(SECRET, 'gateway');
  const rules = createGrpcClient(SovereignService, `127.0.0.1:${sovereign.grpcPort}`, { tokens });
  // The tenant's rule: EU data is processed in the EU only.
  await runWithTenant(principal(tenant, 'admin'), () =>
    rules.createResidencyRule({
      rule: {
        dataJurisdiction: 'EU',
        tier: ClassificationTier.ALL,
        action: ResidencyAction.ALLOW,
        targetJurisdictions: ['EU'],
        priority: 1,
      },
    }),
  );
  rules.close();
  // Its own process, logging everything it would: the secret key must not be in any of it.
  obs = await startServiceProcess('observability', {
    ...distributedEnv(db, SECRET),
    ...onLoopback('AION_OBSERVABILITY_'),
    LOG_LEVEL: 'debug',
    AION_OBSERVABILITY_SOVEREIGN_ADDRESS: `127.0.0.1:${sovereign.grpcPort}`,
    AION_OBSERVABILITY_SECRETS_DIR: secretsDir,
    // Bounds the wait on a stopped sovereign-ai.
    AION_OBSERVABILITY_UPSTREAM_TIMEOUT_MS: '2000',
  });
  const address = `127.0.0.1:${obs.grpcPort}`;
  asOrchestrator = createGrpcClient(ObservabilityService, address, {
    tokens: new InternalTokens(SECRET, 'orchestrator'),
  });
  asGateway = createGrpcClient(ObservabilityService, address, { tokens });
}, 120_000);

afterAll(async () => {
  asOrchestrator?.close();
  asGateway?.close();
  for (const p of [obs, sovereign]) {
    p?.kill('SIGTERM');
    await p?.exited;
  }
  await db?.drop();
  rmSync(secretsDir, { recursive: true, force: true });
});

const decide = (tenantId: string, jurisdiction: string, classification: DataClassification) =>
  runWithTenant(principal(tenantId, 'developer'), () =>
    asOrchestrator.decideLlmTrace({ dataContext: { jurisdiction, classification } }),
  );

const eu = {
  enabled: true,
  langfuseUrl: 'https://langfuse.de.example',
  langfuseJurisdiction: 'DE',
  publicKey: 'pk-lf-acme',
  secretKeyRef: 'langfuse',
  unmaskedClassifications: [DataClassification.NONE],
};

describe('LLM tracing settings per tenant', () => {
  it('are off until the tenant enables them, and then trace only its own calls', async () => {
    const off = await as(tenant, 'observer', (c) => c.getLlmTracingSettings({}));
    expect(off.settings).toMatchObject({ enabled: false, secretKeyRef: '', secretKeySet: false });
    expect(off.settings!.unmaskedClassifications).toEqual([DataClassification.NONE]);
    expect(await decide(tenant, 'DE', DataClassification.NONE)).toMatchObject({
      send: false,
      reason: 'tenant has not opted in',
    });

    const { settings } = await as(tenant, 'admin', (c) =>
      c.updateLlmTracingSettings({ settings: eu }),
    );
    // The key is named, and shown only as present.
    expect(settings).toMatchObject({
      enabled: true,
      secretKey: '',
      secretKeyRef: 'langfuse',
      secretKeySet: true,
    });
    expect(await decide(tenant, 'DE', DataClassification.NONE)).toMatchObject({
      send: true,
      mask: false,
      langfuseUrl: 'https://langfuse.de.example',
      publicKey: 'pk-lf-acme',
      secretKey: SECRET_KEY,
    });
    // The change is an llm_tracing.updated event (through the outbox), without the secret key.
    const rows = await eventually(async () => {
      const found = await db.queryAsOwner<{ value: Buffer }>(
        `select value from obs_outbox where event_type = 'llm_tracing.updated' and key = $1`,
        [tenant],
      );
      return found.length > 0 ? found : undefined;
    }, 10_000);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.value.toString('latin1')).not.toContain(SECRET_KEY);
    const event = decodeEnvelope(rows[0]!.value);
    expect(event.tenantId).toBe(tenant);
    expect(payloadOf(event, 'llm_tracing.updated').settings).toMatchObject({
      enabled: true,
      langfuseUrl: 'https://langfuse.de.example',
      secretKey: '',
      secretKeyRef: 'langfuse',
      secretKeySet: true,
    });
    // Row-level security: another tenant sees its own (absent) settings and is not traced.
    const theirs = await as(other, 'admin', (c) => c.getLlmTracingSettings({}));
    expect(theirs.settings).toMatchObject({ enabled: false, langfuseUrl: '' });
    expect(await decide(other, 'DE', DataClassification.NONE)).toMatchObject({ send: false });
  });

  it("gives each tenant its own key for the same name, and never another tenant's", async () => {
    await as(other, 'admin', (c) => c.updateLlmTracingSettings({ settings: eu }));
    expect(await decide(other, 'DE', DataClassification.NONE)).toMatchObject({
      send: true,
      secretKey: OTHER_SECRET_KEY,
    });
    // A name climbing out of its tenant's files is refused before anything is read.
    for (const secretKeyRef of [`../${tenant}.langfuse`, `.${tenant}.langfuse`, '/etc/passwd'])
      await expect(
        as(other, 'admin', (c) =>
          c.updateLlmTracingSettings({ settings: { ...eu, secretKeyRef } }),
        ),
      ).rejects.toMatchObject({
        code: 'validation.invalid_argument',
        details: [expect.objectContaining({ field: 'secret_key_ref', reason: 'invalid' })],
      });
    // A name only the other tenant's files have is not found for this one.
    writeFileSync(path.join(secretsDir, `${tenant}.only-mine`), 'sk-lf-only-mine');
    await expect(
      as(other, 'admin', (c) =>
        c.updateLlmTracingSettings({ settings: { ...eu, secretKeyRef: 'only-mine' } }),
      ),
    ).rejects.toMatchObject({
      code: 'resource.not_found',
      details: [expect.objectContaining({ field: 'secret_key_ref', reason: 'not_found' })],
    });
    expect(await decide(other, 'DE', DataClassification.NONE)).toMatchObject({
      secretKey: OTHER_SECRET_KEY,
    });
  });

  it('takes a rotated key at once and sends nothing once the key is gone', async () => {
    const file = path.join(secretsDir, `${other}.langfuse`);
    writeFileSync(file, 'sk-lf-rotated');
    expect(await decide(other, 'DE', DataClassification.NONE)).toMatchObject({
      secretKey: 'sk-lf-rotated',
    });
    rmSync(file);
    expect(await decide(other, 'DE', DataClassification.NONE)).toEqual(
      expect.objectContaining({
        send: false,
        secretKey: '',
        reason: "secret key langfuse is not in the deployment's secrets",
      }),
    );
    expect(
      (await as(other, 'observer', (c) => c.getLlmTracingSettings({}))).settings,
    ).toMatchObject({ enabled: true, secretKeySet: false });
  });

  it('masks prompts and completions of every classification the tenant did not unmask', async () => {
    expect(await decide(tenant, 'DE', DataClassification.HEALTH)).toMatchObject({
      send: true,
      mask: true,
    });
    await as(tenant, 'admin', (c) =>
      c.updateLlmTracingSettings({
        settings: { ...eu, unmaskedClassifications: [DataClassification.PII] },
      }),
    );
    expect(await decide(tenant, 'DE', DataClassification.PII)).toMatchObject({
      send: true,
      mask: false,
      secretKey: SECRET_KEY,
    });
    expect(await decide(tenant, 'DE', DataClassification.NONE)).toMatchObject({ mask: true });
  });

  it('sends nothing to a deployment outside the jurisdiction sovereign-ai allows for the data', async () => {
    await as(tenant, 'admin', (c) =>
      c.updateLlmTracingSettings({
        settings: {
          ...eu,
          langfuseUrl: 'https://langfuse.us.example',
          langfuseJurisdiction: 'US',
        },
      }),
    );
    const refused = await decide(tenant, 'DE', DataClassification.NONE);
    expect(refused).toMatchObject({ send: false, langfuseUrl: '', secretKey: '' });
    expect(refused.reason).toMatch(/^data of DE may not go to US \(rule [0-9a-f-]{36}\)$/);
    // Data no rule restricts may go there.
    expect(await decide(tenant, 'BR', DataClassification.NONE)).toMatchObject({ send: true });
  });

  it('refuses bad settings with every problem listed, and writes only with observability:manage', async () => {
    await expect(
      as(tenant, 'admin', (c) =>
        c.updateLlmTracingSettings({
          settings: { enabled: true, langfuseUrl: 'not a url', langfuseJurisdiction: 'XX' },
        }),
      ),
    ).rejects.toMatchObject({
      code: 'validation.invalid_argument',
      details: expect.arrayContaining([
        expect.objectContaining({ field: 'langfuse_url' }),
        expect.objectContaining({ field: 'langfuse_jurisdiction' }),
        expect.objectContaining({ field: 'public_key' }),
        expect.objectContaining({ field: 'secret_key_ref' }),
      ]),
    });
    // A key in clear is no longer taken (nor echoed in the refusal).
    const refused = await as(tenant, 'admin', (c) =>
      c.updateLlmTracingSettings({ settings: { ...eu, secretKey: 'sk-lf-in-clear' } }),
    ).catch((e: unknown) => e);
    expect(refused).toMatchObject({
      code: 'validation.invalid_argument',
      details: [expect.objectContaining({ field: 'settings.secret_key' })],
    });
    expect(JSON.stringify(refused)).not.toContain('sk-lf-in-clear');
    await expect(
      as(tenant, 'developer', (c) => c.updateLlmTracingSettings({ settings: eu })),
    ).rejects.toMatchObject({ code: 'auth.forbidden' });
  });

  it('gives decisions (which carry the secret key) to the orchestrator only', async () => {
    await expect(
      runWithTenant(principal(tenant, 'admin'), () =>
        asGateway.decideLlmTrace({
          dataContext: { jurisdiction: 'DE', classification: DataClassification.NONE },
        }),
      ),
    ).rejects.toMatchObject({ code: 'auth.forbidden' });
    await expect(
      runWithTenant(principal(tenant, 'developer'), () =>
        asOrchestrator.decideLlmTrace({ dataContext: { jurisdiction: 'DE' } }),
      ),
    ).rejects.toMatchObject({ code: 'validation.invalid_argument' });
  });

  it('never holds a secret key in the database, its events or its logs', async () => {
    const dump = await db.queryAsOwner<{ row: string }>(
      `select t::text as row from obs_llm_tracing t`,
    );
    expect(dump.length).toBeGreaterThanOrEqual(2);
    const outbox = await db.queryAsOwner<{ value: Buffer }>(`select value from obs_outbox`);
    const columns = await db.queryAsOwner<{ column_name: string }>(
      `select column_name from information_schema.columns where table_name = 'obs_llm_tracing'`,
    );
    expect(columns.map((c) => c.column_name)).not.toContain('secret_key');
    // What it logged of the calls above: each change, and each key found missing.
    const messages = obs.logs.map((l) => l['message']);
    expect(messages).toContain('LLM tracing settings updated');
    expect(obs.logs).toContainEqual(
      expect.objectContaining({
        message: "LLM trace not sent: the tenant's Langfuse secret key is missing",
        tenant_id: other,
        secret_key_ref: 'langfuse',
      }),
    );
    const everything = [
      JSON.stringify(dump),
      ...outbox.map((r) => r.value.toString('latin1')),
      JSON.stringify(obs.logs),
      JSON.stringify(sovereign.logs),
    ].join('\n');
    for (const key of [SECRET_KEY, OTHER_SECRET_KEY, 'sk-lf-rotated', 'sk-lf-in-clear'])
      expect(everything).not.toContain(key);
  });

  it('sends nothing when sovereign-ai cannot decide', async () => {
    await as(tenant, 'admin', (c) => c.updateLlmTracingSettings({ settings: eu }));
    // Gone at once (no graceful drain): the decision must not wait for it.
    sovereign.kill('SIGKILL');
    await sovereign.exited;
    const started = Date.now();
    const d = await decide(tenant, 'DE', DataClassification.NONE);
    expect(d).toMatchObject({ send: false, secretKey: '' });
    expect(d.reason).toMatch(/^residency undecided/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('upgrading from keys stored in clear (migration 0007)', () => {
  it("clears every stored key and names the tenant's key where the operator puts it", async () => {
    const old = await createTestDatabase('obsllmup');
    const folder = mkdtempSync(path.join(os.tmpdir(), 'obs-migrations-'));
    try {
      // The migrations as they were before 0007.
      cpSync(migrations, folder, { recursive: true });
      rmSync(path.join(folder, '0007_llm_tracing_secret_refs.sql'));
      const journal = path.join(folder, 'meta', '_journal.json');
      const entries = JSON.parse(readFileSync(journal, 'utf8')) as { entries: { idx: number }[] };
      entries.entries = entries.entries.filter((e) => e.idx < 7);
      writeFileSync(journal, JSON.stringify(entries));
      await migratePostgres(old.ownerUrl, { folder, prefix: 'obs' }, { appRole: old.appRole });
      await old.queryAsOwner(
        `insert into obs_llm_tracing (tenant_id, enabled, langfuse_url, langfuse_jurisdiction,
           public_key, secret_key, masked_classifications)
         values ('had-a-key', true, 'https://langfuse.de.example', 'DE', 'pk', 'sk-lf-old-clear', '{pii}'),
                ('had-none', false, '', '', '', '', '{pii}')`,
      );
      await migratePostgres(
        old.ownerUrl,
        { folder: migrations, prefix: 'obs' },
        { appRole: old.appRole },
      );
      const rows = await old.queryAsOwner<{ tenant_id: string; enabled: boolean; ref: string }>(
        `select tenant_id, enabled, secret_key_ref as ref from obs_llm_tracing order by tenant_id`,
      );
      expect(rows).toEqual([
        { tenant_id: 'had-a-key', enabled: true, ref: 'langfuse-secret-key' },
        { tenant_id: 'had-none', enabled: false, ref: '' },
      ]);
      const all = await old.queryAsOwner<{ row: string }>(
        `select t::text as row from obs_llm_tracing t`,
      );
      expect(JSON.stringify(all)).not.toContain('sk-lf-old-clear');
    } finally {
      rmSync(folder, { recursive: true, force: true });
      await old.drop();
    }
  });
});

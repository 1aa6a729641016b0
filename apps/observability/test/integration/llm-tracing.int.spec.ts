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
import { runWithTenant } from '@aion/tenancy';
import {
  distributedEnv,
  eventually,
  migrateTestDatabase,
  onLoopback,
  startServiceProcess,
  uniqueName,
  type ServiceProcess,
  type TestDatabase,
} from '@aion/testing';
import { migratedDatabase, SECRET, startObservability } from './running-observability';

// Per-tenant LLM tracing settings (obs_llm_tracing, RLS) and the decision the orchestrator asks
// for each traced call, with residency decided by a real sovereign-ai process. Langfuse itself
// is not involved here (its server needs ClickHouse and cannot run here; the exporter's tests
// use a stand-in of its ingestion API): this decides whether, where to and masked or not.

let db: TestDatabase;
let sovereign: ServiceProcess;
let obs: Awaited<ReturnType<typeof startObservability>>;
let asOrchestrator: ClientOf<typeof ObservabilityService>;
let asGateway: ClientOf<typeof ObservabilityService>;
const tenant = uniqueName('llmtrace');
const other = uniqueName('llmtrace-other');
const principal = (tenantId: string, role: string) => ({
  tenantId,
  subject: `${role}-of-${tenantId}`,
  roles: [role],
  requestId: uniqueName('r'),
});

beforeAll(async () => {
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
  obs = await startObservability(db, {
    AION_OBSERVABILITY_SOVEREIGN_ADDRESS: `127.0.0.1:${sovereign.grpcPort}`,
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
  await obs?.stop();
  sovereign?.kill('SIGTERM');
  await sovereign?.exited;
  await db?.drop();
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
  secretKey: 'sk-lf-acme',
  unmaskedClassifications: [DataClassification.NONE],
};

describe('LLM tracing settings per tenant', () => {
  it('are off until the tenant enables them, and then trace only its own calls', async () => {
    const off = await obs.as(tenant, 'observer', (c) => c.getLlmTracingSettings({}));
    expect(off.settings).toMatchObject({ enabled: false, secretKeySet: false });
    expect(off.settings!.unmaskedClassifications).toEqual([DataClassification.NONE]);
    expect(await decide(tenant, 'DE', DataClassification.NONE)).toMatchObject({
      send: false,
      reason: 'tenant has not opted in',
    });

    const { settings } = await obs.as(tenant, 'admin', (c) =>
      c.updateLlmTracingSettings({ settings: eu }),
    );
    // The secret key is stored, never read back.
    expect(settings).toMatchObject({ enabled: true, secretKey: '', secretKeySet: true });
    expect(await decide(tenant, 'DE', DataClassification.NONE)).toMatchObject({
      send: true,
      mask: false,
      langfuseUrl: 'https://langfuse.de.example',
      publicKey: 'pk-lf-acme',
      secretKey: 'sk-lf-acme',
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
    expect(rows[0]!.value.toString('latin1')).not.toContain('sk-lf-acme');
    const event = decodeEnvelope(rows[0]!.value);
    expect(event.tenantId).toBe(tenant);
    expect(payloadOf(event, 'llm_tracing.updated').settings).toMatchObject({
      enabled: true,
      langfuseUrl: 'https://langfuse.de.example',
      secretKey: '',
      secretKeySet: true,
    });
    // Row-level security: another tenant sees its own (absent) settings and is not traced.
    const theirs = await obs.as(other, 'admin', (c) => c.getLlmTracingSettings({}));
    expect(theirs.settings).toMatchObject({ enabled: false, langfuseUrl: '' });
    expect(await decide(other, 'DE', DataClassification.NONE)).toMatchObject({ send: false });
  });

  it('masks prompts and completions of every classification the tenant did not unmask', async () => {
    expect(await decide(tenant, 'DE', DataClassification.HEALTH)).toMatchObject({
      send: true,
      mask: true,
    });
    await obs.as(tenant, 'admin', (c) =>
      c.updateLlmTracingSettings({
        // An empty secret keeps the stored one.
        settings: { ...eu, secretKey: '', unmaskedClassifications: [DataClassification.PII] },
      }),
    );
    expect(await decide(tenant, 'DE', DataClassification.PII)).toMatchObject({
      send: true,
      mask: false,
      secretKey: 'sk-lf-acme',
    });
    expect(await decide(tenant, 'DE', DataClassification.NONE)).toMatchObject({ mask: true });
  });

  it('sends nothing to a deployment outside the jurisdiction sovereign-ai allows for the data', async () => {
    await obs.as(tenant, 'admin', (c) =>
      c.updateLlmTracingSettings({
        settings: {
          ...eu,
          secretKey: '',
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
      obs.as(tenant, 'admin', (c) =>
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
      ]),
    });
    const fresh = uniqueName('llmtrace-new');
    await expect(
      obs.as(fresh, 'admin', (c) =>
        c.updateLlmTracingSettings({ settings: { ...eu, secretKey: '' } }),
      ),
    ).rejects.toMatchObject({
      code: 'validation.invalid_argument',
      details: [expect.objectContaining({ field: 'secret_key' })],
    });
    await expect(
      obs.as(tenant, 'developer', (c) => c.updateLlmTracingSettings({ settings: eu })),
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

  it('sends nothing when sovereign-ai cannot decide', async () => {
    await obs.as(tenant, 'admin', (c) =>
      c.updateLlmTracingSettings({ settings: { ...eu, secretKey: '' } }),
    );
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

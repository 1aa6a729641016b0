import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type JSONWebKeySet } from 'jose';
import { parseAllDocuments } from 'yaml';
import { InternalTokens } from '@aion/auth';
import { SovereignService } from '@aion/contracts';
import { KafkaBus, payloadOf, TOPICS, type IncomingEvent } from '@aion/events';
import { createGrpcClient } from '@aion/grpc';
import { verifyReceipt } from '@aion/receipts';
import { runWithTenant } from '@aion/tenancy';
import {
  eventually,
  httpCall,
  startOpenAiTestServer,
  startPlatform,
  testBrokers,
  uniqueName,
  testIdentityProvider,
  type OpenAiTestServer,
  type Platform,
} from '@aion/testing';

// Sovereignty end to end: gateway, orchestrator, sovereign-ai and module-host as separate
// processes on PostgreSQL and Kafka; model providers are local OpenAI-compatible test servers
// (stand-ins for third-party APIs, which cannot run here), one "in the US", one "in the EU".

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const idp = testIdentityProvider();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'aion-e2e-sov-'));
const manifestsDir = path.join(scratch, 'manifests');
const MAX_RULES = 5;

let platform: Platform;
let usUpstream: OpenAiTestServer;
let euUpstream: OpenAiTestServer;
let bus: KafkaBus;
const events: IncomingEvent[] = [];
let gateway: string;

const tenantA = uniqueName('sov-a');
const tenantB = uniqueName('sov-b');
const token = (tenantId: string, role: string) =>
  idp.sign({ subject: `${role}-of-${tenantId}`, tenantId, roles: [role], expiresIn: '30m' });
let adminA: string;
let operatorA: string;
let devA: string;
let adminB: string;

const call = (method: string, url: string, key: string, body?: unknown, headers = {}) =>
  httpCall(gateway, method, url, { key, headers, ...(body === undefined ? {} : { body }) });
const chat = (jurisdiction: string, classification: string, content = 'Hello from Berlin') => ({
  intent: 'chat',
  params: { messages: [{ role: 'user', content }] },
  sla: { privacy: 'allow-api' },
  data_context: { jurisdiction, classification },
});
const eventsOf = (tenant: string, type?: string) =>
  events.filter(
    (e) => e.envelope.tenantId === tenant && (type === undefined || e.envelope.type === type),
  );

beforeAll(async () => {
  usUpstream = await startOpenAiTestServer({ reply: 'answered in the US' });
  euUpstream = await startOpenAiTestServer({ reply: 'answered in the EU' });
  bus = new KafkaBus({ brokers: testBrokers(), clientId: uniqueName('e2e-sov') });
  const topics = [
    TOPICS.sovereignResidency,
    TOPICS.sovereignDeployment,
    TOPICS.sovereignRouting,
    TOPICS.sovereignCompliance,
    TOPICS.sovereignRegistry,
    TOPICS.auditActivity,
  ];
  await bus.ensureTopics(topics);
  await bus.subscribe({
    groupId: uniqueName('sov-events'),
    topics,
    fromBeginning: false,
    handler: async (e) => void events.push(e),
  });
  platform = await startPlatform({
    database: 'e2esov',
    engines: `engines:
  - { name: us-llm, tier: cloud-standard, kind: openai-compatible, endpoint: "${usUpstream.url}", models: [test-model], intents: [chat], jurisdiction: US, region: us-east, price_per_1k_tokens: { input: 0.0001, output: 0.0001 } }
  - { name: eu-llm, tier: cloud-standard, kind: openai-compatible, endpoint: "${euUpstream.url}", models: [test-model], intents: [chat], jurisdiction: EU, region: eu-central, price_per_1k_tokens: { input: 0.001, output: 0.002 } }
`,
    sovereignAi: {
      AION_SOVEREIGN_K8S_MODE: 'render',
      AION_SOVEREIGN_MANIFESTS_DIR: manifestsDir,
      AION_SOVEREIGN_MAX_RESIDENCY_RULES_PER_TENANT: String(MAX_RULES),
    },
    gateways: [
      {
        AION_BOOTSTRAP_ADMIN_KEY: 'e2e-sovereign-bootstrap-key-0123456789ab',
        AION_GATEWAY_RATE_LIMIT_KEY_BURST: '100000',
        AION_GATEWAY_RATE_LIMIT_KEY_PER_MINUTE: '100000',
        AION_GATEWAY_RATE_LIMIT_IP_PER_MINUTE: '100000',
        ...idp.gatewayEnv,
      },
    ],
  });
  gateway = `http://127.0.0.1:${platform.gateways[0]!.httpPort}`;
  [adminA, operatorA, devA, adminB] = await Promise.all([
    token(tenantA, 'admin'),
    token(tenantA, 'operator'),
    token(tenantA, 'developer'),
    token(tenantB, 'admin'),
  ]);
}, 240_000);

afterAll(async () => {
  await platform?.stop();
  await Promise.all([usUpstream?.close(), euUpstream?.close(), bus?.close()]);
  rmSync(scratch, { recursive: true, force: true });
});

describe('sovereignty end to end through the gateway', () => {
  let deRule: string;

  it('keeps German PII in the EU: it never reaches the (cheaper) US engine, and says which rule', async () => {
    // Without a rule the cheaper US engine answers.
    const before = await call('POST', '/v1/tasks', devA, chat('DE', 'pii'), { prefer: 'wait=10' });
    expect(before.json['engine']['name']).toBe('us-llm');
    const created = await call('POST', '/api/v1/sovereign/residency/rules', adminA, {
      data_jurisdiction: 'DE',
      tier: 'pii',
      action: 'allow',
      target_jurisdictions: ['EU'],
      priority: 10,
      description: 'German personal data stays in the EU',
    });
    expect(created.status).toBe(201);
    deRule = created.json['id'];
    // The orchestrator's cached answer is cleared by the rule_created event: probe with neutral
    // text until the rule is in force (the event's delivery time), then send the personal data.
    await eventually(async () => {
      const r = await call('POST', '/v1/tasks', devA, chat('DE', 'pii', 'probe'), {
        prefer: 'wait=10',
      });
      return r.json['engine']?.['name'] === 'eu-llm' ? r : undefined;
    }, 5_000);
    const routed = await call(
      'POST',
      '/v1/tasks',
      devA,
      chat('DE', 'pii', 'Meine Adresse ist geheim'),
      {
        prefer: 'wait=10',
      },
    );
    expect(routed.json['engine']['name']).toBe('eu-llm');
    expect(routed.json['status']).toBe('OK');
    expect(routed.json['engine']['reason']).toContain(`residency rule ${deRule} (allows EU)`);
    const reachedUs = usUpstream.requests.some((r) =>
      JSON.stringify(r.body).includes('Meine Adresse ist geheim'),
    );
    expect(reachedUs).toBe(false);
    expect(
      euUpstream.requests.some((r) => JSON.stringify(r.body).includes('Meine Adresse ist geheim')),
    ).toBe(true);
    // Other tenants are not bound by tenant A's rule.
    const other = await call('POST', '/v1/tasks', adminB, chat('DE', 'pii'), { prefer: 'wait=10' });
    expect(other.json['engine']['name']).toBe('us-llm');
  });

  it('refuses a task no allowed engine may serve with 403 naming the rule, and publishes residency.violation', async () => {
    const rule = await call('POST', '/api/v1/sovereign/residency/rules', adminA, {
      data_jurisdiction: 'DE',
      tier: 'health',
      action: 'require_local',
      priority: 5,
    });
    expect(rule.status).toBe(201);
    const refused = await eventually(async () => {
      const r = await call('POST', '/v1/tasks', devA, chat('DE', 'health'), { prefer: 'wait=10' });
      return r.status === 403 ? r : undefined;
    }, 5_000);
    expect(refused.json).toMatchObject({
      error_code: 'sovereign.residency_violation',
      details: [expect.objectContaining({ field: 'task_id' })],
    });
    expect(refused.json['message']).toContain(`rule ${rule.json['id']}`);
    const taskId = refused.json['details'][0]['message'];
    const violation = await eventually(() =>
      eventsOf(tenantA, 'residency.violation').find(
        (e) => payloadOf(e.envelope, 'residency.violation').taskId === taskId,
      ),
    );
    const payload = payloadOf(violation.envelope, 'residency.violation');
    expect(payload.decidedByRule).toBe(rule.json['id']);
    expect(payload.attemptedJurisdictions.sort()).toEqual(['EU', 'US']);
    // The service counts the violation the orchestrator reported.
    await eventually(async () => {
      const status = await call('GET', '/api/v1/sovereign/residency/status', devA);
      return status.json['violations_last_24h'] >= 1 ? status : undefined;
    });
    // The enforce API answers the same question directly.
    const enforced = await call('POST', '/api/v1/sovereign/residency/enforce', devA, {
      data_context: { jurisdiction: 'DE', classification: 'pii' },
      candidate_jurisdictions: ['US', 'FR'],
    });
    expect(enforced.json).toMatchObject({
      allowed: true,
      allowed_jurisdictions: ['FR'],
      decided_by_rule: deRule,
      action: 'allow',
    });
  });

  it('issues a signed receipt that verifies with the published keys, and fails when anything is altered', async () => {
    const task = await call('POST', '/v1/tasks', devA, chat('DE', 'pii', 'receipt please'), {
      prefer: 'wait=10',
    });
    expect(task.json['engine']['name']).toBe('eu-llm');
    const { json } = await call('GET', `/v1/tasks/${task.json['task_id']}/receipt`, devA);
    const keys = await fetch(`${gateway}/.well-known/aion-receipt-keys`);
    expect(keys.status).toBe(200);
    const jwks = (await keys.json()) as JSONWebKeySet;
    const receipt = await verifyReceipt(json['jws'], jwks, JSON.stringify(json['receipt']));
    expect(receipt).toMatchObject({
      task_id: task.json['task_id'],
      tenant_id: tenantA,
      data: { jurisdiction: 'DE', classification: 'pii' },
      processed_in: { jurisdiction: 'EU', engine: 'eu-llm', region: 'eu-central' },
      model: { id: 'test-model' },
      allowed_by_rule: deRule,
    });
    expect(receipt.input_sha256).toMatch(/^[0-9a-f]{64}$/);
    // The same receipt on every read.
    const again = await call('GET', `/v1/tasks/${task.json['task_id']}/receipt`, devA);
    expect(again.json['jws']).toBe(json['jws']);
    const tampered = {
      ...json['receipt'],
      processed_in: { ...json['receipt'].processed_in, jurisdiction: 'DE' },
    };
    await expect(verifyReceipt(json['jws'], jwks, JSON.stringify(tampered))).rejects.toThrow(
      /differs/,
    );
    const [header, , signature] = (json['jws'] as string).split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify(tampered)).toString('base64url')}.${signature}`;
    await expect(verifyReceipt(forged, jwks)).rejects.toThrow(/does not verify/);
    // The documented command verifies it offline and refuses the tampered copy.
    const verify = (document: unknown) => {
      const file = path.join(scratch, `${uniqueName('receipt')}.json`);
      writeFileSync(file, JSON.stringify(document));
      return spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          'tools/aionctl/verify-receipt.ts',
          file,
          '--jwks',
          `${gateway}/.well-known/aion-receipt-keys`,
        ],
        { cwd: repoRoot, encoding: 'utf8' },
      );
    };
    const good = verify(json);
    expect(good.status).toBe(0);
    expect(good.stdout).toContain(`VALID: task ${task.json['task_id']}`);
    const bad = verify({ ...json, receipt: tampered });
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain('INVALID: the receipt differs from what was signed');
    const usage = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'tools/aionctl/verify-receipt.ts', 'missing.json'],
      {
        cwd: repoRoot,
        encoding: 'utf8',
      },
    );
    expect([usage.status, usage.stderr]).toEqual([
      2,
      expect.stringContaining('usage: verify-receipt'),
    ]);
    // Another tenant cannot read it.
    expect((await call('GET', `/v1/tasks/${task.json['task_id']}/receipt`, adminB)).status).toBe(
      404,
    );
  });

  it('governs models: only admins decide, illegal moves are refused, a revocation takes effect within a second', async () => {
    const registered = await call('POST', '/api/v1/sovereign/registry/models', devA, {
      model_ref: 'test-model',
      version: '2025-01',
      jurisdiction: 'US',
    });
    expect(registered.status).toBe(201);
    expect(registered.json['status']).toBe('PENDING');
    const id = registered.json['id'];
    for (const caller of [devA, operatorA])
      expect(
        (await call('POST', `/api/v1/sovereign/registry/models/${id}/approve`, caller, {})).status,
      ).toBe(403);
    const approved = await call('POST', `/api/v1/sovereign/registry/models/${id}/approve`, adminA, {
      reason: 'reviewed',
    });
    expect(approved.json).toMatchObject({
      status: 'APPROVED',
      decided_by: `admin-of-${tenantA}`,
    });
    const illegal = await call(
      'POST',
      `/api/v1/sovereign/registry/models/${id}/reject`,
      adminA,
      {},
    );
    expect(illegal.status).toBe(409);
    expect(illegal.json['error_code']).toBe('state.conflict');
    // US data goes to the US engine under the approval (and the orchestrator caches that answer).
    const warm = await call('POST', '/v1/tasks', devA, chat('US', 'none'), { prefer: 'wait=10' });
    expect(warm.json['engine']['name']).toBe('us-llm');
    const revokedAt = Date.now();
    const revoked = await call('POST', `/api/v1/sovereign/registry/models/${id}/revoke`, adminA, {
      reason: 'export control',
    });
    expect(revoked.json['status']).toBe('REVOKED');
    const moved = await eventually(
      async () => {
        const r = await call('POST', '/v1/tasks', devA, chat('US', 'none'), { prefer: 'wait=10' });
        return r.json['engine']?.['name'] === 'eu-llm' ? r : undefined;
      },
      5_000,
      20,
    );
    const tookMs = Date.now() - revokedAt;
    expect(tookMs).toBeLessThan(1_000);
    expect(moved.json['engine']['reason']).toContain('1 excluded');
    await eventually(() => (eventsOf(tenantA, 'model.revoked').length ? true : undefined));
    const types = eventsOf(tenantA)
      .filter((e) => e.topic === TOPICS.sovereignRegistry)
      .map((e) => e.envelope.type);
    expect(types.slice(0, 2)).toEqual(['model.registered', 'model.approved']);
    const change = payloadOf(eventsOf(tenantA, 'model.revoked')[0]!.envelope, 'model.revoked');
    expect(change).toMatchObject({ actor: `admin-of-${tenantA}`, reason: 'export control' });
    // Every decision is on the audit trail too, with who made it.
    const audited = await eventually(() =>
      eventsOf(tenantA, 'audit.recorded')
        .map((e) => payloadOf(e.envelope, 'audit.recorded'))
        .find((a) => a.action === 'model.revoked' && a.resourceId === id),
    );
    expect(audited).toMatchObject({ actor: `admin-of-${tenantA}`, outcome: 'success' });
    expect(
      eventsOf(tenantA, 'audit.recorded').some(
        (e) => payloadOf(e.envelope, 'audit.recorded').action === 'model.approved',
      ),
    ).toBe(true);
  });

  it('routes to regional deployments: strict fails without an active one, preferred falls back and says so', async () => {
    const model = await call('POST', '/api/v1/sovereign/registry/models', operatorA, {
      model_ref: 'llama-3.1-8b',
      jurisdiction: 'EU',
    });
    // Two-person rule: the principal that registered a model may not approve it.
    await call('POST', `/api/v1/sovereign/registry/models/${model.json['id']}/approve`, adminA, {});
    const refused = await call('POST', '/api/v1/sovereign/deploy/regional', adminA, {
      jurisdiction: 'US',
      region: 'us-east-1',
      model_id: 'llama-3.1-8b',
      image: 'registry.local/vllm:0.6.3',
    });
    expect(refused.status).toBe(403);
    expect(refused.json['error_code']).toBe('sovereign.model_not_approved');
    const deployed = await call('POST', '/api/v1/sovereign/deploy/regional', adminA, {
      jurisdiction: 'DE',
      region: 'eu-central-1',
      model_id: 'llama-3.1-8b',
      image: 'registry.local/vllm:0.6.3',
      replicas: 2,
    });
    expect(deployed.status).toBe(202);
    expect(deployed.json['deployment']).toMatchObject({
      status: 'DEPLOYING',
      mode: 'render',
      namespace: 'aion-sovereign-de-eu-central-1',
    });
    const docs = parseAllDocuments(deployed.json['manifests']);
    expect(docs.map((d) => (d.toJS() as { kind: string }).kind)).toEqual([
      'Namespace',
      'Deployment',
      'Service',
    ]);
    expect(docs.every((d) => d.errors.length === 0)).toBe(true);
    const file = path.join(manifestsDir, 'aion-sovereign-de-eu-central-1');
    expect(existsSync(file)).toBe(true);

    const strict = await call('POST', '/api/v1/sovereign/routing/policies', adminA, {
      name: 'de-only',
      strategy: 'strict',
      primary_jurisdiction: 'DE',
    });
    const route = (policy: string) =>
      call('POST', '/api/v1/sovereign/route', devA, {
        data_context: { jurisdiction: 'DE', classification: 'pii' },
        model_id: 'llama-3.1-8b',
        routing_policy_id: policy,
        task_id: uniqueName('route'),
      });
    const none = await route(strict.json['id']);
    expect(none.status).toBe(409);
    expect(none.json['error_code']).toBe('sovereign.no_compliant_deployment');
    expect(none.json['message']).toContain(
      'policy de-only is strict and its primary DE has no compliant active deployment',
    );
    expect(none.json['details'][0]['message']).toContain('is DEPLOYING');

    // The GitOps side reports the rollout.
    const active = await call(
      'POST',
      `/api/v1/sovereign/deployments/${deployed.json['deployment'].id}/status`,
      adminA,
      { status: 'ACTIVE', reason: 'argo synced' },
    );
    expect(active.json['status']).toBe('ACTIVE');
    expect((await route(strict.json['id'])).json).toMatchObject({
      used_fallback: false,
      decided_by_rule: deRule,
    });

    const preferred = await call('POST', '/api/v1/sovereign/routing/policies', adminA, {
      name: 'france-first',
      strategy: 'preferred',
      primary_jurisdiction: 'FR',
      secondary_jurisdictions: ['DE'],
    });
    const fellBack = await route(preferred.json['id']);
    expect(fellBack.json).toMatchObject({
      used_fallback: true,
      deployment: { jurisdiction: 'DE' },
    });
    expect(fellBack.json['reason']).toContain(
      'primary FR has no compliant active deployment, fell back to DE',
    );
    const decision = await eventually(() =>
      eventsOf(tenantA, 'routing.decision').find(
        (e) => payloadOf(e.envelope, 'routing.decision').usedFallback,
      ),
    );
    expect(payloadOf(decision.envelope, 'routing.decision').decidedByRule).toBe(deRule);
    const regions = await call('GET', '/api/v1/sovereign/regions?jurisdiction=DE', devA);
    expect(regions.json['data']).toHaveLength(1);
    expect(regions.json['region_codes']['EU']).toContain('DE');
    await eventually(() =>
      ['deployment.initiated', 'deployment.deploying', 'deployment.active'].every(
        (t) => eventsOf(tenantA, t).length === 1,
      )
        ? true
        : undefined,
    );
    const workload = (docs[1]!.toJS() as { metadata: { name: string } }).metadata.name;
    expect(readFileSync(path.join(file, `${workload}.yaml`), 'utf8')).toContain(
      'aion.io/jurisdiction: de',
    );
  });

  it('answers compliance questions from the starter map, caches them, and takes tenant overrides', async () => {
    const de = await call('GET', '/api/v1/sovereign/compliance/DE', devA);
    expect(de.json['regulations'].map((r: { name: string }) => r.name)).toEqual(['GDPR']);
    expect(de.json['adequate_jurisdictions']).toEqual(expect.arrayContaining(['JP', 'GB', 'CH']));
    expect(de.json['from_cache']).toBe(false);
    expect((await call('GET', '/api/v1/sovereign/compliance/DE', devA)).json['from_cache']).toBe(
      true,
    );
    const cn = await call('GET', '/api/v1/sovereign/compliance/CN', devA);
    expect(cn.json['deployment_config']).toMatchObject({
      data_localization: true,
      processing_jurisdictions: ['CN'],
    });
    const put = await call('PUT', '/api/v1/sovereign/compliance/DE', adminA, {
      regulations: [
        { name: 'GDPR + BDSG', localization_required: true, sources: ['internal policy 7'] },
      ],
    });
    expect(put.status).toBe(200);
    const after = await call('GET', '/api/v1/sovereign/compliance/DE', devA);
    expect(after.json).toMatchObject({
      from_cache: false,
      deployment_config: { data_localization: true },
    });
    expect(
      (await call('GET', '/api/v1/sovereign/compliance/DE', adminB)).json['regulations'][0].name,
    ).toBe('GDPR');
    await eventually(() =>
      eventsOf(tenantA, 'compliance.mapping_created').length ? true : undefined,
    );
    expect((await call('GET', '/api/v1/sovereign/compliance/XX', devA)).json['error_code']).toBe(
      'validation.invalid_argument',
    );
  });

  it('keeps tenants apart, checks permissions and input, and enforces the rule limit under concurrency', async () => {
    const listedB = await call('GET', '/api/v1/sovereign/residency/rules', adminB);
    expect(listedB.json['data']).toEqual([]);
    expect((await call('GET', `/api/v1/sovereign/residency/rules/${deRule}`, adminB)).status).toBe(
      404,
    );
    expect((await call('GET', '/api/v1/sovereign/registry/models', adminB)).json['data']).toEqual(
      [],
    );
    expect(
      (
        await call('POST', '/api/v1/sovereign/residency/rules', devA, {
          data_jurisdiction: 'DE',
          tier: 'pii',
          action: 'require_local',
        })
      ).status,
    ).toBe(403);
    const bad = await call('POST', '/api/v1/sovereign/residency/rules', adminA, {
      data_jurisdiction: 'XX',
      tier: 'pii',
      action: 'allow',
      target_jurisdictions: ['EU', 'QQ'],
    });
    expect(bad.status).toBe(400);
    expect(bad.json['message']).toContain('"XX"');
    expect(bad.json['message']).toContain('"QQ"');
    // Tenant B starts empty: ten concurrent creates against a limit of five.
    const attempts = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        call('POST', '/api/v1/sovereign/residency/rules', adminB, {
          data_jurisdiction: 'FR',
          tier: 'all',
          action: 'deny',
          target_jurisdictions: ['CN'],
          priority: i,
        }),
      ),
    );
    expect(attempts.filter((a) => a.status === 201)).toHaveLength(MAX_RULES);
    const refused = attempts.filter((a) => a.status !== 201);
    expect(refused.every((a) => a.json['error_code'] === 'sovereign.rule_limit_exceeded')).toBe(
      true,
    );
    expect((await call('GET', '/api/v1/sovereign/residency/status', adminB)).json).toMatchObject({
      rule_count: MAX_RULES,
      max_rules: MAX_RULES,
      default_jurisdiction: 'US',
    });
    expect(eventsOf(tenantB, 'residency.rule_created').length).toBeLessThanOrEqual(MAX_RULES);
  });

  it('answers bad input on every sovereign route with a 4xx envelope, and signs receipts only for the orchestrator', async () => {
    const bad: [string, string, unknown][] = [
      [
        'POST',
        '/api/v1/sovereign/residency/enforce',
        { data_context: { jurisdiction: 'DE' }, candidate_jurisdictions: 'US' },
      ],
      [
        'POST',
        '/api/v1/sovereign/residency/rules',
        { data_jurisdiction: 'DE', tier: 'secret', action: 'allow' },
      ],
      ['PUT', `/api/v1/sovereign/residency/rules/${deRule}`, { tier: 'pii' }],
      ['GET', '/api/v1/sovereign/residency/rules/not-a-uuid', undefined],
      ['GET', '/api/v1/sovereign/residency/rules?limit=0', undefined],
      [
        'POST',
        '/api/v1/sovereign/routing/policies',
        { name: 'x', strategy: 'round-robin', primary_jurisdiction: 'DE' },
      ],
      [
        'POST',
        '/api/v1/sovereign/routing/policies',
        {
          name: 'x',
          strategy: 'strict',
          primary_jurisdiction: 'DE',
          secondary_jurisdictions: ['FR'],
        },
      ],
      [
        'POST',
        '/api/v1/sovereign/route',
        { data_context: { jurisdiction: 'DE' }, routing_policy_id: 'nope' },
      ],
      [
        'POST',
        '/api/v1/sovereign/deploy/regional',
        { jurisdiction: 'DE', region: 'EU Central', model_id: 'm', image: 'i' },
      ],
      [
        'POST',
        '/api/v1/sovereign/deploy/regional',
        { jurisdiction: 'DE', region: 'eu', model_id: 'm', image: 'i', replicas: 0 },
      ],
      [
        'POST',
        `/api/v1/sovereign/deployments/${crypto.randomUUID()}/status`,
        { status: 'DEPLOYING' },
      ],
      ['PUT', '/api/v1/sovereign/compliance/DE', { regulations: [] }],
      [
        'POST',
        '/api/v1/sovereign/registry/models',
        { model_ref: '../etc/passwd', jurisdiction: 'EU' },
      ],
      ['GET', '/api/v1/sovereign/registry/models?status=LIVE', undefined],
      ['POST', '/api/v1/sovereign/registry/models/123/approve', {}],
    ];
    for (const [method, url, body] of bad) {
      const r = await call(method, url, adminA, body);
      expect([method, url, r.status, r.json['error_code']]).toEqual([
        method,
        url,
        400,
        'validation.invalid_argument',
      ]);
      expect(r.json['request_id']).toBeTruthy();
    }
    const missing = await call(
      'GET',
      `/api/v1/sovereign/registry/models/${crypto.randomUUID()}`,
      adminA,
    );
    expect([missing.status, missing.json['error_code']]).toEqual([404, 'resource.not_found']);
    const malformed = await httpCall(gateway, 'POST', '/api/v1/sovereign/residency/rules', {
      key: adminA,
      raw: '{"data_jurisdiction":',
    });
    expect([malformed.status, malformed.json['error_code']]).toEqual([
      400,
      'validation.malformed_json',
    ]);
    // SignReceipt is the orchestrator's alone: any other caller is refused.
    const sovereign = createGrpcClient(
      SovereignService,
      `127.0.0.1:${platform.sovereignAi.grpcPort}`,
      {
        tokens: new InternalTokens(platform.internalTokenSecret, 'gateway'),
      },
    );
    try {
      await expect(
        runWithTenant({ tenantId: tenantA, subject: 'x', roles: ['admin'], requestId: 'r' }, () =>
          sovereign.signReceipt({ receiptJson: JSON.stringify({ tenant_id: tenantA }) }),
        ),
      ).rejects.toMatchObject({ code: 'auth.forbidden' });
    } finally {
      sovereign.close();
    }
  });
});

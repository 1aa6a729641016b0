import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import {
  createTestDatabase,
  distributedEnv,
  httpCall,
  migrateTestDatabase,
  onLoopback,
  startServiceProcess,
  testIdentityProvider,
  uniqueName,
  type ServiceProcess,
  type TestDatabase,
} from '@aion/testing';

// SLOs through the gateway's REST API: the gateway and the observability service as separate
// processes (as main.ts starts them) on real PostgreSQL and Kafka.

const BOOTSTRAP = 'e2e-observability-bootstrap-key-0123456789';
const idp = testIdentityProvider();
const tenant = uniqueName('obs-rest');
const other = uniqueName('obs-rest-other');
let db: TestDatabase;
let observability: ServiceProcess;
let gatewayProcess: ServiceProcess;
let gateway: string;
const secretsDir = mkdtempSync(path.join(os.tmpdir(), 'e2e-obs-secrets-'));
const LANGFUSE_KEY = `sk-lf-${randomBytes(8).toString('hex')}`;

const token = (tenantId: string, role: string) =>
  idp.sign({ subject: `${role}-of-${tenantId}`, tenantId, roles: [role], expiresIn: '30m' });
const call = (method: string, url: string, key: string, body?: unknown) =>
  httpCall(gateway, method, url, { key, ...(body === undefined ? {} : { body }) });
const SLOS = '/api/v1/observability/slos';
const ONE_CALL = {
  name: 'gateway-availability',
  service: 'gateway',
  sli: { type: 'availability' },
  objective: 0.995,
  window_days: 30,
};

beforeAll(async () => {
  db = await createTestDatabase('e2eobs');
  migrateTestDatabase(db, ['gateway', 'observability']);
  const secret = randomBytes(24).toString('hex');
  // The deployment's secrets (a mounted Kubernetes Secret in a cluster): the tenant's Langfuse key.
  writeFileSync(path.join(secretsDir, `${tenant}.langfuse`), LANGFUSE_KEY);
  observability = await startServiceProcess('observability', {
    ...distributedEnv(db, secret),
    ...onLoopback('AION_OBSERVABILITY_'),
    // No Alertmanager, Prometheus or Loki here: apps/observability's integration tests run real
    // ones (a stand-in for Loki).
    AION_OBSERVABILITY_ALERTMANAGER_URL: 'http://127.0.0.1:9',
    AION_OBSERVABILITY_PROMETHEUS_URL: 'http://127.0.0.1:9',
    AION_OBSERVABILITY_LOKI_URL: 'http://127.0.0.1:9',
    AION_OBSERVABILITY_SECRETS_DIR: secretsDir,
  });
  gatewayProcess = await startServiceProcess('gateway', {
    ...distributedEnv(db, secret),
    ...onLoopback('AION_GATEWAY_'),
    AION_GATEWAY_OPS_PORT: '0',
    AION_GATEWAY_OBSERVABILITY_ADDRESS: `127.0.0.1:${observability.grpcPort}`,
    // Nothing here calls them.
    AION_GATEWAY_ORCHESTRATOR_ADDRESS: '127.0.0.1:9',
    AION_GATEWAY_SOVEREIGN_ADDRESS: '127.0.0.1:9',
    AION_BOOTSTRAP_ADMIN_KEY: BOOTSTRAP,
    AION_BOOTSTRAP_TENANT: tenant,
    ...idp.gatewayEnv,
  });
  gateway = `http://127.0.0.1:${gatewayProcess.httpPort}`;
}, 120_000);

afterAll(async () => {
  for (const p of [gatewayProcess, observability]) {
    p?.kill('SIGTERM');
    await p?.exited;
  }
  await db?.drop();
  rmSync(secretsDir, { recursive: true, force: true });
});

describe('SLOs through the gateway', () => {
  it('creates the one-call SLO (201) with selectors over the gateway request counter, and serves its rules', async () => {
    const created = await call('POST', SLOS, BOOTSTRAP, ONE_CALL);
    expect(created.status).toBe(201);
    const id = created.json['id'] as string;
    expect(created.headers.get('location')).toBe(`${SLOS}/${id}`);
    expect(created.json).toMatchObject({
      ...ONE_CALL,
      sli: {
        type: 'availability',
        metric: 'aion_http_requests_total',
        good: 'aion_http_requests_total{service="gateway",status!~"5.."}',
        total: 'aion_http_requests_total{service="gateway"}',
      },
    });

    const read = await call('GET', `${SLOS}/${id}`, BOOTSTRAP);
    expect(read.json).toEqual(created.json);
    const rules = await call('GET', `${SLOS}/${id}/rules`, BOOTSTRAP);
    expect(rules.status).toBe(200);
    expect(rules.headers.get('content-type')).toMatch(/^application\/yaml/);
    const file = parse(rules.text) as { groups: { rules: { alert?: string; expr: string }[] }[] };
    const alerts = file.groups[0]!.rules.filter((r) => r.alert);
    expect(alerts.map((a) => a.expr.split('\n')[0])).toEqual([
      `aion_slo:error_ratio:rate1h{aion_slo_id="${id}"} > 0.072`,
      `aion_slo:error_ratio:rate6h{aion_slo_id="${id}"} > 0.03`,
      `aion_slo:error_ratio:rate3d{aion_slo_id="${id}"} > 0.005`,
    ]);

    const again = await call('POST', SLOS, BOOTSTRAP, ONE_CALL);
    expect(again.status).toBe(409);
  });

  it('measures the orchestrator tasks against the blueprint latency targets', async () => {
    const admin = await token(tenant, 'admin');
    const slo = {
      name: 'chat-latency',
      service: 'orchestrator',
      sli: {
        type: 'latency',
        metric: 'aion_task_duration_seconds',
        threshold_ms: 2300,
        matchers: { intent: 'chat', status: 'OK' },
      },
      objective: 0.99,
      window_days: 30,
    };
    const created = await call('POST', SLOS, admin, slo);
    expect(created.status).toBe(201);
    expect(created.json['sli']).toMatchObject({
      good: 'aion_task_duration_seconds_bucket{service="orchestrator",intent="chat",status="OK",le="2.3"}',
    });
    // 2.5 s is a bound of the request histograms, not of the task one.
    const off = await call('POST', SLOS, admin, {
      ...slo,
      name: 'chat-latency-2',
      sli: { ...slo.sli, threshold_ms: 2500 },
    });
    expect(off.status).toBe(400);
  });

  it('answers 400 listing every problem of a bad SLO', async () => {
    const bad = await call('POST', SLOS, BOOTSTRAP, {
      name: 'bad',
      service: 'gateway',
      sli: { type: 'availability', metric: 'http_requests_total' },
      objective: 1,
      window_days: 3,
    });
    expect(bad.status).toBe(400);
    expect(bad.json['error_code']).toBe('validation.invalid_argument');
    const fields = (bad.json['details'] as { field: string }[]).map((d) => d.field).sort();
    expect(fields).toEqual(['objective', 'sli.metric', 'window_days']);
    expect(bad.json['message']).toContain('not a counter Aion emits');
    const latency = await call('POST', SLOS, BOOTSTRAP, {
      ...ONE_CALL,
      name: 'slow',
      sli: { type: 'latency', threshold_ms: 300 },
      objective: 0,
    });
    expect(latency.status).toBe(400);
    expect((latency.json['details'] as { field: string }[]).map((d) => d.field).sort()).toEqual([
      'objective',
      'sli.threshold_ms',
    ]);
  });

  it('lets observers read, only admins (observability:manage) change, and keeps tenants apart', async () => {
    const created = await call('POST', SLOS, BOOTSTRAP, {
      ...ONE_CALL,
      name: 'orchestrator-latency',
      service: 'orchestrator',
      sli: { type: 'latency', threshold_ms: 500 },
    });
    expect(created.status).toBe(201);
    const id = created.json['id'] as string;
    const observer = await token(tenant, 'observer');
    const operator = await token(tenant, 'operator');
    expect((await call('GET', `${SLOS}/${id}`, observer)).status).toBe(200);
    expect((await call('GET', `${SLOS}/${id}/rules`, observer)).status).toBe(200);
    expect((await call('POST', SLOS, operator, { ...ONE_CALL, name: 'x' })).status).toBe(403);
    expect((await call('DELETE', `${SLOS}/${id}`, operator)).status).toBe(403);
    expect((await call('GET', SLOS, '')).status).toBe(401);

    // No snapshot yet (the evaluator's first round is minutes away), in the list's shape.
    const evaluations = await call('GET', `${SLOS}/${id}/evaluations?limit=10`, observer);
    expect([evaluations.status, evaluations.json]).toEqual([
      200,
      { data: [], next_page_token: null, total: 0 },
    ]);

    const stranger = await token(other, 'admin');
    expect((await call('GET', `${SLOS}/${id}`, stranger)).status).toBe(404);
    expect((await call('GET', `${SLOS}/${id}/evaluations`, stranger)).status).toBe(404);
    expect((await call('GET', SLOS, stranger)).json['data']).toEqual([]);
  });

  it('replaces and deletes', async () => {
    const admin = await token(tenant, 'admin');
    const created = await call('POST', SLOS, admin, { ...ONE_CALL, name: 'pipeline' });
    const id = created.json['id'] as string;
    const replaced = await call('PUT', `${SLOS}/${id}`, admin, {
      name: 'pipeline',
      service: 'data-pipeline',
      sli: {
        type: 'error_rate',
        metric: 'aion_kafka_consumer_messages_total',
        matchers: { topic: 'pipeline.job.created' },
      },
      objective: 0.99,
      window_days: 7,
    });
    expect(replaced.status).toBe(200);
    expect(replaced.json['sli']).toMatchObject({
      good: 'aion_kafka_consumer_messages_total{service="data-pipeline",topic="pipeline.job.created",outcome=~"ok|duplicate"}',
    });
    expect((await call('DELETE', `${SLOS}/${id}`, admin)).status).toBe(204);
    expect((await call('GET', `${SLOS}/${id}`, admin)).status).toBe(404);
    expect((await call('GET', `${SLOS}/${id}/rules`, admin)).status).toBe(404);
  });

  it('creates custom alert rules and refuses unparsable PromQL with every problem listed', async () => {
    const RULES = '/api/v1/observability/alert-rules';
    const created = await call('POST', RULES, BOOTSTRAP, {
      name: 'GatewayErrors',
      expression: 'sum(rate(aion_http_requests_total{status=~"5.."}[5m])) > 1',
      for: '5m',
      severity: 'warning',
      annotations: { summary: 'The gateway answers 5xx' },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ for: '5m', severity: 'warning', sync_status: 'pending' });
    const bad = await call('POST', RULES, BOOTSTRAP, {
      name: 'Broken',
      expression: 'rate(aion_http_requests_total) >',
      for: '5 minutes',
      severity: 'warning',
      labels: { tenant_id: 'someone-else' },
    });
    expect(bad.status).toBe(400);
    expect((bad.json['details'] as { field: string }[]).map((d) => d.field).sort()).toEqual([
      'for',
      'labels.tenant_id',
    ]);
    const unparsable = await call('POST', RULES, BOOTSTRAP, {
      name: 'Broken',
      expression: 'rate(aion_http_requests_total) >',
      severity: 'warning',
    });
    expect(unparsable.status).toBe(400);
    expect(unparsable.json['details']).toEqual([
      expect.objectContaining({ field: 'expression', message: 'syntax error at character 33' }),
    ]);
    const listed = await call('GET', RULES, await token(tenant, 'observer'));
    expect((listed.json['data'] as { name: string }[]).map((r) => r.name)).toEqual([
      'GatewayErrors',
    ]);
  });

  it('serves the platform dashboards as Grafana JSON to readers', async () => {
    const observer = await token(tenant, 'observer');
    const list = await call('GET', '/api/v1/observability/dashboards', observer);
    expect(list.status).toBe(200);
    expect((list.json['data'] as { id: string }[]).map((d) => d.id)).toContain(
      'aion-infrastructure',
    );
    const one = await call('GET', '/api/v1/observability/dashboards/aion-infrastructure', observer);
    expect((one.json['model'] as { uid: string }).uid).toBe('aion-infrastructure');
    expect((await call('GET', '/api/v1/observability/dashboards/nope', observer)).status).toBe(404);
  });

  it("keeps a tenant's own dashboards beside the platform's, and refuses bad ones with every problem", async () => {
    const admin = await token(tenant, 'admin');
    const DASHBOARDS = '/api/v1/observability/dashboards';
    const model = {
      panels: [
        {
          type: 'timeseries',
          title: 'Requests',
          targets: [{ refId: 'A', expr: 'sum(rate(aion_http_requests_total[$__rate_interval]))' }],
        },
      ],
    };
    const created = await call('POST', DASHBOARDS, admin, { title: 'Edge', model });
    expect(created.status).toBe(201);
    const id = created.json['id'] as string;
    expect(created.json['model']).toMatchObject({ uid: id, title: 'Edge', panels: model.panels });
    const listed = await call('GET', `${DASHBOARDS}?limit=50`, admin);
    expect((listed.json['data'] as { id: string }[]).map((d) => d.id)).toContain(id);
    const replaced = await call('PUT', `${DASHBOARDS}/${id}`, admin, { title: 'Edge 2', model });
    expect([replaced.status, replaced.json['title']]).toEqual([200, 'Edge 2']);
    const bad = await call('POST', DASHBOARDS, admin, {
      title: 'Broken',
      model: { panels: [{ targets: [{ expr: 'sum(rate(x[5m])' }, { expr: 'rate(x)' }] }] },
    });
    expect(bad.status).toBe(400);
    expect((bad.json['details'] as { field: string }[]).map((d) => d.field)).toEqual([
      'model.panels[0].targets[0].expr',
      'model.panels[0].targets[1].expr',
    ]);
    const platform = await call('DELETE', `${DASHBOARDS}/aion-executive`, admin);
    expect(platform.status).toBe(403);
    const stranger = await token(other, 'admin');
    expect((await call('GET', `${DASHBOARDS}/${id}`, stranger)).status).toBe(404);
    expect((await call('DELETE', `${DASHBOARDS}/${id}`, admin)).status).toBe(204);
    expect((await call('GET', `${DASHBOARDS}/${id}`, admin)).status).toBe(404);
  });

  it("keeps a tenant's LLM tracing settings: off by default, the secret key named, never held, bad ones 400 with every problem", async () => {
    const LLM = '/api/v1/observability/llm-tracing';
    const observer = await token(tenant, 'observer');
    expect((await call('GET', LLM, observer)).json).toEqual({
      enabled: false,
      langfuse_url: '',
      langfuse_jurisdiction: '',
      public_key: '',
      secret_key_ref: '',
      secret_key_set: false,
      unmasked_classifications: ['none'],
      updated_at: null,
    });
    const settings = {
      enabled: true,
      langfuse_url: 'https://langfuse.eu.example',
      langfuse_jurisdiction: 'eu',
      public_key: 'pk-lf-1',
      // The key itself is in the deployment's secrets (see beforeAll), named here.
      secret_key_ref: 'langfuse',
      unmasked_classifications: ['none', 'pii'],
    };
    expect((await call('PUT', LLM, observer, settings)).status).toBe(403);
    const put = await call('PUT', LLM, BOOTSTRAP, settings);
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({
      enabled: true,
      langfuse_jurisdiction: 'EU',
      secret_key_ref: 'langfuse',
      secret_key_set: true,
      unmasked_classifications: ['none', 'pii'],
    });
    expect(JSON.stringify((await call('GET', LLM, observer)).json)).not.toContain(LANGFUSE_KEY);
    const bad = await call('PUT', LLM, BOOTSTRAP, {
      enabled: true,
      langfuse_url: 'ftp://x',
      langfuse_jurisdiction: 'XX',
      secret_key_ref: '../other.langfuse',
    });
    expect(bad.status).toBe(400);
    expect(bad.json['details'].map((d: { field: string }) => d.field)).toEqual([
      'langfuse_url',
      'langfuse_jurisdiction',
      'public_key',
      'secret_key_ref',
    ]);
    expect(
      (await call('PUT', LLM, BOOTSTRAP, { ...settings, unmasked_classifications: ['secret'] }))
        .status,
    ).toBe(400);
    // A key in clear is refused, and not echoed.
    const inClear = await call('PUT', LLM, BOOTSTRAP, { ...settings, secret_key: 'sk-lf-clear' });
    expect(inClear.status).toBe(400);
    expect(JSON.stringify(inClear.json)).not.toContain('sk-lf-clear');
    // A name the deployment has no key under for this tenant: 404, saying where it looked.
    const missing = await call('PUT', LLM, BOOTSTRAP, { ...settings, secret_key_ref: 'absent' });
    expect(missing.status).toBe(404);
    expect(missing.json['error_code']).toBe('resource.not_found');
    expect(missing.json['details']).toEqual([
      expect.objectContaining({ field: 'secret_key_ref', reason: 'not_found' }),
    ]);
    // Turned off, naming nothing.
    const off = await call('PUT', LLM, BOOTSTRAP, { enabled: false });
    expect(off.json).toMatchObject({ enabled: false, secret_key_ref: '', secret_key_set: false });
    // Another tenant's are its own.
    expect((await call('GET', LLM, await token(other, 'admin'))).json['enabled']).toBe(false);
  });

  it('answers 503 for alerts and metrics while Alertmanager and Prometheus are unreachable, 400 for bad PromQL, 401 without credentials', async () => {
    const observer = await token(tenant, 'observer');
    const active = await call('GET', '/api/v1/observability/alerts/active', observer);
    expect(active.status).toBe(503);
    expect(active.json['error_code']).toBe('service.unavailable');
    expect((await call('GET', '/api/v1/observability/alerts/active', '')).status).toBe(401);
    const QUERY = '/api/v1/observability/metrics/query';
    const unparsable = await call('POST', QUERY, observer, { query: 'sum(rate(x[5m])' });
    expect(unparsable.status).toBe(400);
    const noPrometheus = await call('POST', QUERY, observer, { query: 'up' });
    expect(noPrometheus.status).toBe(503);
    const noLoki = await call('POST', '/api/v1/observability/logs/query', observer, {
      query: '{service="gateway"}',
    });
    expect(noLoki.status).toBe(503);
    const health = '/api/v1/observability/engines/health';
    expect((await call('GET', health, observer)).status).toBe(503);
    expect((await call('GET', `${health}?window_seconds=10`, observer)).status).toBe(400);
  });
});

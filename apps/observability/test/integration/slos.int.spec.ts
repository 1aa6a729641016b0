import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { SliKind } from '@aion/contracts';
import { decodeEnvelope, payloadOf } from '@aion/events';
import { eventually, uniqueName, type TestDatabase } from '@aion/testing';
import { migratedDatabase, startObservability } from './running-observability';

// SLO definitions through the observability service's gRPC API, on real PostgreSQL (row-level
// security, the outbox) and Kafka (the relay publishes the events); the generated rule file is
// checked by the real promtool (Debian's prometheus package, installed by tools/infra/install.sh).

const scratch = mkdtempSync(path.join(os.tmpdir(), 'aion-obs-slos-'));
let db: TestDatabase;
let obs: Awaited<ReturnType<typeof startObservability>>;

beforeAll(async () => {
  db = await migratedDatabase('obsslos');
  obs = await startObservability(db);
}, 60_000);

afterAll(async () => {
  await obs?.stop();
  await db?.drop();
  rmSync(scratch, { recursive: true, force: true });
});

const slo = (over: Record<string, unknown> = {}) => ({
  id: '',
  tenantId: '',
  name: 'gateway-availability',
  service: 'gateway',
  sli: SliKind.AVAILABILITY,
  objective: 0.995,
  latencyThresholdMs: 0,
  windowDays: 30,
  metric: '',
  matchers: {},
  goodSelector: '',
  totalSelector: '',
  description: '',
  ...over,
});

/** The events of a tenant in the outbox, once the relay has published them to Kafka. */
async function publishedEvents(tenantId: string) {
  return eventually(async () => {
    const rows = await db.queryAsOwner<{ value: Buffer; published_at: Date | null }>(
      'select value, published_at from obs_outbox where tenant_id = $1 order by seq',
      [tenantId],
    );
    if (rows.some((r) => !r.published_at)) throw new Error('not all published yet');
    return rows.map((r) => decodeEnvelope(r.value));
  }, 20_000);
}

describe('SLOs over gRPC', () => {
  it('creates the one-call SLO with selectors over the gateway request counter, and publishes slo.created', async () => {
    const tenant = uniqueName('obs-a');
    const { slo: created } = await obs.as(tenant, 'admin', (c) => c.createSlo({ slo: slo() }));
    expect(created).toMatchObject({
      tenantId: tenant,
      name: 'gateway-availability',
      sli: SliKind.AVAILABILITY,
      windowDays: 30,
      metric: 'aion_http_requests_total',
      goodSelector: 'aion_http_requests_total{service="gateway",status!~"5.."}',
      totalSelector: 'aion_http_requests_total{service="gateway"}',
    });
    const events = await publishedEvents(tenant);
    expect(events.map((e) => e.type)).toEqual(['slo.created']);
    expect(events[0]!.tenantId).toBe(tenant);
    expect(payloadOf(events[0]!, 'slo.created').slo?.id).toBe(created!.id);
  });

  it('defaults the window to 30 days, refuses a second SLO of the same name', async () => {
    const tenant = uniqueName('obs-b');
    const { slo: created } = await obs.as(tenant, 'admin', (c) =>
      c.createSlo({ slo: slo({ windowDays: 0 }) }),
    );
    expect(created?.windowDays).toBe(30);
    await expect(obs.as(tenant, 'admin', (c) => c.createSlo({ slo: slo() }))).rejects.toMatchObject(
      { code: 'state.conflict' },
    );
  });

  it('lists every problem of a bad SLO and stores nothing', async () => {
    const tenant = uniqueName('obs-c');
    const err = await obs
      .as(tenant, 'admin', (c) =>
        c.createSlo({
          slo: slo({ objective: 1.2, windowDays: 3, metric: 'http_requests_total', service: 'x' }),
        }),
      )
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'validation.invalid_argument' });
    const fields = ((err as { details: { field: string }[] }).details ?? []).map((d) => d.field);
    expect(fields.sort()).toEqual(['objective', 'service', 'sli.metric', 'window_days']);
    const list = await obs.as(tenant, 'admin', (c) => c.listSlos({}));
    expect(list.slos).toEqual([]);
  });

  it('keeps tenants apart: another tenant neither lists, reads, changes nor deletes it', async () => {
    const a = uniqueName('obs-d');
    const b = uniqueName('obs-e');
    const { slo: mine } = await obs.as(a, 'admin', (c) => c.createSlo({ slo: slo() }));
    const id = mine!.id;
    expect((await obs.as(b, 'admin', (c) => c.listSlos({}))).slos).toEqual([]);
    await expect(obs.as(b, 'admin', (c) => c.getSlo({ id }))).rejects.toMatchObject({
      code: 'resource.not_found',
    });
    await expect(
      obs.as(b, 'admin', (c) => c.updateSlo({ slo: slo({ id, objective: 0.5 }) })),
    ).rejects.toMatchObject({ code: 'resource.not_found' });
    await expect(obs.as(b, 'admin', (c) => c.deleteSlo({ id }))).rejects.toMatchObject({
      code: 'resource.not_found',
    });
    await expect(obs.as(b, 'admin', (c) => c.getSloRules({ id }))).rejects.toMatchObject({
      code: 'resource.not_found',
    });
    expect((await obs.as(a, 'observer', (c) => c.getSlo({ id }))).slo?.objective).toBe(0.995);
  });

  it('lets observers read but only observability:manage change', async () => {
    const tenant = uniqueName('obs-f');
    const { slo: created } = await obs.as(tenant, 'admin', (c) => c.createSlo({ slo: slo() }));
    const id = created!.id;
    for (const role of ['observer', 'operator']) {
      await expect(
        obs.as(tenant, role, (c) => c.createSlo({ slo: slo({ name: 'x' }) })),
      ).rejects.toMatchObject({ code: 'auth.forbidden' });
      await expect(obs.as(tenant, role, (c) => c.deleteSlo({ id }))).rejects.toMatchObject({
        code: 'auth.forbidden',
      });
    }
    expect((await obs.as(tenant, 'observer', (c) => c.listSlos({}))).slos).toHaveLength(1);
    await expect(obs.as(tenant, 'anonymous', (c) => c.listSlos({}))).rejects.toMatchObject({
      code: 'auth.forbidden',
    });
  });

  it('updates and deletes with events, and 404s on what is gone', async () => {
    const tenant = uniqueName('obs-g');
    const { slo: created } = await obs.as(tenant, 'admin', (c) => c.createSlo({ slo: slo() }));
    const id = created!.id;
    const { slo: updated } = await obs.as(tenant, 'admin', (c) =>
      c.updateSlo({
        slo: slo({
          id,
          name: 'tasks-latency',
          sli: SliKind.LATENCY,
          latencyThresholdMs: 500,
          matchers: { route: '/v1/tasks' },
        }),
      }),
    );
    expect(updated).toMatchObject({
      id,
      name: 'tasks-latency',
      metric: 'aion_http_request_duration_seconds',
      goodSelector:
        'aion_http_request_duration_seconds_bucket{service="gateway",route="/v1/tasks",le="0.5"}',
    });
    await obs.as(tenant, 'admin', (c) => c.deleteSlo({ id }));
    await expect(obs.as(tenant, 'admin', (c) => c.getSlo({ id }))).rejects.toMatchObject({
      code: 'resource.not_found',
    });
    await expect(obs.as(tenant, 'admin', (c) => c.deleteSlo({ id }))).rejects.toMatchObject({
      code: 'resource.not_found',
    });
    const events = await publishedEvents(tenant);
    expect(events.map((e) => e.type)).toEqual(['slo.created', 'slo.updated', 'slo.deleted']);
    expect(payloadOf(events[2]!, 'slo.deleted').sloId).toBe(id);
  });

  it('serves a rule file that promtool accepts', async () => {
    const tenant = uniqueName('obs-h');
    const { slo: created } = await obs.as(tenant, 'admin', (c) =>
      c.createSlo({ slo: slo({ service: 'orchestrator', objective: 0.999, windowDays: 28 }) }),
    );
    const { yaml } = await obs.as(tenant, 'observer', (c) => c.getSloRules({ id: created!.id }));
    const file = path.join(scratch, 'rules.yaml');
    writeFileSync(file, yaml);
    const check = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
    expect(check.error).toBeUndefined();
    expect(`${check.stdout}${check.stderr}`).toContain('SUCCESS: 17 rules found');
    expect(check.status).toBe(0);
    const parsed = parse(yaml) as { groups: { rules: { labels: Record<string, string> }[] }[] };
    expect(parsed.groups[0]!.rules.every((r) => r.labels['tenant_id'] === tenant)).toBe(true);
  });
});

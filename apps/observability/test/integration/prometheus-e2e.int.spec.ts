import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { AlertSeverity, SliKind } from '@aion/contracts';
import { decodeEnvelope, payloadOf } from '@aion/events';
import {
  eventually,
  freePort,
  uniqueName,
  startAlertmanager,
  startPrometheus,
  type RunningAlertmanager,
  type RunningPrometheus,
  type TestDatabase,
} from '@aion/testing';

import { migratedDatabase, startObservability } from './running-observability';

// The whole alert path on real components: an SLO and a custom rule are written as rule files,
// a real Prometheus reloads and evaluates them, fires the burn-rate page, a real Alertmanager
// calls the service's webhook, and alert.fired is published (PostgreSQL outbox, Kafka) and
// listed as active. The scraped metrics come from a small exposition server in the test that
// stands in for a gateway failing half its requests.

const TOKEN = 'prometheus-e2e-webhook-token-0123456789abc';
const tenant = uniqueName('prom-e2e');
const otherTenant = uniqueName('prom-e2e-other');
let db: TestDatabase;
let obs: Awaited<ReturnType<typeof startObservability>>;
let am: RunningAlertmanager;
let prometheus: RunningPrometheus;
let metrics: Server;
let rulesDir: string;

beforeAll(async () => {
  rulesDir = mkdtempSync(path.join(os.tmpdir(), 'aion-rules-'));
  const started = Date.now();
  // Half of the gateway's requests fail: 10 good and 10 bad per second.
  metrics = createServer((_req, res) => {
    const n = Math.floor((Date.now() - started) / 100);
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    res.end(
      [
        '# TYPE aion_http_requests_total counter',
        `aion_http_requests_total{service="gateway",method="GET",route="/v1/tasks",status="200"} ${n}`,
        `aion_http_requests_total{service="gateway",method="GET",route="/v1/tasks",status="503"} ${n}`,
        '# TYPE aion_tenant_events_total counter',
        `aion_tenant_events_total{tenant_id="${tenant}"} ${n}`,
        `aion_tenant_events_total{tenant_id="${otherTenant}"} ${2 * n}`,
        '',
      ].join('\n'),
    );
  });
  const [metricsPort, promPort, amPort, obsPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  await new Promise<void>((resolve) => metrics.listen(metricsPort, '127.0.0.1', resolve));
  db = await migratedDatabase('obsprom');
  obs = await startObservability(db, {
    AION_OBSERVABILITY_HTTP_PORT: String(obsPort),
    AION_OBSERVABILITY_RULES_DIR: rulesDir,
    AION_OBSERVABILITY_PROMETHEUS_URL: `http://127.0.0.1:${promPort}`,
    AION_OBSERVABILITY_ALERTMANAGER_URL: `http://127.0.0.1:${amPort}`,
    AION_OBSERVABILITY_UPSTREAM_TIMEOUT_MS: '3000',
    AION_OBSERVABILITY_WEBHOOK_TOKEN: TOKEN,
  });
  am = await startAlertmanager({
    port: amPort,
    webhookUrl: `http://127.0.0.1:${obsPort}/v1/alertmanager/webhook`,
    token: TOKEN,
  });
  prometheus = await startPrometheus({
    port: promPort,
    rulesDir,
    targets: [`127.0.0.1:${metricsPort}`],
    alertmanager: `127.0.0.1:${amPort}`,
  });
}, 90_000);

afterAll(async () => {
  await prometheus?.stop();
  await am?.stop();
  await obs?.stop();
  await new Promise((resolve) => metrics?.close(resolve));
  await db?.drop();
  rmSync(rulesDir, { recursive: true, force: true });
});

/** The rule groups Prometheus has loaded. */
async function loadedGroups(): Promise<string[]> {
  const res = await fetch(`${prometheus.url}/api/v1/rules`);
  const body = (await res.json()) as { data: { groups: { name: string }[] } };
  return body.data.groups.map((g) => g.name);
}

const alertEvents = (count: number) =>
  eventually(
    async () => {
      const rows = await db.queryAsOwner<{ value: Buffer; published_at: Date | null }>(
        `select value, published_at from obs_outbox where tenant_id = $1 and event_type = 'alert.fired' order by seq`,
        [tenant],
      );
      if (rows.length < count || rows.some((r) => !r.published_at)) return undefined;
      return rows.map((r) => payloadOf(decodeEnvelope(r.value), 'alert.fired'));
    },
    60_000,
    250,
  );

describe('SLO and custom rules evaluated by a real Prometheus', () => {
  it('loads the rules, fires the fast burn-rate page and the custom alert through Alertmanager, and publishes alert.fired', async () => {
    const { slo } = await obs.as(tenant, 'admin', (c) =>
      c.createSlo({
        slo: {
          name: 'gateway-availability',
          service: 'gateway',
          sli: SliKind.AVAILABILITY,
          objective: 0.995,
          windowDays: 30,
        },
      }),
    );
    const sloId = slo!.id;
    expect(existsSync(path.join(rulesDir, `aion-${tenant}.yml`))).toBe(true);
    expect(await loadedGroups()).toContain(`aion-slo-${sloId}`);

    const { rule } = await obs.as(tenant, 'admin', (c) =>
      c.createAlertRule({
        rule: {
          name: 'TenantEventsFlowing',
          expression: 'sum(rate(aion_tenant_events_total[1m])) > 1',
          severity: AlertSeverity.CRITICAL,
          labels: { team: 'edge' },
          annotations: { summary: 'Events flow' },
        },
      }),
    );
    expect(rule).toMatchObject({ syncStatus: 'synced', syncError: '' });
    // A rule naming another tenant's series is limited to the tenant's own: it never fires.
    await obs.as(tenant, 'admin', (c) =>
      c.createAlertRule({
        rule: {
          name: 'PeekAtOther',
          expression: `aion_tenant_events_total{tenant_id="${otherTenant}"} > 0`,
          severity: AlertSeverity.INFO,
          labels: {},
          annotations: {},
        },
      }),
    );
    expect(await loadedGroups()).toContain(`aion-tenant-${tenant}-custom`);

    const fired = await eventually(
      async () => {
        const events = await alertEvents(2);
        const page = events.find((e) => e.sloId === sloId && e.labels['long_window'] === '1h');
        const custom = events.find((e) => e.alertRuleId === rule!.id);
        return page && custom ? { page, custom } : undefined;
      },
      60_000,
      500,
    );
    expect(fired.page).toMatchObject({ firing: true, burnRate: 14.4 });
    expect(fired.page.labels).toMatchObject({ severity: 'page', tenant_id: tenant });
    expect(fired.custom.labels).toMatchObject({ severity: 'critical', team: 'edge' });
    const firing = (await (await fetch(`${prometheus.url}/api/v1/alerts`)).json()) as {
      data: { alerts: { labels: Record<string, string> }[] };
    };
    const names = firing.data.alerts.map((a) => a.labels['alertname']);
    expect(names).toContain('TenantEventsFlowing');
    expect(names).not.toContain('PeekAtOther');

    // Half the requests fail against a 0.5% budget: a burn rate of 100 in every window so far.
    const burn = await obs.as(tenant, 'observer', (c) => c.getBurnRate({ sloId }));
    expect(burn.windows.map((w) => [w.longWindow, w.shortWindow, w.threshold])).toEqual([
      ['1h', '5m', 14.4],
      ['6h', '30m', 6],
      ['3d', '6h', 1],
    ]);
    const fast = burn.windows[0]!;
    expect(fast.firing).toBe(true);
    expect(fast.longBurnRate).toBeGreaterThan(80);
    expect(fast.longBurnRate).toBeLessThan(120);
    expect(burn.errorRatios['5m']).toBeCloseTo(0.5, 1);
    expect(burn.errorBudgetRemaining).toBeLessThan(-50);
    // A day ago there was no traffic at all.
    expect(Number.isNaN(burn.errorBudgetRemaining1dAgo)).toBe(true);

    const active = await obs.as(tenant, 'observer', (c) => c.listActiveAlerts({}));
    expect(active.alerts.map((a) => a.alertname).sort()).toEqual(
      expect.arrayContaining(['AionSloErrorBudgetBurn', 'TenantEventsFlowing']),
    );
    const other = await obs.as(uniqueName('prom-other'), 'observer', (c) => c.listActiveAlerts({}));
    expect(other.alerts).toEqual([]);
  }, 120_000);

  it("answers PromQL queries with the tenant's own series only, whatever the query names", async () => {
    const query = (q: string, range = false) =>
      obs.as(tenant, 'observer', (c) =>
        c.queryMetrics({
          query: q,
          ...(range
            ? {
                start: timestampFromDate(new Date(Date.now() - 20_000)),
                end: timestampFromDate(new Date()),
                stepSeconds: 5,
              }
            : {}),
        }),
      );
    const tenants = (r: Awaited<ReturnType<typeof query>>) =>
      r.series.map((s) => s.labels['tenant_id']);
    expect(tenants(await query('aion_tenant_events_total'))).toEqual([tenant]);
    // Attempts to escape: another tenant by name, by regex, every series, an aggregation.
    expect(tenants(await query(`aion_tenant_events_total{tenant_id="${otherTenant}"}`))).toEqual(
      [],
    );
    expect(tenants(await query('aion_tenant_events_total{tenant_id=~".+"}'))).toEqual([tenant]);
    // Every series: the tenant's own (its events, its SLO's recordings and alerts), nobody else's.
    const everything = tenants(await query('{__name__=~".+"}'));
    expect(everything.length).toBeGreaterThan(1);
    expect(new Set(everything)).toEqual(new Set([tenant]));
    expect(tenants(await query('sum by (tenant_id) ({__name__=~"aion_.+"})'))).toEqual([tenant]);
    const ranged = await query('rate(aion_tenant_events_total[10s])', true);
    expect(tenants(ranged)).toEqual([tenant]);
    expect(ranged.series[0]!.samples.length).toBeGreaterThan(1);

    await expect(query('rate(aion_tenant_events_total)')).rejects.toMatchObject({
      code: 'validation.invalid_argument',
    });
    // Past Prometheus's grammar, refused by its type checker: still the caller's 400.
    await expect(query('label_replace(aion_tenant_events_total, "a")')).rejects.toMatchObject({
      code: 'validation.invalid_argument',
      message: expect.stringContaining('Prometheus refused the query'),
    });
  });

  it('drops a deleted rule from Prometheus; with Prometheus away, records a failed sync and answers 503 for burn rates', async () => {
    const listed = await obs.as(tenant, 'admin', (c) => c.listAlertRules({}));
    for (const r of listed.rules)
      await obs.as(tenant, 'admin', (c) => c.deleteAlertRule({ id: r.id }));
    expect(await loadedGroups()).not.toContain(`aion-tenant-${tenant}-custom`);

    // Prometheus's grammar takes it, its type checker would not: promtool keeps it out of the
    // file, so Prometheus goes on with the rules it has.
    const { rule: refused } = await obs.as(tenant, 'admin', (c) =>
      c.createAlertRule({
        rule: {
          name: 'WrongArity',
          expression: 'label_replace(aion_dependency_up, "a")',
          severity: AlertSeverity.INFO,
          labels: {},
          annotations: {},
        },
      }),
    );
    expect(refused).toMatchObject({ syncStatus: 'failed' });
    expect(refused!.syncError).toContain('promtool refused');
    expect(refused!.syncError).toContain('label_replace');
    expect(await loadedGroups()).toEqual(
      expect.arrayContaining([expect.stringMatching(/^aion-slo-/)]),
    );
    await obs.as(tenant, 'admin', (c) => c.deleteAlertRule({ id: refused!.id }));

    await prometheus.stop();
    const { rule } = await obs.as(tenant, 'admin', (c) =>
      c.createAlertRule({
        rule: {
          name: 'Later',
          expression: 'vector(1)',
          severity: AlertSeverity.INFO,
          labels: {},
          annotations: {},
        },
      }),
    );
    expect(rule).toMatchObject({ syncStatus: 'failed' });
    expect(rule!.syncError).toContain('Prometheus');
    const { slos } = await obs.as(tenant, 'observer', (c) => c.listSlos({}));
    await expect(
      obs.as(tenant, 'observer', (c) => c.getBurnRate({ sloId: slos[0]!.id })),
    ).rejects.toMatchObject({ code: 'service.unavailable' });
  }, 60_000);
});

import { PLATFORM_METRICS } from '@aion/telemetry';
import { type TestDatabase } from '@aion/testing';
import { dashboardQueries, platformDashboards } from '../../src/core/dashboards';
import { selectedMetrics } from '../../src/core/promql';
import { migratedDatabase, startObservability } from './running-observability';

// Every metric a platform dashboard names is one a running Aion service exports: the names are
// read from the /metrics of a real service host (the observability service, started as main.ts
// starts it), whose registry every service shares (ServiceMetrics, the host's dependency gauges,
// Node's process metrics), plus the domain metrics of PLATFORM_METRICS, which the services that
// own them export (their registrations: platform-metrics.spec.ts; their wiring: the
// orchestrator's task-metrics, the gateway's edge-metrics and the runtime's outbox-lag tests).

let db: TestDatabase;
let obs: Awaited<ReturnType<typeof startObservability>>;

beforeAll(async () => {
  db = await migratedDatabase('obsdash');
  obs = await startObservability(db);
}, 60_000);

afterAll(async () => {
  await obs?.stop();
  await db?.drop();
});

describe('platform dashboards', () => {
  it('name only metrics the services export', async () => {
    const text = await (await fetch(`http://127.0.0.1:${obs.httpPort}/metrics`)).text();
    const exported = new Set<string>();
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, kind]) => ({
      name: name!,
      kind: kind!,
    }));
    expect(types.map((t) => t.name)).toContain('aion_outbox_lag_seconds');
    for (const [name, { kind }] of Object.entries(PLATFORM_METRICS)) types.push({ name, kind });
    for (const { name, kind } of types) {
      exported.add(name);
      if (kind === 'histogram')
        for (const suffix of ['_bucket', '_count', '_sum']) exported.add(`${name}${suffix}`);
    }
    expect(exported.has('aion_http_requests_total')).toBe(true);
    const named = platformDashboards().flatMap((d) =>
      dashboardQueries(d.model).flatMap((q) =>
        selectedMetrics(q.replaceAll('$__rate_interval', '5m')),
      ),
    );
    expect(named.length).toBeGreaterThan(5);
    expect(named.filter((m) => !exported.has(m))).toEqual([]);
  });

  it('are served over gRPC, whole, to any reader', async () => {
    const { dashboards } = await obs.as('dash-tenant', 'observer', (c) => c.listDashboards({}));
    expect(dashboards.map((d) => d.id)).toEqual(platformDashboards().map((d) => d.uid));
    const { dashboard } = await obs.as('dash-tenant', 'observer', (c) =>
      c.getDashboard({ id: 'aion-infrastructure' }),
    );
    expect(dashboard?.model).toMatchObject({ uid: 'aion-infrastructure' });
    await expect(
      obs.as('dash-tenant', 'observer', (c) => c.getDashboard({ id: 'nope' })),
    ).rejects.toMatchObject({ code: 'resource.not_found' });
  });
});

import { decodeEnvelope, payloadOf } from '@aion/events';
import { MODULE_HOST_METRICS, PLATFORM_METRICS } from '@aion/telemetry';
import { eventually, type TestDatabase } from '@aion/testing';
import { dashboardQueries, platformDashboards } from '../../src/core/dashboards';
import { selectedMetrics } from '../../src/core/promql';
import { migratedDatabase, startObservability } from './running-observability';

// Every metric a platform dashboard names is one a running Aion service exports: the names are
// read from the /metrics of a real service host (the observability service, started as main.ts
// starts it), whose registry every service shares (ServiceMetrics, the host's dependency gauges,
// Node's process metrics), plus the domain metrics of PLATFORM_METRICS, which the services that
// own them export (their registrations: platform-metrics.spec.ts; their wiring: the
// orchestrator's task-metrics, the gateway's edge-metrics and the runtime's outbox-lag tests),
// and module-host's of MODULE_HOST_METRICS (checked in its metrics-catalog spec).

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
    for (const [name, { kind }] of Object.entries({ ...PLATFORM_METRICS, ...MODULE_HOST_METRICS }))
      types.push({ name, kind });
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

describe("tenants' dashboards", () => {
  const model = (expr: string) => ({
    panels: [{ type: 'timeseries', title: 'Errors', targets: [{ refId: 'A', expr }] }],
  });

  it('are created, listed after the platform ones, read, replaced and deleted by their tenant', async () => {
    const { dashboard } = await obs.as('team-a', 'admin', (c) =>
      c.createDashboard({
        dashboard: { title: 'Checkout', model: model('sum(rate(aion_http_requests_total[5m]))') },
      }),
    );
    const id = dashboard!.id;
    expect(dashboard).toMatchObject({ tenantId: 'team-a', title: 'Checkout' });
    // Grafana reads the model with the dashboard's uid and title.
    expect(dashboard!.model).toMatchObject({ uid: id, title: 'Checkout' });

    const shipped = platformDashboards().length;
    const all = await obs.as('team-a', 'observer', (c) => c.listDashboards({}));
    expect(all.dashboards.map((d) => d.id)).toEqual([
      ...platformDashboards().map((d) => d.uid),
      id,
    ]);
    expect(all.page?.totalSize).toBe(BigInt(shipped + 1));
    // A page that starts past the platform's holds only the tenant's.
    const paged = await obs.as('team-a', 'observer', (c) =>
      c.listDashboards({ page: { pageSize: shipped } }),
    );
    const rest = await obs.as('team-a', 'observer', (c) =>
      c.listDashboards({ page: { pageSize: shipped, pageToken: paged.page!.nextPageToken } }),
    );
    expect(rest.dashboards.map((d) => d.id)).toEqual([id]);

    const replaced = await obs.as('team-a', 'admin', (c) =>
      c.updateDashboard({
        dashboard: { id, title: 'Checkout v2', model: model('sum(aion_tasks_total)') },
      }),
    );
    expect(replaced.dashboard).toMatchObject({ id, title: 'Checkout v2' });
    const read = await obs.as('team-a', 'observer', (c) => c.getDashboard({ id }));
    expect(read.dashboard?.model).toMatchObject({ title: 'Checkout v2' });

    // Another tenant neither sees nor changes it.
    await expect(obs.as('team-b', 'admin', (c) => c.getDashboard({ id }))).rejects.toMatchObject({
      code: 'resource.not_found',
    });
    await expect(obs.as('team-b', 'admin', (c) => c.deleteDashboard({ id }))).rejects.toMatchObject(
      { code: 'resource.not_found' },
    );
    expect(
      (await obs.as('team-b', 'observer', (c) => c.listDashboards({}))).dashboards.length,
    ).toBe(shipped);

    await obs.as('team-a', 'admin', (c) => c.deleteDashboard({ id }));
    await expect(obs.as('team-a', 'observer', (c) => c.getDashboard({ id }))).rejects.toMatchObject(
      { code: 'resource.not_found' },
    );
    // Each change is an event on observability.events, published through the outbox; another
    // tenant's refused attempts are none.
    const events = await eventually(async () => {
      const rows = await db.queryAsOwner<{ value: Buffer; published_at: Date | null }>(
        `select value, published_at from obs_outbox where event_type like 'dashboard.%' and key = $1 order by seq`,
        [id],
      );
      if (rows.length < 3 || rows.some((r) => !r.published_at)) return undefined;
      return rows.map((r) => decodeEnvelope(r.value));
    }, 20_000);
    expect(events.map((e) => [e.type, e.tenantId])).toEqual([
      ['dashboard.created', 'team-a'],
      ['dashboard.updated', 'team-a'],
      ['dashboard.deleted', 'team-a'],
    ]);
    expect(payloadOf(events[1]!, 'dashboard.updated').dashboard?.title).toBe('Checkout v2');
    expect(payloadOf(events[2]!, 'dashboard.deleted').dashboardId).toBe(id);
  });

  it('refuses bad input with every problem, a taken title, platform dashboards and readers', async () => {
    await expect(
      obs.as('team-c', 'admin', (c) =>
        c.createDashboard({
          dashboard: { title: '', model: { panels: [{ targets: [{ expr: 'rate(up)' }] }] } },
        }),
      ),
    ).rejects.toMatchObject({
      code: 'validation.invalid_argument',
      details: [
        { field: 'title', message: '1 to 200 characters, not only spaces' },
        {
          field: 'model.panels[0].targets[0].expr',
          message: 'rate() needs a range vector, e.g. rate(metric[5m])',
        },
      ],
    });
    await obs.as('team-c', 'admin', (c) =>
      c.createDashboard({ dashboard: { title: 'Ops', model: model('up') } }),
    );
    await expect(
      obs.as('team-c', 'admin', (c) =>
        c.createDashboard({ dashboard: { title: 'Ops', model: model('up') } }),
      ),
    ).rejects.toMatchObject({ code: 'state.conflict' });
    await expect(
      obs.as('team-c', 'admin', (c) =>
        c.updateDashboard({
          dashboard: { id: 'aion-executive', title: 'Mine now', model: model('up') },
        }),
      ),
    ).rejects.toMatchObject({ code: 'auth.forbidden' });
    await expect(
      obs.as('team-c', 'observer', (c) =>
        c.createDashboard({ dashboard: { title: 'Peek', model: model('up') } }),
      ),
    ).rejects.toMatchObject({ code: 'auth.forbidden' });
  });
});

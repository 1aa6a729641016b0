import { parser } from '@prometheus-io/lezer-promql';
import { type TestDatabase } from '@aion/testing';
import { dashboardQueries, platformDashboards } from '../../src/core/dashboards';
import { migratedDatabase, startObservability } from './running-observability';

// Every metric a platform dashboard names is one a running Aion service exports: the names are
// read from the /metrics of a real service host (the observability service, started as main.ts
// starts it), whose registry every service shares (ServiceMetrics, the host's dependency gauges,
// Node's process metrics).

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

/** Metric names a PromQL expression selects (its vector selectors' names). */
function metricsOf(expr: string): string[] {
  const names: string[] = [];
  parser.parse(expr).iterate({
    enter: (node) => {
      if (node.name !== 'VectorSelector') return undefined;
      const id = node.node.getChild('Identifier');
      if (id) names.push(expr.slice(id.from, id.to));
      return false;
    },
  });
  return names;
}

describe('platform dashboards', () => {
  it('name only metrics the services export', async () => {
    const text = await (await fetch(`http://127.0.0.1:${obs.httpPort}/metrics`)).text();
    const exported = new Set<string>();
    for (const [, name, kind] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      exported.add(name!);
      if (kind === 'histogram')
        for (const suffix of ['_bucket', '_count', '_sum']) exported.add(`${name}${suffix}`);
    }
    expect(exported.has('aion_http_requests_total')).toBe(true);
    const named = platformDashboards().flatMap((d) => dashboardQueries(d.model).flatMap(metricsOf));
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

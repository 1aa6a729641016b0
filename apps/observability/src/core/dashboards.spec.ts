import { EMITTED_METRICS, MODULE_HOST_METRICS, PLATFORM_METRICS } from '@aion/telemetry';
import { grafanaSchemaProblems } from '../../test/grafana-schema';
import { dashboardQueries, platformDashboards } from './dashboards';
import { promqlProblems, selectedMetrics } from './promql';

/** What Grafana sends Prometheus for its interval variable. */
const asPrometheusSees = (q: string) => q.replaceAll('$__rate_interval', '5m');

/** Series names of the catalogued metrics (a histogram's are its _bucket, _count and _sum). */
const catalogued = new Set(
  Object.entries({ ...EMITTED_METRICS, ...PLATFORM_METRICS, ...MODULE_HOST_METRICS }).flatMap(
    ([name, m]) =>
      m.kind === 'histogram' ? [`${name}_bucket`, `${name}_count`, `${name}_sum`] : [name],
  ),
);
/** Every service host's own: dependency checks and Node's process metrics (checked live in the integration test). */
const HOST_METRICS = new Set([
  'aion_dependency_up',
  'process_cpu_seconds_total',
  'nodejs_heap_size_used_bytes',
]);

describe('platformDashboards', () => {
  const dashboards = platformDashboards();

  it('are the seven of issue 16, with unique uids, each panel with a query', () => {
    expect(dashboards.map((d) => d.uid)).toEqual([
      'aion-infrastructure',
      'aion-llm-operations',
      'aion-agent-workflow',
      'aion-governance',
      'aion-executive',
      'aion-cost-attribution',
      'aion-security',
    ]);
    for (const d of dashboards) {
      expect(d.model).toMatchObject({ uid: d.uid, title: d.title });
      const panels = (d.model['panels'] as { type: string; targets?: unknown[] }[]).filter(
        (p) => p.type !== 'row',
      );
      expect(panels.length).toBeGreaterThan(3);
      for (const p of panels) expect(p.targets?.length).toBeGreaterThan(0);
    }
  });

  it("are Grafana dashboards by @grafana/schema's Dashboard type", () => {
    expect(
      grafanaSchemaProblems(Object.fromEntries(dashboards.map((d) => [d.uid, d.model]))),
    ).toEqual([]);
  }, 60_000);

  it('the schema check refuses what Grafana would not read', () => {
    const [first] = dashboards;
    const model = { ...first!.model, title: 42, panels: [{ type: 'timeseries', colour: 'red' }] };
    expect(grafanaSchemaProblems({ broken: model })).toEqual([
      expect.stringMatching(/^broken: Type 'number' is not assignable to type 'string'/),
      expect.stringMatching(/^broken: .*'"colour"' does not exist/),
    ]);
  }, 60_000);

  it('hold only PromQL that parses', () => {
    for (const d of dashboards)
      for (const q of dashboardQueries(d.model))
        expect([q, promqlProblems(asPrometheusSees(q))]).toEqual([q, []]);
  });

  it('name only metrics the services emit', () => {
    const named = dashboards.flatMap((d) =>
      dashboardQueries(d.model).flatMap((q) => selectedMetrics(asPrometheusSees(q))),
    );
    expect(named.filter((m) => !catalogued.has(m) && !HOST_METRICS.has(m))).toEqual([]);
    // Every issue-16 metric the platform emits is on some dashboard.
    const shown = new Set(named.map((m) => m.replace(/_(bucket|count|sum)$/, '')));
    expect(Object.keys(PLATFORM_METRICS).filter((m) => !shown.has(m))).toEqual([]);
    // Module hosts' queue, limits and GPUs too (the info gauge and device counts aside).
    const moduleHost = ['aion_module_queue_depth', 'aion_module_host_subprocess_runs_total'];
    const gpus = Object.keys(MODULE_HOST_METRICS).filter((m) => m.startsWith('aion_gpu_'));
    expect([...moduleHost, ...gpus].filter((m) => !shown.has(m))).toEqual([]);
  });

  it('the metric check catches a name nobody emits', () => {
    expect(
      selectedMetrics('sum(rate(aion_taks_total{status="OK"}[5m])) / aion_tasks_total'),
    ).toEqual(['aion_taks_total', 'aion_tasks_total']);
  });
});
